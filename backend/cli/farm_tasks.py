"""`sam2matting farm track` and `farm matte`: one farm task each, logged the farm's way.

Each task prints what it is about to do, a line per frame, and what it wrote, on stdout (the
task log a farm shows); `openjd_progress:` and `openjd_status:` lines update the task's progress
and status on OpenJD farms (AWS Deadline Cloud). Failures end with the message and a hint on
stderr and a non-zero exit code (docs/CLI.md): 2 bad shot file or prompts, 3 a model is not
installed on this worker, 4 frames that cannot be produced, 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sam2matting.backend.cli import exit_codes
from sam2matting.backend.cli.usage import usage_error
from sam2matting.backend.errors import UsageError
from sam2matting.backend.render.patterns import parse_frame_range, sequence_pattern
from sam2matting.protocol.frames import describe

log = logging.getLogger("sam2matting.farm")

SETUP_ERRORS = ("model_unavailable", "checkpoint_invalid")


def run(args: argparse.Namespace) -> int:
    from sam2matting.backend.render.farm_job import FarmJob
    from sam2matting.backend.render.farm_store import FarmError
    from sam2matting.backend.threads import apply_cpu_threads
    from sam2matting.protocol.errors import ProtocolError

    command = f"farm {args.farm_command}"
    try:
        apply_cpu_threads()  # a farm task runs the engine in this process
        frames = parse_frame_range(args.frames)
        job = FarmJob.load(args.shot, args.plate, frames, args.priors)
        task = _track if args.farm_command == "track" else _matte
        return task(job, args)
    except UsageError as exc:
        return usage_error(exc, command)
    except FarmError as exc:
        _fail(command, exc.message, exc.hint)
        return exit_codes.USAGE if exc.bad_input else exit_codes.FAILURE
    except ProtocolError as exc:
        _fail(command, exc.message, exc.hint)
        return exit_codes.SETUP if exc.code.value in SETUP_ERRORS else exit_codes.FAILURE
    except OSError as exc:  # the priors or output folder cannot be written
        _fail(command, str(exc), "Check that the folder exists and this worker may write it.")
        return exit_codes.FAILURE


def _track(job: Any, args: argparse.Namespace) -> int:
    from sam2matting.backend.render.farm_track import run_track
    from sam2matting.backend.render.in_process import scratch_folder

    obj = args.object
    name = job.shot.names.get(obj, f"obj{obj}")
    print(
        f"farm track: shot {job.shot.settings.shot_id}, object {obj} ({name}), frames "
        f"{job.frames[0]}-{job.frames[1]}, plate {job.plate.text}"
    )
    print(f"openjd_status: tracking object {obj} ({name})", flush=True)
    progress = _Progress("prior stored")
    with scratch_folder(args.scratch) as scratch:
        config = _config(args, job, scratch)
        result = run_track(job, obj, config, scratch, progress)
    print(
        f"farm track: object {obj} with tracker {result.tracker}, engine {result.engine}: "
        f"{len(result.written)} priors stored ({_frames(result.written)}), "
        f"{len(result.reused)} kept from an earlier run ({_frames(result.reused)}), "
        f"in {job.priors.object_dir(obj)}"
    )
    if result.skipped:
        _list_skipped(result.skipped, "cannot be tracked (the Matte tasks will report them)")
    if result.skipped and not (result.written or result.reused):
        return exit_codes.PARTIAL
    return exit_codes.OK


def _matte(job: Any, args: argparse.Namespace) -> int:
    from sam2matting.backend.render.farm_matte import run_matte
    from sam2matting.backend.render.in_process import scratch_folder

    output = sequence_pattern(args.output, "output pattern")
    if job.plate.path(job.frames[0]).resolve() == output.path(job.frames[0]).resolve():
        raise UsageError(
            "the output pattern names the plate's files", "Write the mattes to other files."
        )
    chunk = _chunk(job.frames, args.chunk_start, args.chunk_size)
    print(
        f"farm matte: shot {job.shot.settings.shot_id}, frames {chunk[0]}-{chunk[1]} of "
        f"{job.frames[0]}-{job.frames[1]}, objects {_objects(job)}, to {output.text}"
    )
    print(f"openjd_status: matting frames {chunk[0]}-{chunk[1]}", flush=True)
    progress = _Progress("written")
    with scratch_folder(args.scratch) as scratch:
        config = _config(args, job, scratch, list(range(chunk[0], chunk[1] + 1)))
        result = run_matte(job, chunk, output, config, scratch, progress)
    print(
        f"farm matte: frames {chunk[0]}-{chunk[1]} (tracker {result.tracker}, engine "
        f"{result.engine}): {len(result.written)} written ({_frames(result.written)}), "
        f"{len(result.finished)} already finished ({_frames(result.finished)}), "
        f"{len(result.skipped)} not produced"
    )
    if result.skipped:
        _list_skipped(result.skipped, "not produced")
        return exit_codes.PARTIAL
    return exit_codes.OK


def _chunk(frames: Tuple[int, int], start: Optional[int], size: Optional[int]) -> Tuple[int, int]:
    first = frames[0] if start is None else start
    last = frames[1] if size is None else min(frames[1], first + size - 1)
    if size is not None and size < 1:
        raise UsageError(f"--chunk-size must be at least 1, not {size}")
    if not frames[0] <= first <= frames[1]:
        raise UsageError(
            f"--chunk-start {first} is outside the job's frames {frames[0]}-{frames[1]}"
        )
    return first, last


def _config(args: argparse.Namespace, job: Any, scratch: Path, frames: Any = None) -> Any:
    """The backend settings of this task: a private cache, the plate's folders."""
    from sam2matting.backend.config import BackendConfig
    from sam2matting.backend.render.in_process import backend_overrides

    models = None if args.models_dir in (None, "", "-") else Path(args.models_dir)
    roots = job.plate_roots(frames if frames is not None else sorted(job.available()))
    overrides = backend_overrides(scratch / "cache", roots, args.device, models)
    try:
        return BackendConfig.load(args.config, overrides=overrides)
    except ValueError as exc:
        hint = "Fix the config file or the option."
        raise UsageError(f"bad backend setting: {exc}", hint) from exc


class _Progress:
    """One log line per frame, and OpenJD's progress line (a `TaskLog`)."""

    def __init__(self, verb: str) -> None:
        self.verb, self.total, self.done = verb, 1, 0

    def start(self, frames: Sequence[int]) -> None:
        self.total = max(len(frames), 1)
        print(f"to do: {len(frames)} frame(s) ({_frames(frames)})", flush=True)

    def frame(self, frame: int, seconds: float) -> None:
        self.done += 1
        print(f"frame {frame}: {self.verb} ({seconds:.2f} s)")
        print(f"openjd_progress: {min(100.0, 100.0 * self.done / self.total):.1f}", flush=True)


def _objects(job: Any) -> str:
    return ", ".join(f"{o} ({job.shot.names[o]})" for o in job.shot.objects)


def _frames(frames: Any) -> str:
    return describe(frames) if frames else "none"


def _list_skipped(skipped: Dict[int, str], what: str) -> None:
    by_reason: Dict[str, List[int]] = {}
    for frame, why in sorted(skipped.items()):
        by_reason.setdefault(why, []).append(frame)
    print(f"{len(skipped)} frame(s) {what}:", file=sys.stderr)
    for why, frames in by_reason.items():
        print(f"  {describe(frames)}: {why}", file=sys.stderr)


def _fail(command: str, message: str, hint: str) -> None:
    print(f"sam2matting {command}: {message}", file=sys.stderr)
    if hint:
        print(f"  hint: {hint}", file=sys.stderr)
