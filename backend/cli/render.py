"""`sam2matting render`: the farm command. Mattes a plate sequence from a shot file, resumably.

    sam2matting render --plate /shots/sh010/plate/plate.####.exr --frames 1001-1240 \\
        --shot sh010.sam2shot.json -o /shots/sh010/matte/matte.####.exr [--object 2]

A backend runs on a thread of this process (fresh key, private cache under --work-dir) and is
driven over a loopback socket like any host. The shot file's prompts seed the tracker; each
object is tracked from its prompted frame nearest to the frames asked for. Frames whose output
already exists from this shot revision and these objects are not written again (docs/CLI.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Set

from sam2matting.backend.cli import exit_codes
from sam2matting.backend.cli.usage import usage_error
from sam2matting.backend.errors import UsageError
from sam2matting.protocol.frames import describe

if TYPE_CHECKING:  # imported lazily at run time: `--help` must not load the backend
    from sam2matting.backend.render.job import RenderJob
    from sam2matting.protocol.errors import ProtocolError

log = logging.getLogger("sam2matting.render")

SETUP_ERRORS = ("model_unavailable", "checkpoint_invalid")
# Fields of open_shot that come from the shot file's `params`: a bad value there is the file's.
SHOT_FILE_FIELDS = ("tracker_params", "engine_params")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    parser.add_argument(
        "--plate",
        required=True,
        metavar="PATTERN",
        help="plate sequence, e.g. /shots/sh010/plate.####.exr or plate.%%04d.exr",
    )
    parser.add_argument(
        "--frames",
        required=True,
        metavar="FIRST-LAST",
        help="frames to write, e.g. 1001-1240 (real frame numbers)",
    )
    parser.add_argument(
        "--shot",
        required=True,
        type=Path,
        metavar="FILE",
        help="shot file exported by the SAM2Matte node (prompts and objects)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATTERN",
        help="matte sequence to write, e.g. /shots/sh010/matte/matte.####.exr",
    )
    parser.add_argument(
        "--object",
        type=int,
        action="append",
        metavar="ID",
        dest="objects",
        help="render only this object (repeatable; default: every object)",
    )
    parser.add_argument(
        "--tracker",
        help="tracker instead of the shot file's (auto, sam2.1-tiny ... sam2.1-large, flow)",
    )
    parser.add_argument("--engine", help="matting engine instead of the shot file's (auto ...)")
    parser.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument(
        "--work-dir",
        type=Path,
        metavar="DIR",
        help="scratch folder for the backend's cache (default: the system "
        "temp folder); removed when the render ends",
    )
    parser.add_argument("--models-dir", type=Path, help="folder holding model files")
    parser.add_argument(
        "--config", type=Path, help="config file (default: ~/.sam2matting/config.json)"
    )


_EPILOG = """\
exit codes: 0 every frame written (or already finished), 2 bad arguments or shot file,
3 setup (model not installed: run 'sam2matting doctor'), 4 some frames could not be produced
(listed on stderr; re-run after fixing the plate), 1 the render failed (message says why),
130 interrupted. Re-running the same command resumes: finished frames are not written again.

example (one farm task per object):
  sam2matting render --plate /shots/sh010/plate/plate.####.exr --frames 1001-1240 \\
      --shot sh010.sam2shot.json -o /shots/sh010/matte/hero.####.exr --object 1
"""


def run(args: argparse.Namespace) -> int:
    from sam2matting.backend.render import run as render
    from sam2matting.backend.render.in_process import scratch_folder
    from sam2matting.backend.render.job import RenderJob
    from sam2matting.protocol.errors import ProtocolError

    try:
        request = render.prepare(args.plate, args.output, args.frames, args.shot, args.objects)
    except UsageError as exc:
        return usage_error(exc, "render")
    options = render.BackendOptions(
        args.config, args.device, args.models_dir, args.tracker, args.engine
    )
    try:
        with scratch_folder(args.work_dir) as scratch:
            job = RenderJob(request.shot, request.plate, request.output, request.frames, scratch)
            if not job.remaining:
                print(f"render: all {job.count} frames of {request.output.text} are finished")
                return exit_codes.OK
            try:
                render.execute(job, scratch, options, quiet=not args.verbose)
            except ProtocolError as exc:
                return _failed(job, exc)
    except render.SetupError as exc:
        print(f"sam2matting render: {exc}", file=sys.stderr)
        return exit_codes.SETUP
    except OSError as exc:  # an output or scratch folder that cannot be written
        print(f"sam2matting render: {exc}", file=sys.stderr)
        return exit_codes.FAILURE
    return _report(job)


def _report(job: RenderJob) -> int:
    finished = job.count - len(job.remaining)
    print(
        f"render: {job.output.text}: {len(job.written)} frames written, {finished} already "
        f"finished, {len(job.skipped)} not produced (shot {job.shot.settings.shot_id}, "
        f"objects {', '.join(map(str, job.shot.objects))}, tracker {job.tracker}, "
        f"engine {job.engine})"
    )
    if not job.skipped:
        return exit_codes.OK
    _list_skipped(job.skipped)
    return exit_codes.PARTIAL


def _list_skipped(skipped: Dict[int, str]) -> None:
    by_reason: Dict[str, List[int]] = {}
    for frame, why in skipped.items():
        by_reason.setdefault(why, []).append(frame)
    count = f"{len(skipped)} frame{'s' if len(skipped) != 1 else ''}"
    print(f"sam2matting render: {count} not produced:", file=sys.stderr)
    for why, frames in by_reason.items():
        print(f"  {describe(frames)}: {why}", file=sys.stderr)


def _failed(job: RenderJob, exc: ProtocolError) -> int:
    print(f"sam2matting render: {exc.message}\n  hint: {exc.hint}", file=sys.stderr)
    missing: Set[int] = set(job.remaining) - set(job.written)
    if missing:
        print(
            f"  not written: {describe(sorted(missing))} (re-run the same command to resume)",
            file=sys.stderr,
        )
    if exc.code.value in SETUP_ERRORS:
        return exit_codes.SETUP
    if str(exc.details.get("field", "")).startswith(SHOT_FILE_FIELDS):
        return exit_codes.USAGE  # the shot file asks for an option the engine does not take
    return exit_codes.FAILURE
