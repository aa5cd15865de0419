"""Hard-edged objects with exact alpha: sharp polygons (cars, signs, frames), still or moving.

A hard object's matte is 1 inside and 0 outside with a transition of about a pixel (the
anti-aliasing of its edge); with motion blur the transition is exactly as wide as the motion
along the edge's normal, and nowhere else. Coverage is drawn supersampled and area-averaged;
motion blur filters the premultiplied layer (`raster.premultiplied_filter`), so the composite
stays exact.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from sam2matting.backend.matting.synthetic import raster, shapes

Size = Tuple[int, int]


def polygons(rng: np.random.Generator, size: Size, ss: int = 4) -> np.ndarray:
    """Coverage (h, w) of 1-3 sharp polygons, some with a polygonal hole (a window, a frame)."""
    h, w = size
    cov = raster.canvas(size, ss)
    for _ in range(int(rng.integers(1, 4))):
        radius = float(rng.uniform(0.15, 0.35)) * min(h, w)
        centre = (float(rng.uniform(0.25, 0.75)) * w, float(rng.uniform(0.25, 0.75)) * h)
        raster.fill_polygons(cov, [shapes.sharp_polygon(rng, centre, radius)], ss, 1)
        if rng.random() < 0.4:
            hole = shapes.sharp_polygon(rng, centre, radius * float(rng.uniform(0.2, 0.4)))
            raster.fill_polygons(cov, [hole], ss, 0)
    return raster.downsample(cov, ss)


def motion_blurred(
    rng: np.random.Generator, alpha: np.ndarray, fg: np.ndarray
) -> Tuple[np.ndarray, np.ndarray]:
    """(alpha, fg) of the layer moved 4-30 px during the exposure (straight or slightly curved)."""
    path = raster.motion_path(rng, float(rng.uniform(4.0, 30.0)), float(rng.uniform(0.0, 0.3)))
    return raster.premultiplied_filter(alpha, fg, raster.path_kernel(path))
