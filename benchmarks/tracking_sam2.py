"""SAM2.1 streaming session: time per frame and memory over a long synthetic shot (random weights:
the same FLOPs and memory as the real checkpoints, which no benchmark machine can download).

    python3 benchmarks/tracking_sam2.py --device cuda --model large --frames 300
    .venv/bin/python -m benchmarks.tracking_sam2 --device cpu --model tiny --frames 10 --threads 2
    .venv/bin/python -m benchmarks.tracking_sam2 --device cpu --image-size 64 --frames 40 \
        --threads 1 --objects 2 --stagger 5    # the second object is prompted on frame 5

The plate (1920x1080 by default) is made on demand on the CPU, as the frame store hands frames over;
each step includes moving it to the device, the square resize, SAM2's encoder, memory attention,
decoder and memory encoder (bf16 autocast on CUDA), and the memory pruning.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Dict

import psutil
import torch

from benchmarks.common import print_table, write_result
from benchmarks.tracking_flow_cpu import PanningShot
from sam2matting.backend.model_files import SAM2_TRACKERS
from sam2matting.backend.tracking.base import Prompt
from sam2matting.backend.tracking.sam2_model import (
    SAM2Settings,
    SAM2Tracker,
    build_sam2_video_model,
)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    device = torch.device(args.device)
    entry = SAM2_TRACKERS[f"sam2.1-{args.model}"]
    torch.manual_seed(0)
    model = build_sam2_video_model(entry.config or "", None, device, args.image_size)
    settings = SAM2Settings(memory_window=args.window, offload_state_to_cpu=args.offload)
    shot = PanningShot(args.frames, args.width, args.height)
    session = SAM2Tracker(model, entry.name, settings).open_session(shot)
    for obj in range(args.objects):  # objects side by side, each prompted with a box
        x0 = 40.0 + obj * 150.0
        frame = obj * args.stagger  # a staggered object is tracked before its prompt first
        session.add_prompt(frame, obj + 1, Prompt(box=(x0, 100.0, x0 + 120.0, 300.0)))
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times, held = [], []
    last = time.perf_counter()
    for frame in session.propagate(0, args.frames - 1):
        if device.type == "cuda":
            frame.logits[1].sum().item()  # wait for the step's kernels
        now = time.perf_counter()
        times.append(now - last)
        last = now
        held.append(session.memory_bytes())
    steady = times[min(5, len(times) - 1) :]
    return {
        "model": entry.name,
        "device": str(device),
        "image_size": int(model.image_size),
        "plate": f"{args.width}x{args.height}",
        "objects": args.objects,
        "stagger": args.stagger,
        "offload_state_to_cpu": args.offload,
        "frames": args.frames,
        "median_ms_per_frame": 1000 * statistics.median(steady),
        "frames_per_s": 1 / statistics.median(steady),
        "session_mb_after_10": held[min(10, len(held) - 1)] / 2**20,
        "session_mb_last": held[-1] / 2**20,
        "session_mb_max": max(held) / 2**20,
        "retained_outputs_last": session.retained_outputs(),
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
        "rss_mb": psutil.Process().memory_info().rss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", choices=["tiny", "small", "base_plus", "large"], default="tiny")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--objects", type=int, default=1)
    parser.add_argument(
        "--stagger", type=int, default=0, help="prompt object k on frame k * STAGGER (default 0)"
    )
    parser.add_argument("--window", type=int, default=SAM2Settings.memory_window)
    parser.add_argument("--offload", action="store_true", help="offload_state_to_cpu")
    parser.add_argument("--image-size", type=int, default=None, help="default: the config's 1024")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run(args)
    keys = [
        "model",
        "device",
        "objects",
        "stagger",
        "offload_state_to_cpu",
        "frames",
        "median_ms_per_frame",
        "frames_per_s",
        "session_mb_after_10",
        "session_mb_last",
        "peak_gpu_mb",
    ]
    print_table(keys, [[result[k] for k in keys]])
    name = f"tracking_sam2_{args.model}_{torch.device(args.device).type}"
    print(f"written: {write_result(name, result)}")


if __name__ == "__main__":
    main()
