"""Compile the weight-free engine's kernels before the first frame needs them.

The tile solver, the colour covers and the hold's gradient are numba kernels (`tile_system.py`,
`colour_cover.py`, `evidence.py`), compiled on first use and cached on disk beside the package
(or under NUMBA_CACHE_DIR). On a machine that has never run them, the first frame pays the
compile: about 8 s on 2 cores, against 0.7 s with the cache and 0.3 s after. The installer runs
this once (`python -m sam2matting.backend.matting.warmup`), so an artist's first frame, and a
farm node that shares the install's cache, load the kernels instead of compiling them. A node
with another CPU model compiles its own once (numba keys its cache on the CPU).

The warm-up is the default engine on a small generated frame that reaches every kernel: a hair
sample from the training generator under a simulated tracker mask.
"""

from __future__ import annotations

import sys
import time
from typing import Tuple

import numpy as np


def warm_up_frame(size: int = 128) -> Tuple[np.ndarray, np.ndarray]:
    """(rgb (H, W, 3), mask (H, W)) float32: a generated hair sample under a simulated tracker
    mask (`synthetic.sample.make_sample`), which every kernel runs on."""
    from sam2matting.backend.matting.synthetic.sample import make_sample

    sample = make_sample(np.random.default_rng(0), size, kind="hair")
    return sample.image, sample.mask


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
