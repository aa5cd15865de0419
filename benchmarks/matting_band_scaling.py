"""Is the native-resolution stage band-bound? The same synthetic shot at 1920x1080 and 3840x2160.

The shot (circles over a textured background, anti-aliased edges, defined in resolution-free
units) has 4x the pixels and 2x the edge length at UHD. The unknown band is a fixed number of
plate pixels wide, as the engines make it. A band-bound stage takes about 2x as long at UHD; an
area-bound one 4x. Target: at most 2.5x. Also times the whole weight-free engine, for reference.

    python benchmarks/matting_band_scaling.py --out out/bench/band_scaling.json [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from sam2matting.backend.matting.base import MattingInput, TileSolver
from sam2matting.backend.matting.closed_form import ClosedFormSolver
from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine
from sam2matting.backend.matting.guided import GuidedFilterSolver
from sam2matting.backend.matting.native import NativeStage, TileLayout

SIZES = {"1080p": (1080, 1920), "2160p": (2160, 3840)}
# circles (x, y, radius) in units of the frame width: a dozen objects, long edges
CIRCLES = [
    (0.12, 0.14, 0.07),
    (0.30, 0.30, 0.12),
    (0.42, 0.38, 0.08),
    (0.65, 0.35, 0.13),
    (0.80, 0.18, 0.06),
    (0.90, 0.42, 0.05),
    (0.15, 0.45, 0.05),
    (0.55, 0.12, 0.04),
    (0.25, 0.50, 0.03),
    (0.72, 0.50, 0.04),
    (0.47, 0.51, 0.035),
    (0.95, 0.08, 0.03),
]
BAND = 12  # plate pixels on each side of the edge


def render(height: int, width: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(rgb (H, W, 3) float32, alpha (H, W)): the shot at this resolution."""
    import cv2

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sd = np.full((height, width), np.inf, np.float32)
    for cx, cy, r in CIRCLES:
        d = np.hypot(xx + 0.5 - cx * width, yy + 0.5 - cy * width) - r * width
        sd = np.minimum(sd, d)
    alpha = np.clip(0.5 - sd, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    low = rng.random((9, 16, 3)).astype(np.float32)  # the same texture at any resolution
    texture = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    fg = 0.6 + 0.3 * texture[..., ::-1]
    bg = 0.1 + 0.4 * texture
    rgb = alpha[..., None] * fg + (1.0 - alpha[..., None]) * bg
    return np.clip(rgb, 0, 1).astype(np.float32), alpha.astype(np.float32)


def band_trimap(alpha: np.ndarray, width: int) -> np.ndarray:
    import cv2

    mask = (alpha > 0.5).astype(np.uint8)
    d_in = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 5)
    near = np.where(mask > 0, d_in, d_out) <= width
    return np.where(near, 0.5, mask).astype(np.float32)


def time_call(fn: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> float:
    fn()  # warm-up: numba and cuDNN caches, allocator
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def stage_times(
    solver: TileSolver, layout: TileLayout, device: torch.device, repeats: int
) -> Dict[str, Dict[str, float]]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    out: Dict[str, Dict[str, float]] = {}
    for name, (h, w) in SIZES.items():
        rgb, alpha = render(h, w)
        trimap = torch.from_numpy(band_trimap(alpha, BAND)).to(device)
        rgb_t = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).to(device)
        coarse = (trimap > 0.75).float()
        stage = NativeStage(solver, layout)
        seconds = time_call(partial(stage.refine, rgb_t, coarse, trimap), repeats, sync)
        out[name] = {
            "seconds": seconds,
            "tiles": stage.last_tile_count,
            "band_pixels": int((trimap == 0.5).sum()),
            "pixels": h * w,
        }
    return out


def engine_times(repeats: int) -> Dict[str, Dict[str, float]]:
    engine = ClosedFormEngine()
    out: Dict[str, Dict[str, float]] = {}
    for name, (h, w) in SIZES.items():
        rgb, alpha = render(h, w)
        inp = MattingInput(
            rgb=torch.from_numpy(rgb.transpose(2, 0, 1).copy()),
            mask=torch.from_numpy((alpha > 0.5).astype(np.float32)),
        )
        seconds = time_call(partial(engine.matte, inp), repeats, lambda: None)
        out[name] = {"seconds": seconds, "pixels": h * w, **engine.stats}
    return out


def machine() -> Dict[str, Any]:
    info: Dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("out/bench/matting_band_scaling.json"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--skip-engine", action="store_true", help="time the native stage only")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    results: Dict[str, Any] = {"machine": machine(), "band_px": BAND, "stages": {}}
    # the weight-free engine's native stage, as it runs after its first solve
    engine = ClosedFormEngine()
    cf = ClosedFormSolver(replace(engine.params.second, workers=args.threads))
    results["stages"]["closed_form_cpu"] = stage_times(
        cf, engine.params.native_layout, cpu, args.repeats
    )
    results["stages"]["guided_cpu"] = stage_times(
        GuidedFilterSolver(), TileLayout(128, 32, 64), cpu, args.repeats
    )
    if torch.cuda.is_available():
        results["stages"]["guided_cuda"] = stage_times(
            GuidedFilterSolver(), TileLayout(128, 32, 64), torch.device("cuda"), 5
        )
    if not args.skip_engine:
        results["engine_closed_form_cpu"] = engine_times(1)
    print(f"{'stage':<20} {'1080p s':>9} {'2160p s':>9} {'ratio':>6} {'tiles':>11}")
    for name, t in results["stages"].items():
        ratio = t["2160p"]["seconds"] / t["1080p"]["seconds"]
        t["ratio"] = ratio
        print(
            f"{name:<20} {t['1080p']['seconds']:9.3f} {t['2160p']['seconds']:9.3f} "
            f"{ratio:6.2f} {t['1080p']['tiles']:>5}/{t['2160p']['tiles']:<5}"
        )
    if "engine_closed_form_cpu" in results:
        e = results["engine_closed_form_cpu"]
        e["ratio"] = e["2160p"]["seconds"] / e["1080p"]["seconds"]
        print(
            f"{'engine closed_form':<20} {e['1080p']['seconds']:9.3f} "
            f"{e['2160p']['seconds']:9.3f} {e['ratio']:6.2f}"
        )
    target = results["stages"]["closed_form_cpu"]["ratio"] <= 2.5
    results["target_ratio_le_2_5"] = target
    print(f"target (closed-form native stage ratio <= 2.5): {'met' if target else 'NOT met'}")
    print(json.dumps(results["machine"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
