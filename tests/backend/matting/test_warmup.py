"""The warm-up compiles every kernel a frame needs, so the first real frame compiles nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Tuple

# a frame unlike the warm-up's: a procedural dev scene (chain-link fence) under a mask eroded
# 2 px, through the same default engine, in a fresh process that shares the cache
_REAL_FRAME = """
import cv2, numpy as np, torch
from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine
from sam2matting.backend.matting.standalone import ImageMatter
from sam2matting.backend.matting.synthetic.devset import scene_items
rgb, alpha = scene_items("dense", 1, (192, 256))[1].arrays()
mask = cv2.erode((alpha > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
ImageMatter(ClosedFormEngine(), torch.device("cpu"))(rgb, mask)
"""


def _cache(folder: Path) -> Dict[str, Tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def _run(code: str, cache: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)


def test_after_the_warm_up_a_real_frame_compiles_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "numba"
    _run("from sam2matting.backend.matting.warmup import warm_up; warm_up()", cache)
    warmed = _cache(cache)
    modules = {Path(name).name.split(".")[0] for name in warmed}
    assert {"tile_system", "colour_cover", "evidence"} <= modules, modules

    _run(_REAL_FRAME, cache)

    assert _cache(cache) == warmed  # nothing compiled, nothing rewritten


def test_a_frame_the_warm_up_did_not_reach_would_show(tmp_path: Path) -> None:
    # the check above can fail: with an empty cache, the same frame writes kernels
    cache = tmp_path / "numba"
    cache.mkdir()
    _run(_REAL_FRAME, cache)
    assert _cache(cache)
