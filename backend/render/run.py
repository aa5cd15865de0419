"""One render from what a user typed to the written frames, for any front end.

`sam2matting render` (backend/cli/render.py) is one front end: it parses arguments, calls
`prepare` and `execute`, and prints. A farm job can call the same two functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from sam2matting.backend.errors import UsageError
from sam2matting.backend.render.in_process import InProcessBackend, backend_overrides
from sam2matting.backend.render.job import RenderJob
from sam2matting.backend.render.patterns import check_within, parse_frame_range, sequence_pattern
from sam2matting.backend.render.shot import RenderShot, load_render_shot
from sam2matting.protocol.frames import SequencePattern

# Loggers that would interleave their per-job info lines with a progress bar.
BACKEND_LOGGERS = ("sam2matting.backend.server", "sam2matting.protocol")


class SetupError(Exception):
    """The backend cannot start with these settings (a bad setting, a missing device)."""


@dataclass(frozen=True)
class RenderRequest:
    """A checked render: which plate, where to, which frames, from which shot file."""

    plate: SequencePattern
    output: SequencePattern
    frames: Tuple[int, int]
    shot: RenderShot


@dataclass(frozen=True)
class BackendOptions:
    """Settings of the render's own backend beyond the user's config file."""

    config_file: Optional[Path] = None
    device: Optional[str] = None
    models_dir: Optional[Path] = None
    tracker: Optional[str] = None  # instead of the shot file's
    engine: Optional[str] = None


def prepare(
    plate: str, output: str, frames: str, shot_file: Path, objects: Optional[Sequence[int]]
) -> RenderRequest:
    """Check what the user asked for against itself and the shot file.

    Raises:
        UsageError: a bad pattern or range, an output over the plate, frames outside the
            shot, or a shot file that cannot be used.
    """
    plate_pattern = sequence_pattern(plate, "plate pattern")
    output_pattern = sequence_pattern(output, "output pattern")
    first, last = parse_frame_range(frames)
    if plate_pattern.path(first).resolve() == output_pattern.path(first).resolve():
        raise UsageError(
            "the output pattern names the plate's files", "Write the mattes to other files."
        )
    shot = load_render_shot(shot_file, objects)
    check_within((first, last), shot.settings.first_frame, shot.settings.last_frame)
    return RenderRequest(plate_pattern, output_pattern, (first, last), shot)


def execute(job: RenderJob, scratch: Path, options: BackendOptions, quiet: bool = True) -> None:
    """Run the render's passes on a backend of this process; `job` records what happened.

    Raises:
        SetupError: the backend cannot start.
        ProtocolError: a failure that is not about one plate frame (the job keeps what it
            wrote; running the same render again resumes).
    """
    cache_root = scratch / "cache"
    job.shot.seed_journal(cache_root)  # the backend restores the shot from it when opening
    try:
        backend = InProcessBackend(options.config_file, backend_settings(job, cache_root, options))
    except ValueError as exc:
        raise SetupError(str(exc)) from exc
    if quiet:
        for name in BACKEND_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    with backend as client:
        job.execute(client, options.tracker, options.engine)


def backend_settings(
    job: RenderJob, cache_root: Path, options: BackendOptions
) -> Dict[str, object]:
    """The user's config, with a private cache, the plate's folders and the given overrides."""
    return backend_overrides(cache_root, job.plate_roots(), options.device, options.models_dir)
