"""Checking a job bundle with openjd-model, the reference implementation of the OpenJD schema.

The template is decoded as the 2023-09 specification (no extensions), the shot's parameter
values are applied, and the job is instantiated (ranges expanded, format strings resolved), as
a farm does when the job is submitted. Imported only where openjd-model is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from openjd.model import (
    DecodeValidationError,
    Job,
    StepParameterSpaceIterator,
    create_job,
    decode_job_template,
    preprocess_job_parameters,
)


def validate_bundle(template: Path, values: Dict[str, str]) -> List[str]:
    """Problems with the template and these parameter values (empty: the job is valid)."""
    try:
        _job(template, values)
    except (DecodeValidationError, ValueError, OSError) as exc:
        return [str(exc)]
    return []


def task_counts(template: Path, values: Dict[str, str]) -> Dict[str, int]:
    """Step name -> number of tasks of the job these values make (for tests and reports)."""
    counts: Dict[str, int] = {}
    for step in _job(template, values).steps:
        space = step.parameterSpace
        counts[step.name] = 1 if space is None else len(StepParameterSpaceIterator(space=space))
    return counts


def _job(template: Path, values: Dict[str, str]) -> Job:
    """The job a farm would create from the template and the values."""
    data = json.loads(template.read_text(encoding="utf-8"))
    decoded = decode_job_template(template=data, supported_extensions=[])
    parameters = preprocess_job_parameters(
        job_template=decoded,
        job_parameter_values=values,
        job_template_dir=template.parent,
        current_working_dir=template.parent,
    )
    return create_job(job_template=decoded, job_parameter_values=parameters)
