"""`sam2matting farm`: a shot as a render-farm job (Open Job Description), and its tasks.

    sam2matting farm bundle --shot sh010.sam2shot.json --plate /shots/sh010/plate.####.exr \\
        --frames 1001-1100 --mattes /shots/sh010/matte/matte.####.exr -o /jobs/sh010
    sam2matting farm track ... --object 1          (what each Track task runs)
    sam2matting farm matte ... --chunk-start 1001  (what each Matte task runs)

`bundle` imports nothing heavier than the standard library (the Nuke plugin runs it in a
subprocess); `track` and `matte` load the backend (farm_tasks.py). docs/FARM.md explains the job.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path, PurePath
from typing import Any, Dict, List, Tuple

from sam2matting.backend.cli import exit_codes
from sam2matting.backend.cli.usage import usage_error
from sam2matting.backend.errors import UsageError

TRACK_HOSTS = ("auto", "gpu", "cpu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    sub = parser.add_subparsers(dest="farm_command", metavar="STEP", required=True)
    bundle = sub.add_parser("bundle", help="write the shot's OpenJD job bundle")
    _job_arguments(bundle)
    _bundle_arguments(bundle)
    track = sub.add_parser("track", help="a Track task: track one object, store its priors")
    _job_arguments(track)
    _task_arguments(track)
    track.add_argument(
        "--object", type=int, required=True, metavar="ID", help="the object this task tracks"
    )
    matte = sub.add_parser("matte", help="a Matte task: write the mattes of a chunk of frames")
    _job_arguments(matte)
    _task_arguments(matte)
    matte.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATTERN",
        help="matte sequence to write, e.g. /shots/sh010/matte/matte.####.exr",
    )
    matte.add_argument(
        "--chunk-start",
        type=int,
        metavar="FRAME",
        help="first frame of this task's chunk (default: the job's first)",
    )
    matte.add_argument(
        "--chunk-size",
        type=int,
        metavar="N",
        help="frames in the chunk (default: to the job's last frame)",
    )


def _job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shot",
        required=True,
        type=Path,
        metavar="FILE",
        help="shot file exported by the SAM2Matte node",
    )
    parser.add_argument(
        "--plate",
        required=True,
        metavar="PATTERN",
        help="plate sequence, e.g. /shots/sh010/plate/plate.####.exr",
    )
    parser.add_argument(
        "--frames", required=True, metavar="FIRST-LAST", help="the job's frames, e.g. 1001-1100"
    )


def _task_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--priors",
        required=True,
        type=Path,
        metavar="DIR",
        help="the job's shared folder where Track keeps what Matte needs",
    )
    parser.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--models-dir", help="folder holding model files ('-': the config's)")
    parser.add_argument(
        "--config", type=Path, help="config file (default: ~/.sam2matting/config.json)"
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        metavar="DIR",
        help="folder for the task's private files, removed at its end "
        "(default: the system temp folder)",
    )


def _bundle_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--bundle",
        required=True,
        type=Path,
        metavar="DIR",
        help="folder to write the job bundle to",
    )
    parser.add_argument(
        "--mattes",
        required=True,
        metavar="PATTERN",
        help="matte sequence the job writes, e.g. /shots/sh010/matte.####.exr",
    )
    parser.add_argument(
        "--priors",
        metavar="DIR",
        help="the job's shared folder for what Track keeps for Matte (default: <bundle>/priors)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=10, metavar="N", help="frames per Matte task (default 10)"
    )
    parser.add_argument(
        "--track-host",
        choices=TRACK_HOSTS,
        default="auto",
        help="Track hosts: gpu, cpu, or auto (gpu unless the shot tracks with flow)",
    )
    parser.add_argument(
        "--matte-host", choices=("cpu", "gpu"), default="cpu", help="Matte hosts (default cpu)"
    )
    parser.add_argument(
        "--gpu-memory", type=int, metavar="GIB", help="GPU memory a GPU task needs at least"
    )
    parser.add_argument(
        "--matte-cpus", type=int, metavar="N", help="vCPUs each Matte task asks for"
    )
    parser.add_argument(
        "--worker-env",
        metavar="DIR",
        help="the backend environment (venv) on the workers (default: this one)",
    )
    parser.add_argument(
        "--worker-os",
        choices=("posix", "windows"),
        default="posix",
        help="how --worker-env names its python (default posix: bin/python)",
    )
    parser.add_argument(
        "--worker-python",
        metavar="PATH",
        help="the backend's python on the workers, instead of --worker-env",
    )
    parser.add_argument(
        "--worker-models",
        metavar="DIR",
        help="model folder on the workers (offline; default: their config's)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="device the tasks run on (default auto)",
    )
    parser.add_argument(
        "--opencue",
        action="store_true",
        help="also write opencue_job.xml (needs opencue-pyoutline)",
    )
    parser.add_argument(
        "--opencue-show", metavar="SHOW", help="OpenCue show of that job (default: pyoutline's)"
    )


_EPILOG = """\
steps: 'bundle' writes the job; a farm (or 'openjd run') runs 'track' once per object and then
'matte' once per chunk. Exit codes: 0 done, 2 bad arguments, shot file or prompts, 3 setup
(model not installed on the worker), 4 some frames could not be produced (listed), 1 failed
(message says why). Re-running a task resumes it and writes the same files.

example (then: deadline bundle submit /jobs/sh010, or openjd run, see docs/FARM.md):
  sam2matting farm bundle --shot sh010.sam2shot.json --plate /shots/sh010/plate.####.exr \\
      --frames 1001-1100 --mattes /shots/sh010/matte/matte.####.exr -o /jobs/sh010
