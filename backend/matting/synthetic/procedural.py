"""Procedural colour textures, so the generators run on a machine with no photographs."""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import cv2
import numpy as np

from sam2matting.backend.matting.synthetic.noise import fractal_noise

Size = Tuple[int, int]


def _palette(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Map a scalar field in [0, 1] through a random 3-colour gradient."""
    colours = rng.random((3, 3), dtype=np.float32)
    t = t[..., None]
    low = colours[0] * (1 - 2 * t) + colours[1] * (2 * t)
    high = colours[1] * (2 - 2 * t) + colours[2] * (2 * t - 1)
    out: np.ndarray = np.where(t < 0.5, low, high).astype(np.float32)
    return out


def _clouds(rng: np.random.Generator, size: Size) -> np.ndarray:
    field = fractal_noise(rng, size, 1, base=float(rng.uniform(1.0, 6.0)))[..., 0]
    return _palette(rng, field)


def _stripes(rng: np.random.Generator, size: Size) -> np.ndarray:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = float(rng.uniform(0, np.pi))
    period = float(rng.uniform(4.0, 60.0))
    warp = fractal_noise(rng, size, 1, base=2.0)[..., 0] * float(rng.uniform(0, 40))
    phase = (np.cos(angle) * xx + np.sin(angle) * yy + warp) * (2 * np.pi / period)
    return _palette(rng, 0.5 + 0.5 * np.sin(phase))


def _blotches(rng: np.random.Generator, size: Size) -> np.ndarray:
    colour = fractal_noise(rng, size, 3, base=float(rng.uniform(4.0, 16.0)), persistence=0.3)
    levels = float(rng.integers(3, 8))
    return (np.floor(colour * levels) / levels).astype(np.float32)


def _grain(rng: np.random.Generator, size: Size) -> np.ndarray:
    base = _clouds(rng, size)
    noise = rng.normal(0.0, float(rng.uniform(0.02, 0.1)), base.shape).astype(np.float32)
    fine = cv2.GaussianBlur(noise, (0, 0), 0.7)
    return np.clip(base + fine, 0.0, 1.0).astype(np.float32)


_KINDS: Dict[str, Callable[[np.random.Generator, Size], np.ndarray]] = {
    "clouds": _clouds,
    "stripes": _stripes,
    "blotches": _blotches,
    "grain": _grain,
}


def texture(rng: np.random.Generator, size: Size) -> np.ndarray:
    """A random float32 (h, w, 3) texture in [0, 1]."""
    kind = list(_KINDS)[int(rng.integers(0, len(_KINDS)))]
    out: np.ndarray = np.clip(_KINDS[kind](rng, size), 0.0, 1.0).astype(np.float32)
    return out
