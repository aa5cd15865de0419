"""Time the learned refiner engine on a 1080p frame with a person-sized band.

    .venv/bin/python benchmarks/refiner_speed.py --device cpu --threads 2
    python3 benchmarks/refiner_speed.py --device cuda          # on the GPU machine

The mask is a standing-person silhouette (head, neck, torso, arms) about 900 px tall; the band
is the engine's default (the band stage's candidate zone, 32 px either side of the edge), tiled
at plate resolution by the native stage. Reports the band (CPU, numpy) and the native stage
(tiles through the refiner) separately. Weights do not change the speed: random weights are used
when none are given.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable, List

import cv2
import numpy as np
import torch

from sam2matting.backend.matting.native import TileLayout
from sam2matting.backend.matting.refiner import weights
from sam2matting.backend.matting.refiner.engine import RefinerEngine, RefinerSolver
from sam2matting.backend.matting.refiner.model import Refiner


def person_mask(h: int = 1080, w: int = 1920) -> np.ndarray:
    """A float32 0/1 standing-person silhouette."""
    m = np.zeros((h, w), np.uint8)
    cx = w // 2
    cv2.ellipse(m, (cx, 230), (85, 110), 0, 0, 360, 1, -1)  # head
    cv2.rectangle(m, (cx - 40, 320), (cx + 40, 380), 1, -1)  # neck
    torso = np.array([[cx - 190, 380], [cx + 190, 380], [cx + 150, h], [cx - 150, h]], np.int32)
    cv2.fillPoly(m, [torso], 1)
    for side in (-1, 1):  # arms hanging down, a little away from the body
        arm = np.array(
            [
                [cx + side * 190, 390],
                [cx + side * 250, 420],
                [cx + side * 290, 900],
                [cx + side * 225, 910],
            ],
            np.int32,
        )
        cv2.fillPoly(m, [arm], 1)
    return m.astype(np.float32)


def timed(fn: Callable[[], torch.Tensor], repeats: int, cuda: bool) -> List[float]:
    times = []
    for i in range(repeats + 1):  # the first run warms up kernels and caches
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        if i:
            times.append(1000.0 * (time.perf_counter() - start))
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (torch)")
    p.add_argument("--weights", type=Path, default=None, help="weights folder (default: random)")
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--max-width", type=float, default=32.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    model = weights.load(args.weights) if args.weights else Refiner()
    solver = RefinerSolver(device, model=model, max_batch=args.batch)
    engine = RefinerEngine(solver, args.max_width, TileLayout(args.tile, 32, args.batch))
    mask = torch.from_numpy(person_mask()).to(device)
    rgb = torch.rand((3, *mask.shape), generator=torch.Generator().manual_seed(0)).to(device)
    trimap = engine.trimap(mask)
    band_ms = timed(lambda: engine.trimap(mask), args.repeats, cuda)
    native_ms = timed(lambda: engine.native.refine(rgb, mask, trimap), args.repeats, cuda)
    alpha = engine.native.refine(rgb, mask, trimap)
    result = {
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "threads": torch.get_num_threads(),
        "tile": args.tile,
        "max_width": args.max_width,
        "tiles": engine.native.last_tile_count,
        "band_pixels": int(((trimap - 0.5).abs() < 0.25).sum()),
        "band_ms": float(np.median(band_ms)),
        "native_ms": float(np.median(native_ms)),
        "native_ms_min": float(np.min(native_ms)),
        "nan": bool(torch.isnan(alpha).any()),
    }
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
