"""`sam2matting demo`: a generated shot through the real pipeline, scored against its exact truth.

1. Generates a 1080p shot (hair-like strands, motion blur, a semi-transparent veil over a
   panning textured background) with exact alpha, written as scene-linear half-float EXR plates.
2. Starts `sam2matting serve` as a child process on loopback (own key, own cache).
3. Over ZeroMQ: describe, open the shot, send the frames (by path when the backend shares this
   filesystem, else inline), prompt the first frame (a roto mask by default, or a box and a
   positive point; both derived from the truth, as an artist would draw or click), propagate
   forward.
4. Copies each frame's float EXR matte to DIR/matte/, scores the mattes against the truth
   (SAD, dtSSD) next to a hard mask made from the same matte, writes a preview PNG, prints a
   report, and shuts the backend down.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from sam2matting.backend.cli import exit_codes
from sam2matting.backend.cli.usage import usage_error
from sam2matting.backend.errors import UsageError

if TYPE_CHECKING:
    from sam2matting.backend.cli.demo_run import DemoResult
    from sam2matting.backend.cli.demo_score import Scores
    from sam2matting.backend.cli.demo_shot import DemoShot

# 1080p, as the issue asks; the frame count keeps the whole README command to a few minutes on
# two CPU cores with the weight-free engines (docs/CLI.md has the measurement).
DEFAULT_SIZE = (1920, 1080)
DEFAULT_FRAMES = 12
MAX_FRAMES = 1000
DEFAULT_OUT = Path("out") / "demo"

_EPILOG = """\
The shot is generated at run time with exact ground-truth alpha; plates are written as
scene-linear half-float EXRs. The prompt on the first frame is derived from the truth: a roto
mask (alpha > 0.5, the shape a quick roto gives; the default) or, with --prompt clicks, a box and
one positive point where an artist would click (the weight-free tracker's click seeding is
rough). Without model weights the backend uses its weight-free tracker and engine; with SAM2.1
weights installed it uses them (see --tracker).

exit codes: 0 done, 2 bad arguments, 3 setup (a model or package is missing: run
'sam2matting doctor'), 5 the backend did not come up, 1 anything else (the message says why),
130 interrupted.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    parser.add_argument(
        "--frames",
        type=int,
        default=DEFAULT_FRAMES,
        metavar="N",
        help=f"frames to generate and matte (default {DEFAULT_FRAMES})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"output folder: plates, truth, mattes, preview.png (default {DEFAULT_OUT})",
    )
    parser.add_argument("--tracker", help="tracker (default auto: SAM2.1 if installed, else flow)")
    parser.add_argument("--engine", help="matting engine (default auto: the best available)")
    parser.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated shot")
    parser.add_argument(
        "--prompt",
        choices=("roto", "clicks"),
        default="roto",
        help="first-frame prompt: a roto mask (default) or a box and a positive click",
    )
    parser.add_argument(
        "--size",
        default=f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}",
        metavar="WxH",
        help="frame size (default 1920x1080; smaller sizes are for quick checks)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        size = parse_size(args.size)
        _check_frames(args.frames)
    except UsageError as exc:
        return usage_error(exc, "demo")
    from sam2matting.protocol.errors import ProtocolError

    try:
        return _demo(args, size)
    except (OSError, ProtocolError) as exc:  # the output folder cannot be written, disk full
        print(f"sam2matting demo: {exc}", file=sys.stderr)
        return exit_codes.FAILURE


def _demo(args: argparse.Namespace, size: Tuple[int, int]) -> int:
    out = args.out.expanduser().resolve()
    times = {"started": time.monotonic()}
    shot = _generate(out, args, size)
    times["generated"] = time.monotonic()
    # Private to this user (mode 0700): the backend's connection file and cache.
    with tempfile.TemporaryDirectory(prefix="sam2matting-demo-") as private:
        outcome = _run_backend(shot, args, Path(private))
    if isinstance(outcome, int):
        return outcome
    times["backend"] = time.monotonic()
    return _finish(shot, outcome, times)


def _say(text: str) -> None:
    """A status line: on stderr with the progress bars, so stdout holds only the report."""
    print(text, file=sys.stderr, flush=True)


def _check_frames(count: int) -> None:
    if not 1 <= count <= MAX_FRAMES:
        raise UsageError(f"--frames {count} is out of range", f"Use 1 to {MAX_FRAMES}.")


def parse_size(text: str) -> Tuple[int, int]:
    """'1920x1080' -> (1920, 1080)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if match is None or min(int(match.group(1)), int(match.group(2))) < 64:
        raise UsageError(
            f"bad size {text!r}", "Write WIDTHxHEIGHT, at least 64x64, e.g. 1920x1080."
        )
    return int(match.group(1)), int(match.group(2))


def _generate(out: Path, args: argparse.Namespace, size: Tuple[int, int]) -> DemoShot:
    from sam2matting.backend.cli.demo_shot import generate
    from sam2matting.backend.render.progress import ProgressBar

    _say(f"SAM2Matting demo: generating {args.frames} frames of {size[0]}x{size[1]} in {out}")
    with ProgressBar(args.frames, "generating the shot") as progress:
        return generate(out, args.frames, size, args.seed, progress)


def _run_backend(shot: DemoShot, args: argparse.Namespace, private: Path) -> DemoResult | int:
    """Start the backend, track and matte the shot; an exit code if that fails."""
    from sam2matting.backend.cli.demo_backend import BackendStartError, ServeProcess
    from sam2matting.backend.cli.demo_run import track_shot
    from sam2matting.protocol.errors import ProtocolError

    options: List[str] = []
    for flag, value in (
        ("--tracker", args.tracker),
        ("--engine", args.engine),
        ("--device", args.device),
    ):
        if value:
            options += [flag, value]
    serve = ServeProcess(private, shot.folder / "backend.log", shot.folder, options)
    _say("starting the backend (sam2matting serve on 127.0.0.1) ...")
    try:
        with serve as client:
            return track_shot(client, shot, args.tracker, args.engine, args.prompt)
    except BackendStartError as exc:
        print(f"sam2matting demo: {exc}; the backend said:\n{serve.log_tail()}", file=sys.stderr)
        return exc.exit_code
    except ProtocolError as exc:
        print(
            f"sam2matting demo: {exc.message}\n  hint: {exc.hint}\n  backend log: {serve.log_path}",
            file=sys.stderr,
        )
        return _exit_code(exc.code.value)


def _exit_code(code: str) -> int:
    if code in ("model_unavailable", "checkpoint_invalid"):
        return exit_codes.SETUP
    if code in ("backend_unreachable", "timeout"):
        return exit_codes.BACKEND_UNREACHABLE
    return exit_codes.FAILURE


def _finish(shot: DemoShot, result: DemoResult, times: Dict[str, float]) -> int:
    from sam2matting.backend.cli.demo_preview import pick_frames, write_preview
    from sam2matting.backend.cli.demo_score import plates_and_mattes, score

    scores = score(shot, result.matte)
    picked = pick_frames(shot.frames)
    plates, mattes = plates_and_mattes(shot, result.matte, picked)
    preview = shot.folder / "preview.png"
    write_preview(
        preview,
        plates,
        mattes,
        [f"frame {f}" for f in picked],
        [shot.truth_alpha(f) for f in picked],
    )
    times["done"] = time.monotonic()
    print(report(shot, result, scores, preview, times))
    return exit_codes.OK


def report(
    shot: DemoShot, result: DemoResult, scores: Scores, preview: Path, times: Dict[str, float]
) -> str:
    """The closing summary: what ran, how well (against the exact truth), how fast, where."""
    first, last = shot.frames[0], shot.frames[-1]
    how = "by path" if result.shared else "inline"
    lines = [
        "",
        f"SAM2Matting demo: {len(shot.frames)} frames {first}-{last}, {shot.width}x{shot.height}",
        f"  backend:  tracker {result.tracker}, engine {result.engine}, device {result.device}",
        f"  prompt:   {_prompt_text(shot, result.prompt)} on frame {first}",
        "            (derived from the truth, as an artist would draw or click); frames sent "
        + how,
        "  error against the exact alpha (lower is better):",
        f"    SAD per frame (/1000): matte {scores.sad:.2f}, hard mask {scores.sad_hard:.2f}",
        f"    dtSSD:                 matte {_opt(scores.dtssd)}, hard mask "
        + _opt(scores.dtssd_hard),
        "    (hard mask: the same matte thresholded at 0.5, the baseline a binary mask gives)",
        f"  speed:    {result.frames_per_second:.2f} frames/s tracking + matting (backend)",
        f"  time:     {_durations(times)}",
        f"  plates:   {shot.plate.text} (scene-linear, half float)",
        f"  truth:    {shot.truth.text}",
        f"  mattes:   {result.matte.text} (float alpha: A, obj1.A)",
        f"  preview:  {preview} (rows: plate, matte, over a checkerboard, a hard edge x4)",
    ]
    return "\n".join(lines)


def _durations(times: Dict[str, float]) -> str:
    """'86 s in all (generating 18 s, backend 66 s, scoring 2 s)'."""
    total = times["done"] - times["started"]
    generating = times["generated"] - times["started"]
    backend = times["backend"] - times["generated"]
    rest = times["done"] - times["backend"]
    return (
        f"{total:.0f} s in all (generating {generating:.0f} s, backend {backend:.0f} s, "
        f"scoring {rest:.0f} s)"
    )


def _fmt(values: Tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.0f}" for v in values) + ")"


def _opt(value: Optional[float]) -> str:
    return "n/a (one frame)" if value is None else f"{value:.2f}"


def _prompt_text(shot: DemoShot, kind: str) -> str:
    if kind == "roto":
        return "a roto mask (truth alpha > 0.5)"
    return f"box {_fmt(shot.box)} and positive point {_fmt(shot.point)}"
