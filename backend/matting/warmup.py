"""Compile the weight-free engine's kernels before the first frame needs them.

The tile solver, the colour covers and the hold's gradient are numba kernels (`tile_system.py`,
`colour_cover.py`, `evidence.py`), compiled on first use and cached on disk beside the package
(or under NUMBA_CACHE_DIR). On a machine that has never run them, the first frame pays the
compile: about 9 s on 2 cores, against 1.2 s with the cache and 0.4 s after. The installer runs
this once (`python -m sam2matting.backend.matting.warmup`), so an artist's first frame, and a
farm node that shares the install's cache, load the kernels instead of compiling them. A node
with another CPU model compiles its own once (numba keys its cache on the CPU).

The warm-up is the default engine on a small generated frame that reaches every kernel: a soft
disc with strands over a striped ground, under a mask 2 px too wide (so the guard's pools,
mixtures and the edge-fit measure all run).
"""

from __future__ import annotations

import sys
import time
from typing import Tuple

import numpy as np


def warm_up_frame(size: int = 128) -> Tuple[np.ndarray, np.ndarray]:
    """(rgb (H, W, 3) float32, mask (H, W) float32): a small frame every kernel runs on."""
    import cv2

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.hypot(yy - size / 2, xx - size / 2)
    theta = np.arctan2(yy - size / 2, xx - size / 2)
    strands = 0.5 + 0.5 * np.sin(theta * 40)  # hair-like: alpha fades out in strands
    alpha = np.clip((size * 0.3 - r) / 6 + strands * np.clip(size * 0.36 - r, 0, 1), 0, 1)
    ground = np.where(((xx + yy) // 6) % 2 == 0, 0.2, 0.45)[..., None] * np.array([0.6, 0.8, 1.0])
    body = np.array([0.85, 0.6, 0.3], np.float32)
    rgb = alpha[..., None] * body + (1 - alpha[..., None]) * ground
    rgb = rgb + np.random.default_rng(0).normal(0, 0.01, rgb.shape)
    core = (alpha > 0.5).astype(np.uint8)
    mask = cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    return np.clip(rgb, 0, 1).astype(np.float32), mask.astype(np.float32)


def warm_up() -> float:
    """Run the default weight-free engine once on `warm_up_frame`; returns the seconds taken
    (the compile on a cold machine, the cache load on a warm one)."""
    import torch

    from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine
    from sam2matting.backend.matting.standalone import ImageMatter

    start = time.perf_counter()
    rgb, mask = warm_up_frame()
    ImageMatter(ClosedFormEngine(), torch.device("cpu"))(rgb, mask)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.stdout.write(f"matting kernels ready in {warm_up():.1f} s\n")
