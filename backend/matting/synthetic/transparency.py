"""Semi-transparent subjects with smooth alpha below 1: smoke, glass, veils."""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

from sam2matting.backend.matting.synthetic import raster, shapes
from sam2matting.backend.matting.synthetic.noise import fractal_noise


def smoke(rng: np.random.Generator, size: Tuple[int, int], ss: int) -> np.ndarray:
    """Alpha (h, w) of a wispy cloud: fractal noise inside a soft-edged blob, peak below 1."""
    h, w = size
    region = _soft_region(rng, size, ss, sigma=float(rng.uniform(0.04, 0.15)) * min(h, w))
    density = fractal_noise(rng, size, 1, base=float(rng.uniform(1.5, 5.0)), octaves=5)[..., 0]
    density = np.clip((density - rng.uniform(0.2, 0.5)) * rng.uniform(1.5, 3.0), 0.0, 1.0)
    peak = float(rng.uniform(0.3, 0.9))
    out: np.ndarray = np.clip(region * density * peak, 0.0, 1.0).astype(np.float32)
    return out


def glass(rng: np.random.Generator, size: Tuple[int, int], ss: int) -> np.ndarray:
    """Alpha (h, w) of a glass-like object: a hard anti-aliased rim, a faint smooth interior."""
    h, w = size
    radius = float(rng.uniform(0.3, 0.9)) * min(h, w)
    outline = shapes.blob(rng, shapes.edge_centre(rng, size, radius), radius, roughness=0.1)
    cov = raster.canvas(size, ss)
    raster.fill_polygons(cov, [outline], ss, 1)
    body = raster.downsample(cov, ss)
    # Interior opacity varies smoothly (thickness, reflections), the rim is denser.
    inner = float(rng.uniform(0.05, 0.5)) + 0.2 * fractal_noise(rng, size, 1, base=2.0)[..., 0]
    rim_width = max(1, int(rng.integers(1, 6)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rim_width + 1,) * 2)
    core = cv2.erode(body, kernel)
    rim = np.clip(body - core, 0.0, 1.0)
    alpha = core * np.clip(inner, 0.0, 0.95) + rim * float(rng.uniform(0.6, 1.0))
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def _soft_region(
    rng: np.random.Generator, size: Tuple[int, int], ss: int, sigma: float
) -> np.ndarray:
    h, w = size
    radius = float(rng.uniform(0.3, 0.9)) * min(h, w)
    outline = shapes.blob(rng, shapes.edge_centre(rng, size, radius), radius, roughness=0.5)
    cov = raster.canvas(size, ss)
    raster.fill_polygons(cov, [outline], ss, 1)
    region = raster.downsample(cov, ss)
    return cv2.GaussianBlur(region, (0, 0), sigmaX=max(sigma, 0.5))
