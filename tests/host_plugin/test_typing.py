"""The adapter (and the rest of the plugin) type-checks against the types-nuke stubs (PyPI).

Runs where mypy and types-nuke are installed (the main dev environment); the same command is
what CI runs: mypy --python-version 3.10 host_plugin/sam2matting_nuke (from the repository root,
so pyproject's strict settings apply; 3.10 is the oldest Python this mypy targets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent


def test_plugin_type_checks_against_types_nuke():
    pytest.importorskip("mypy", reason="mypy is not installed here")
    stubs = [p for p in map(Path, sys.path) if (p / "nuke-stubs" / "__init__.pyi").is_file()]
    if not stubs:
        pytest.skip("types-nuke is not installed here")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-version", "3.10", "host_plugin/sam2matting_nuke"],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout
