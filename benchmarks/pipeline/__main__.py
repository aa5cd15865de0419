"""The pipeline benchmark: bare tracker vs in-process compute vs the full server, in one run.

    .venv/bin/python -m benchmarks.pipeline                 # CPU parts (+ GPU part with CUDA)
    .venv/bin/python -m benchmarks.pipeline --load          # also with a busy process on one core
    .venv/bin/python -m benchmarks.pipeline --short         # CI: a few frames, toy sizes
    .venv/bin/python -m benchmarks.pipeline --parts io --sizes 1080p   # I/O: put, prefetch, commit
    .venv/bin/python -m benchmarks.pipeline --parts flow --sizes 1080p --threads 1,2 --load
    python3 -m benchmarks.pipeline --parts gpu --deadline-s 280   # what benchmarks/gpu_run.sh runs
    .venv/bin/python -m benchmarks.pipeline --parts gpu --gpu-device cpu --tiny   # its dry run

Parts: `flow` (flow tracker + closed-form engine at 854x480 and 1920x1080, the demo's generated
shot); `sam2` (SAM2.1 tiny with random weights at a 256 px input on the CPU, with the heads and
the closed-form engine); `io` (io.py: inline put_frames of a 2K frame, the worker's plate wait
with and without the prefetch, the matte commit); `gpu` (gpu.py). Torch's intra-op threads are
the backend's own setting (`SAM2MATTING_CPU_THREADS`, default 1) unless `--threads` lists the
counts to compare (flow part, interleaved). Writes `<out>/pipeline.json` after every measurement
and `<out>/pipeline.png` at the end, and prints the medians and ratios. Timings are not
asserted anywhere: the figures are for docs/BENCHMARKS.md, with the load they were taken under.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import torch

from benchmarks.common import OUT_DIR
from benchmarks.pipeline.backend import Server
from benchmarks.pipeline.cpu import CpuSetup, flow_part, sam2_part
from benchmarks.pipeline.gpu import GpuSetup, gpu_part
from benchmarks.pipeline.io import PUT_SIZE, IoSetup, io_part
from benchmarks.pipeline.report import Results, print_summary
from sam2matting.backend.threads import apply_cpu_threads

FLOW_SIZES = {"480p": (854, 480), "1080p": (1920, 1080)}
SHORT_SIZES = {"96p": (128, 96), "120p": (160, 120)}


def parse(argv: Any = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--parts",
        default=None,
        help="flow,sam2,io,gpu (default: flow,sam2,io, and gpu with CUDA or --short)",
    )
    parser.add_argument(
        "--sizes", default=None, help=f"flow and io parts: of {','.join(FLOW_SIZES)} (default all)"
    )
    parser.add_argument(
        "--threads",
        default=None,
        help="flow part: torch intra-op thread counts to compare, e.g. 1,2 (default: "
        "$SAM2MATTING_CPU_THREADS, else 1)",
    )
    parser.add_argument("--short", action="store_true", help="CI: toy sizes, 3 frames, 1 rep")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--frames", type=int, default=12, help="frames per CPU run")
    parser.add_argument("--load", action="store_true", help="also with a busy process on 1 core")
    parser.add_argument("--sam2-input", type=int, default=256, help="SAM2's input on the CPU")
    parser.add_argument("--engines", default="sam2matting-tiny,closed_form", help="SAM2 part")
    parser.add_argument("--gpu-device", default="cuda")
    parser.add_argument("--models", default="tiny,base_plus", help="GPU part")
    parser.add_argument(
        "--sections",
        default="throughput,latency,memory",
        help="GPU part: which sections, in this order",
    )
    parser.add_argument("--gpu-frames", type=int, default=40)
    parser.add_argument("--prompts", type=int, default=40, help="latency samples")
    parser.add_argument("--scale-frames", type=int, default=2000)
    parser.add_argument("--memory-every", type=int, default=100, help="memory sample interval")
    parser.add_argument("--tiny", action="store_true", help="GPU part at toy sizes (dry run)")
    parser.add_argument(
        "--deadline-s", type=float, default=3600.0, help="start nothing new after this many seconds"
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    if args.parts is None:
        gpu = torch.cuda.is_available() or args.short
        args.parts = "flow,sam2,io,gpu" if gpu else "flow,sam2,io"
    if args.tiny and not args.short:  # a dry run of the GPU part: the same code, a few frames
        args.gpu_frames, args.prompts, args.scale_frames = 8, 5, 40
    if args.short:
        args.reps, args.frames, args.sam2_input, args.load = 1, 3, 64, True
        args.gpu_device, args.tiny, args.models = "cpu", True, "tiny"
        args.gpu_frames, args.prompts, args.scale_frames = 3, 2, 4
    return args


def run(args: argparse.Namespace) -> Results:
    started = time.perf_counter()
    settings: Dict[str, Any] = {
        k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
    }
    results = Results(args.out, settings)
    parts: List[str] = args.parts.split(",")
    apply_cpu_threads()  # the backend's own setting, as `serve` applies it
    threads = [int(t) for t in args.threads.split(",")] if args.threads else []
    with tempfile.TemporaryDirectory(prefix="sam2matting-bench-") as tmp:
        sizes = _sizes(args)
        cpu = CpuSetup(
            work=Path(tmp),
            results=results,
            reps=args.reps,
            frames=args.frames,
            sizes=sizes,
            sam2_size=next(iter(sizes)),
            sam2_input=args.sam2_input,
            load=args.load,
            threads=threads,
        )
        if "flow" in parts:
            flow_part(cpu)
        if "sam2" in parts:
            sam2_part(cpu, args.engines.split(","))
        if "io" in parts:
            _io(cpu, args.short)
        if "gpu" in parts:
            gpu_part(
                GpuSetup(
                    work=Path(tmp),
                    results=results,
                    device=torch.device(args.gpu_device),
                    models=args.models.split(","),
                    frames=args.gpu_frames,
                    prompts=args.prompts,
                    scale_frames=args.scale_frames,
                    every=2 if args.tiny else args.memory_every,
                    deadline=started + args.deadline_s,
                    tiny=args.tiny,
                ),
                args.sections.split(","),
            )
    path = results.save(plot=True)
    print_summary(results)
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return results


def _sizes(args: argparse.Namespace) -> Dict[str, Tuple[int, int]]:
    known = SHORT_SIZES if args.short else FLOW_SIZES
    if not args.sizes or args.short:
        return dict(known)
    names = args.sizes.split(",")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"--sizes: unknown {unknown}; choose from {','.join(known)}")
    return {n: known[n] for n in names}


def _io(cpu: CpuSetup, short: bool) -> None:
    """The I/O part on the largest of the sizes (the demo plate by path)."""
    name = list(cpu.sizes)[-1]
    plate, _ = cpu.plate(name)
    server = Server(cpu.work / "io", "cpu", cpu.work / "models", [cpu.work])
    try:
        io_part(
            IoSetup(
                server=server,
                results=cpu.results,
                reps=cpu.reps,
                put_size=cpu.sizes[name] if short else PUT_SIZE,
                put_frames=cpu.frames,
                plate=plate,
                frames=cpu.frames,
            )
        )
    finally:
        server.close()


def main(argv: Any = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # random weights are never the published files: every load would warn "not verified"
    logging.getLogger("sam2matting.backend.tracking.checkpoints").setLevel(logging.ERROR)
    run(parse(argv))


if __name__ == "__main__":
    main()
