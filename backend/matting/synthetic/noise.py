"""Smooth random fields: the raw material of smoke, procedural textures and colour variation."""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np


def fractal_noise(
    rng: np.random.Generator,
    size: Tuple[int, int],
    channels: int = 1,
    base: float = 8.0,
    octaves: int = 5,
    persistence: float = 0.55,
) -> np.ndarray:
    """Value noise summed over octaves, float32 (h, w, channels) normalised to [0, 1].

    `base` is the coarsest feature size in cells across the short side; each octave doubles it.
    """
    h, w = size
    out = np.zeros((h, w, channels), np.float32)
    amp, total = 1.0, 0.0
    for octave in range(octaves):
        cells = base * (2**octave)
        gh = max(2, int(np.ceil(cells * h / min(h, w))) + 1)
        gw = max(2, int(np.ceil(cells * w / min(h, w))) + 1)
        grid = rng.random((gh, gw, channels), dtype=np.float32)
        layer = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        out += amp * layer.reshape(h, w, channels)
        total += amp
        amp *= persistence
    out /= total
    lo = out.min(axis=(0, 1), keepdims=True)
    hi = out.max(axis=(0, 1), keepdims=True)
    normed: np.ndarray = ((out - lo) / np.maximum(hi - lo, 1e-6)).astype(np.float32)
    return normed
