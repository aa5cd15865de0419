"""Solid shapes as polygons in output-pixel coordinates: smooth blobs, sharp polygons, holes."""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

from sam2matting.backend.matting.synthetic import raster


def blob(
    rng: np.random.Generator,
    centre: Tuple[float, float],
    radius: float,
    roughness: float = 0.25,
    n: int = 256,
) -> np.ndarray:
    """A smooth random closed outline (n, 2): a circle with a few low-frequency harmonics."""
    theta = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 7):
        amp = roughness * float(rng.uniform(0.0, 1.0)) / k
        r += amp * np.cos(k * theta + float(rng.uniform(0.0, 2.0 * np.pi)))
    r = np.maximum(r, 0.2) * radius
    aspect = float(rng.uniform(0.6, 1.0))
    rot = float(rng.uniform(0.0, 2.0 * np.pi))
    x, y = r * np.cos(theta), aspect * r * np.sin(theta)
    c, s = np.cos(rot), np.sin(rot)
    pts = np.stack([c * x - s * y + centre[0], s * x + c * y + centre[1]], axis=1)
    return pts.astype(np.float64)


def sharp_polygon(
    rng: np.random.Generator, centre: Tuple[float, float], radius: float
) -> np.ndarray:
    """A random star-convex polygon with 3-9 sharp corners (man-made objects)."""
    n = int(rng.integers(3, 10))
    theta = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
    r = radius * rng.uniform(0.6, 1.0, n)
    return np.stack([centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta)], axis=1)


def outline_normals(outline: np.ndarray) -> np.ndarray:
    """Unit outward-ish normals of a closed outline (sign follows the polygon's orientation)."""
    tangent = np.roll(outline, -1, axis=0) - np.roll(outline, 1, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    centroid = outline.mean(axis=0)
    # Make normals point away from the centroid on average (outline orientation is random).
    if float(np.sum((outline - centroid) * normal)) < 0.0:
        normal = -normal
    return normal


def edge_centre(
    rng: np.random.Generator, size: Tuple[int, int], radius: float
) -> Tuple[float, float]:
    """A centre for a shape of `radius` whose boundary crosses the tile (h, w)."""
    h, w = size
    angle = float(rng.uniform(0.0, 2.0 * np.pi))
    dist = radius * float(rng.uniform(0.6, 1.05))
    cx = w / 2.0 - dist * np.cos(angle) + float(rng.uniform(-0.25, 0.25)) * w
    cy = h / 2.0 - dist * np.sin(angle) + float(rng.uniform(-0.25, 0.25)) * h
    return cx, cy


def solid_layer(
    rng: np.random.Generator,
    size: Tuple[int, int],
    ss: int,
) -> Tuple[np.ndarray, np.ndarray]:
    """Coverage (h, w) of a solid subject crossing the tile, and its main outline.

    Mostly smooth blobs (bodies, heads), sometimes sharp polygons; a third get holes.
    """
    h, w = size
    radius = float(rng.uniform(0.35, 1.3)) * min(h, w)
    centre = edge_centre(rng, size, radius)
    outline = (
        sharp_polygon(rng, centre, radius)
        if rng.random() < 0.25
        else blob(rng, centre, radius, roughness=float(rng.uniform(0.05, 0.5)))
    )
    cov = raster.canvas(size, ss)
    raster.fill_polygons(cov, [outline], ss, 1)
    if rng.random() < 0.35:
        raster.fill_polygons(cov, holes(rng, size), ss, 0)
    return raster.downsample(cov, ss), outline


def holes(rng: np.random.Generator, size: Tuple[int, int]) -> List[np.ndarray]:
    """A few small outlines to cut out of a solid (gaps between fingers, rings, handles)."""
    h, w = size
    out = []
    for _ in range(int(rng.integers(1, 4))):
        r = float(rng.uniform(0.02, 0.12)) * min(h, w)
        centre = (float(rng.uniform(0, w)), float(rng.uniform(0, h)))
        out.append(blob(rng, centre, r, roughness=0.3, n=96))
    return out