"""


def run(args: argparse.Namespace) -> int:
    if args.farm_command == "bundle":
        return _bundle(args)
    from sam2matting.backend.cli import farm_tasks

    return farm_tasks.run(args)


# ---------------------------------------------------------------- bundle


def _bundle(args: argparse.Namespace) -> int:
    from sam2matting.backend.render.farm_bundle import write_bundle

    try:
        spec = bundle_spec(args)
        files = write_bundle(spec, args.bundle)
    except UsageError as exc:
        return usage_error(exc, "farm bundle")
    except ValueError as exc:
        return usage_error(UsageError(str(exc)), "farm bundle")
    except OSError as exc:
        print(f"sam2matting farm bundle: {exc}", file=sys.stderr)
        return exit_codes.FAILURE
    status = _validate(files["template"], files["openjd_parameters"])
    if status != exit_codes.OK:
        return status
    if args.opencue:
        status = _opencue(args, spec)
    chunks = -(-(spec.frames[1] - spec.frames[0] + 1) // spec.chunk_size)
    print(
        f"farm bundle: {args.bundle}: job for shot {spec.shot_id}, frames "
        f"{spec.frames[0]}-{spec.frames[1]}: Track {len(spec.objects)} task(s) on "
        f"{spec.track_host} hosts, then Matte {chunks} task(s) of {spec.chunk_size} frames "
        f"on {spec.matte_host} hosts; mattes {spec.mattes}"
    )
    return status


def bundle_spec(args: argparse.Namespace) -> Any:
    """The bundle's spec from the command line and the shot file (checked, stdlib only)."""
    from sam2matting.backend.render.farm_bundle import BundleSpec, worker_python
    from sam2matting.backend.render.patterns import parse_frame_range, sequence_pattern

    frames = parse_frame_range(args.frames)
    plate = sequence_pattern(args.plate, "plate pattern")
    mattes = sequence_pattern(args.mattes, "matte pattern")
    if plate.path(frames[0]).resolve() == mattes.path(frames[0]).resolve():
        raise UsageError(
            "the matte pattern names the plate's files", "Write the mattes to other files."
        )
    shot_id, tracker, objects = read_shot_file(args.shot, frames)
    bundle = args.bundle.resolve()
    python = args.worker_python or (
        worker_python(args.worker_env, args.worker_os == "windows")
        if args.worker_env
        else sys.executable
    )
    track_host = args.track_host
    if track_host == "auto":
        track_host = "cpu" if tracker == "flow" else "gpu"
    return BundleSpec(
        shot_file=args.shot,
        shot_id=shot_id,
        objects=objects,
        frames=frames,
        plate=_absolute(plate.text),
        mattes=_absolute(mattes.text),
        priors=_absolute(args.priors) if args.priors else PurePath(bundle / "priors"),
        worker_python=python,
        worker_models=args.worker_models or "",
        chunk_size=args.chunk_size,
        track_host=track_host,
        matte_host=args.matte_host,
        device=args.device,
        gpu_memory_gib=args.gpu_memory,
        matte_cpus=args.matte_cpus,
    )


def read_shot_file(path: Path, frames: Tuple[int, int]) -> Tuple[str, str, Tuple[int, ...]]:
    """(shot id, tracker, prompted object ids) of a shot file; the frames checked against it.

    Raises:
        UsageError: the file is missing, damaged, of another version, has no prompts, or the
            frames are outside the shot.
    """
    from sam2matting.backend.render.patterns import check_within
    from sam2matting.backend.shots.records import (
        SHOT_FILE_FORMAT,
        ShotSettings,
        check_version,
        parse,
        read_json,
    )
    from sam2matting.protocol.errors import ProtocolError

    try:
        data = read_json(path)
        check_version(data, SHOT_FILE_FORMAT, str(path))
        settings = parse(str(path), lambda: ShotSettings.from_json(data["shot"]))
        objects = parse(str(path), lambda: sorted({int(p["object_id"]) for p in data["prompts"]}))
    except ProtocolError as exc:
        raise UsageError(f"cannot use the shot file: {exc.message}", exc.hint) from exc
    if not objects:
        raise UsageError(
            f"the shot file {path} has no prompts",
            "Place points or a box on the object in Nuke, then export again.",
        )
    check_within(frames, settings.first_frame, settings.last_frame)
    return settings.shot_id, settings.tracker, tuple(objects)


def _absolute(text: str) -> PurePath:
    return PurePath(Path(text).expanduser().absolute())


def _validate(template: Path, parameters: Path) -> int:
    """Check the bundle with openjd-model, when it is installed (the `farm` extra)."""
    try:
        from sam2matting.backend.render.farm_validate import validate_bundle
    except ImportError as exc:
        print(
            f"farm bundle: not validated: {exc} (install the 'farm' extra: docs/INSTALL.md)",
            file=sys.stderr,
        )
        return exit_codes.OK
    values: Dict[str, str] = json.loads(parameters.read_text(encoding="utf-8"))
    problems: List[str] = validate_bundle(template, values)
    for problem in problems:
        print(f"sam2matting farm bundle: the job does not validate: {problem}", file=sys.stderr)
    return exit_codes.FAILURE if problems else exit_codes.OK


def _opencue(args: argparse.Namespace, spec: Any) -> int:
    try:
        from sam2matting.backend.render.farm_opencue import write_opencue_job
    except ImportError as exc:
        print(f"sam2matting farm bundle: --opencue needs opencue-pyoutline: {exc}", file=sys.stderr)
        return exit_codes.SETUP
    path = write_opencue_job(spec, args.bundle, args.opencue_show)
    print(f"farm bundle: OpenCue job spec {path}")
    return exit_codes.OK
