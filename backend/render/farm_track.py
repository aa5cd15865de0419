"""The farm's Track step: one object tracked through the job's frames, its priors stored.

Tracking is sequential (a tracker's memory runs frame to frame), so one task tracks one object
over every pass the shot's plan gives it, on the same server `Shot` the workstation uses (the
journal seeded from the shot file, the plate referenced by path, the prompts replayed), and
stores the engine's tracker-side phase per frame (`matting/phases.py`). Where the heads engine
runs, its coarse alpha is made here, next to the tracker's features.

Resumable and idempotent: a pass whose frames all have priors of this shot revision, these
models and this pass is not tracked again; a pass re-run writes the same priors.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.device import resolve_device
from sam2matting.backend.render.farm_job import FarmJob, TaskLog
from sam2matting.backend.render.farm_store import FarmError, TrackKey, TrackManifest
from sam2matting.backend.render.plan import TrackPass
from sam2matting.backend.render.shot import load_render_shot
from sam2matting.backend.server import jobs
from sam2matting.backend.server.models import ModelPool
from sam2matting.backend.server.shot import Shot
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import to_ranges

log = logging.getLogger(__name__)

# Errors replaying the shot file's prompts: the file asks for something the tracker refuses.
PROMPT_ERRORS = (ErrorCode.INVALID_FIELD, ErrorCode.NO_PROMPT)
# Errors about one plate file (gone since the plan, damaged, of another size).
PLATE_ERRORS = (
    ErrorCode.BAD_IMAGE,
    ErrorCode.FRAME_SIZE_MISMATCH,
    ErrorCode.FRAME_MISSING,
    ErrorCode.PATH_NOT_ALLOWED,
)


@dataclass
class TrackResult:
    obj: int
    tracker: str = "?"
    engine: str = "?"
    written: List[int] = field(default_factory=list)  # priors stored by this run
    reused: List[int] = field(default_factory=list)  # priors an earlier run stored
    skipped: Dict[int, str] = field(default_factory=dict)  # job frames no task can produce


def run_track(
    job: FarmJob,
    obj: int,
    config: BackendConfig,
    scratch: Path,
    task_log: Optional[TaskLog] = None,
) -> TrackResult:
    """Track one object and store its priors; the manifest is written last.

    Raises:
        FarmError: an unknown object, missing prompted plate frames, prompts the tracker
            refuses, an unreadable plate frame.
        ProtocolError: the tracker or engine cannot run here (missing models), or a bug.
    """
    if obj not in job.shot.objects:
        listing = ", ".join(f"{o} ({job.shot.names[o]})" for o in job.shot.objects)
        raise FarmError(
            f"the shot file has no prompted object {obj}",
            f"Its objects with prompts are: {listing}.",
            bad_input=True,
        )
    plan = job.plan()
    passes = [p for p in plan.passes if obj in p.objects]
    job.priors.clear_manifest(obj)  # until this run finishes, Matte must not trust old results
    shot = _open_shot(job, obj, config, scratch / "cache")
    result = TrackResult(obj, shot.tracker_name, shot.engine_name, skipped=dict(plan.skipped))
    key = job.key(shot.tracker_name, shot.engine_name)
    todo = []
    for track_pass in passes:
        if _pass_done(job, obj, track_pass, key):
            result.reused.extend(track_pass.frames())
        else:
            todo.append(track_pass)
    if task_log is not None:
        task_log.start(sorted({f for p in todo for f in p.frames()}))
    with plate_errors(job):
        if todo:
            _store_plate(shot, job, obj, todo)
            _replay_prompts(shot, obj)
        for track_pass in todo:
            log.info(
                "object %d: tracking from frame %d (%s) over %d-%d",
                obj,
                track_pass.start,
                track_pass.direction,
                track_pass.first,
                track_pass.last,
            )
            _run_pass(job, shot, obj, track_pass, key, result, task_log)
    manifest = TrackManifest(
        obj,
        key,
        to_ranges(sorted(plan.produced)),
        dict(plan.skipped),
        dict(shot.choice.engine_params),
    )
    job.priors.write_manifest(manifest)
    shot.release()
    return result


def _open_shot(job: FarmJob, obj: int, config: BackendConfig, cache_root: Path) -> Shot:
    """The server's shot over a journal holding only this object (names checked now)."""
    load_render_shot(job.shot.path, [obj]).seed_journal(cache_root)
    models = ModelPool(config, resolve_device(config.device))
    settings = job.shot.settings
    return Shot(settings, cache_root / settings.shot_id, config, models)


def _pass_done(job: FarmJob, obj: int, track_pass: TrackPass, key: TrackKey) -> bool:
    return all(
        job.priors.prior_start(obj, frame, key) == track_pass.start for frame in track_pass.frames()
    )


def _store_plate(shot: Shot, job: FarmJob, obj: int, passes: List[TrackPass]) -> None:
    """Reference the plate files the passes need (their headers are checked now)."""
    frames: Set[int] = set(job.shot.prompt_frames[obj])
    for track_pass in passes:
        frames.update(track_pass.frames())
    for frame in sorted(frames):
        shot.store.put_path(frame, job.plate.path(frame), None)


def _replay_prompts(shot: Shot, obj: int) -> None:
    try:
        shot.session  # noqa: B018 - creating the session replays the shot file's prompts
    except ProtocolError as exc:
        if exc.code not in PROMPT_ERRORS:
            raise
        raise FarmError(
            f"object {obj}: a prompt in the shot file cannot be used: {exc.message}",
            "Fix the prompt on the SAM2Matte node in Nuke and export the farm job again.",
            bad_input=True,
        ) from exc


@contextlib.contextmanager
def plate_errors(job: FarmJob) -> Iterator[None]:
    """A plate file that cannot be read becomes a FarmError naming its frame and file."""
    try:
        yield
    except ProtocolError as exc:
        if exc.code not in PLATE_ERRORS:
            raise
        frame = exc.details.get("frame")
        where = f"{job.plate.path(frame)}" if isinstance(frame, int) else job.plate.text
        raise FarmError(
            f"the plate cannot be read: {exc.message}",
            f"Fix or replace {where}, then re-run this task.",
        ) from exc


def _run_pass(
    job: FarmJob,
    shot: Shot,
    obj: int,
    track_pass: TrackPass,
    key: TrackKey,
    result: TrackResult,
    task_log: Optional[TaskLog],
) -> None:
    """Track one pass (as the server's propagation job does) and store every frame's prior."""
    segments = jobs.plan(
        shot, track_pass.start, track_pass.direction, track_pass.first, track_pass.last
    )
    for segment in segments:
        frames = segment.frames()
        started = time.monotonic()
        span = (shot.index(frames[0]), shot.index(frames[-1]))
        tracked_frames = shot.session.propagate(*span, [obj])
        for expected in frames:
            tracked = next(tracked_frames, None)
            got = None if tracked is None else shot.frame_of(tracked.index)
            if tracked is None or got != expected:
                raise ProtocolError(
                    ErrorCode.INTERNAL, f"tracker produced frame {got}, expected {expected}"
                )
            _, priors = shot.track_phase(tracked, [obj])
            job.priors.write_prior(obj, expected, priors.get(obj), key, track_pass.start)
            result.written.append(expected)
            if task_log is not None:
                task_log.frame(expected, time.monotonic() - started)
            started = time.monotonic()
