"""Hair and fur: thin curved strands, sub-pixel wide, anti-aliased by supersampling.

Strands are Bezier curves grown from roots on a subject's outline. Hair comes in clumps that
share a guide curve and fan out; fur is dense, short and follows the outline normal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from sam2matting.backend.matting.synthetic import raster
from sam2matting.backend.matting.synthetic.shapes import outline_normals


@dataclass
class Strands:
    """Polylines in output-pixel coordinates with per-strand width and opacity."""

    lines: np.ndarray  # (k, n, 2) x/y, root first
    thickness: np.ndarray  # (k,) int, in supersampled pixels (1 = 1/ss output pixel)
    opacity: np.ndarray  # (k,) float in (0, 1]: hair is partly translucent

    def __len__(self) -> int:
        return len(self.lines)


def _rot(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate vectors (k, 2) by angles (k,)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]], axis=1)


def grow(
    rng: np.random.Generator,
    roots: np.ndarray,
    directions: np.ndarray,
    lengths: np.ndarray,
    curl: float,
    points: int,
) -> np.ndarray:
    """Curved strands (k, points, 2): cubic Beziers from `roots` along unit `directions`.

    Each third of a strand turns by a random angle of spread `curl` (radians).
    """
    k = len(roots)
    a1 = rng.normal(0.0, curl, k)
    a2 = a1 + rng.normal(0.0, curl, k)
    step = (lengths / 3.0)[:, None]
    p1 = roots + directions * step
    p2 = p1 + _rot(directions, a1) * step
    p3 = p2 + _rot(directions, a2) * step
    t = np.linspace(0.0, 1.0, points)[None, :, None]
    u = 1.0 - t
    ctrl = [c[:, None, :] for c in (roots, p1, p2, p3)]
    return u**3 * ctrl[0] + 3 * u**2 * t * ctrl[1] + 3 * u * t**2 * ctrl[2] + t**3 * ctrl[3]


def _sample_roots(
    rng: np.random.Generator,
    outline: np.ndarray,
    count: int,
    span: float,
    size: Tuple[int, int],
) -> Tuple[np.ndarray, np.ndarray]:
    """Roots and outward normals on a contiguous fraction `span` of the outline in view."""
    normals = outline_normals(outline)
    h, w = size
    margin = 0.15 * min(h, w)
    inside = np.nonzero(
        (outline[:, 0] > -margin)
        & (outline[:, 0] < w + margin)
        & (outline[:, 1] > -margin)
        & (outline[:, 1] < h + margin)
    )[0]
    if len(inside) == 0:  # the outline misses the tile: any part will do
        inside = np.arange(len(outline))
    n = len(inside)
    start = int(rng.integers(0, n))
    idx = inside[(start + rng.uniform(0.0, span * n, count).astype(int)) % n]
    return outline[idx], normals[idx]


def hair(
    rng: np.random.Generator,
    outline: np.ndarray,
    size: Tuple[int, int],
    scale: Optional[float] = None,
) -> Strands:
    """Clumped, long, curved strands on the part of the outline in a tile of `size`.

    Strand lengths are relative to `scale` (default: the tile's short side).
    """
    clumps = int(rng.integers(5, 40))
    per_clump = int(rng.integers(5, 50))
    length_mean = float(rng.uniform(0.08, 0.6)) * (scale or min(size))
    roots, normals = _sample_roots(rng, outline, clumps, float(rng.uniform(0.2, 1.0)), size)
    guide = _rot(normals, rng.normal(0.0, 0.6, clumps))
    # Strands of a clump share their root area and guide direction, then fan out.
    roots = np.repeat(roots, per_clump, axis=0)
    normals = np.repeat(normals, per_clump, axis=0)
    guide = np.repeat(guide, per_clump, axis=0)
    k = len(roots)
    directions = _rot(guide, rng.normal(0.0, 0.15, k))
    # Exponential lengths: density thins out away from the head, as real hair does.
    lengths = length_mean * (rng.exponential(1.0, k) + 0.2)
    base = roots - normals * rng.uniform(0.0, 4.0, (k, 1)) + rng.normal(0.0, 2.0, (k, 2))
    lines = grow(rng, base, directions, lengths, float(rng.uniform(0.05, 0.6)), 24)
    return _finish(rng, lines, thin=True)


def fur(rng: np.random.Generator, outline: np.ndarray, size: Tuple[int, int]) -> Strands:
    """Dense, short strands along the part of the outline in a tile of `size`, pointing out."""
    k = int(rng.integers(200, 1500))
    length_mean = float(rng.uniform(0.02, 0.12)) * min(size)
    roots, normals = _sample_roots(rng, outline, k, float(rng.uniform(0.5, 1.0)), size)
    flow = float(rng.normal(0.0, 0.5))  # fur lies down in one direction
    directions = _rot(normals, flow + rng.normal(0.0, 0.25, k))
    lengths = length_mean * rng.uniform(0.4, 1.4, k)
    base = roots - normals * (lengths * 0.3)[:, None]
    return _finish(rng, grow(rng, base, directions, lengths, 0.15, 8), thin=False)


def flyaways(rng: np.random.Generator, size: Tuple[int, int]) -> Strands:
    """A few long isolated strands crossing the tile (stray hairs, whiskers)."""
    h, w = size
    k = int(rng.integers(1, 8))
    roots = rng.uniform(0.0, 1.0, (k, 2)) * np.array([w, h])
    angle = rng.uniform(0.0, 2.0 * np.pi, k)
    directions = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    lengths = rng.uniform(0.2, 0.8, k) * min(h, w)
    return _finish(rng, grow(rng, roots, directions, lengths, 0.3, 32), thin=True)


def _finish(rng: np.random.Generator, lines: np.ndarray, thin: bool) -> Strands:
    k = len(lines)
    widths = rng.choice([1, 1, 2, 2, 3], size=k) if thin else rng.choice([1, 2, 3, 4], size=k)
    opacity = rng.uniform(0.35, 1.0, size=k)
    return Strands(lines=lines, thickness=widths.astype(np.int32), opacity=opacity)


def render(strands: Strands, size: Tuple[int, int], ss: int, opacity_bins: int = 3) -> np.ndarray:
    """Exact coverage (h, w) of all strands; opacities are binned to keep drawing cheap."""
    h, w = size
    alpha = np.zeros(size, np.float32)
    if not len(strands):
        return alpha
    # Draw only inside the strands' bounding box: at 1080p most of the frame has no hair.
    pad = 2 + int(strands.thickness.max()) // ss
    lo = np.floor(strands.lines.reshape(-1, 2).min(axis=0)).astype(int) - pad
    hi = np.ceil(strands.lines.reshape(-1, 2).max(axis=0)).astype(int) + pad
    x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
    x1, y1 = min(w, int(hi[0])), min(h, int(hi[1]))
    if x1 <= x0 or y1 <= y0:
        return alpha
    lines = strands.lines - np.array([x0, y0], dtype=strands.lines.dtype)
    box = np.zeros((y1 - y0, x1 - x0), np.float32)
    edges = np.linspace(0.0, 1.0, opacity_bins + 1)
    bins = np.clip(np.digitize(strands.opacity, edges) - 1, 0, opacity_bins - 1)
    for b in range(opacity_bins):
        if not np.any(bins == b):
            continue
        level = float(strands.opacity[bins == b].mean())  # each bin at its strands' mean
        for t in np.unique(strands.thickness):
            pick = np.nonzero((bins == b) & (strands.thickness == t))[0]
            if len(pick) == 0:
                continue
            cov = raster.canvas(box.shape, ss)
            raster.draw_polylines(cov, lines[pick], ss, int(t))
            box = raster.over(box, level * raster.downsample(cov, ss))
    alpha[y0:y1, x0:x1] = box
    return alpha
