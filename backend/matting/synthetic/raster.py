"""Supersampled rasterisation and premultiplied filtering: where the exact alpha comes from.

Shapes and strands are drawn as hard 0/1 coverage at `ss` times the output resolution and
area-averaged down, so alpha is the exact coverage fraction of the supersampled drawing
(anti-aliased edges, sub-pixel strands). Blur and motion blur filter the premultiplied layer
(alpha * fg) and alpha with the same kernel, which keeps `image = alpha*fg + (1-alpha)*bg` exact.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np

# cv2 drawing takes fixed-point coordinates with this many fractional bits.
_SHIFT = 4
_ONE = 1 << _SHIFT


def _fixed(points: np.ndarray, ss: int) -> np.ndarray:
    """Output-pixel coordinates (x, y) -> int32 fixed-point supersampled pixel coordinates."""
    # Pixel centres sit at +0.5 in continuous coordinates; cv2 draws at integer centres.
    scaled = (np.asarray(points, dtype=np.float64) * ss - 0.5) * _ONE
    return np.round(scaled).astype(np.int32)


def canvas(size: Tuple[int, int], ss: int) -> np.ndarray:
    """An empty uint8 supersampled coverage canvas for an output of (h, w)."""
    h, w = size
    return np.zeros((h * ss, w * ss), dtype=np.uint8)


def fill_polygons(cov: np.ndarray, polygons: Sequence[np.ndarray], ss: int, value: int = 1) -> None:
    """Fill closed polygons (each (n, 2) x/y in output pixels) into a supersampled canvas."""
    pts = [_fixed(p, ss).reshape(-1, 1, 2) for p in polygons if len(p) >= 3]
    if pts:
        cv2.fillPoly(cov, pts, color=int(value), lineType=cv2.LINE_8, shift=_SHIFT)


def draw_polylines(
    cov: np.ndarray, lines: np.ndarray, ss: int, thickness: int, value: int = 1
) -> None:
    """Draw open polylines ((k, n, 2) x/y in output pixels) `thickness` supersampled px wide."""
    if len(lines) and lines.shape[1] >= 2:
        pts = list(_fixed(lines, ss).reshape(len(lines), -1, 1, 2))
        cv2.polylines(
            cov,
            pts,
            isClosed=False,
            color=int(value),
            thickness=max(1, int(thickness)),
            lineType=cv2.LINE_8,
            shift=_SHIFT,
        )


def downsample(cov: np.ndarray, ss: int) -> np.ndarray:
    """Area-average a 0/1 supersampled canvas to float32 coverage in [0, 1]."""
    h, w = cov.shape[0] // ss, cov.shape[1] // ss
    small = cv2.resize(cov.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return np.clip(small, 0.0, 1.0)


def over(alpha_top: np.ndarray, alpha_bottom: np.ndarray) -> np.ndarray:
    """Coverage of two independent layers stacked: 1 - (1-a)(1-b)."""
    return (1.0 - (1.0 - alpha_top) * (1.0 - alpha_bottom)).astype(np.float32)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 2D Gaussian kernel (defocus)."""
    radius = max(1, int(np.ceil(3.0 * sigma)))
    k1 = cv2.getGaussianKernel(2 * radius + 1, sigma).astype(np.float32)
    return (k1 @ k1.T).astype(np.float32)


def path_kernel(path: np.ndarray) -> np.ndarray:
    """A normalised kernel that averages over a (sub-pixel) motion path of (n, 2) x/y offsets."""
    path = np.asarray(path, dtype=np.float32)
    radius = int(np.ceil(np.abs(path).max())) + 1
    size = 2 * radius + 1
    ss = 8
    cov = np.zeros((size * ss, size * ss), dtype=np.float32)
    pts = _fixed(path + radius + 0.5, ss).reshape(-1, 1, 2)
    cv2.polylines(
        cov, [pts], isClosed=False, color=1.0, thickness=1, lineType=cv2.LINE_8, shift=_SHIFT
    )
    k = cv2.resize(cov, (size, size), interpolation=cv2.INTER_AREA)
    total = float(k.sum())
    if total <= 0.0:
        k = np.zeros((size, size), np.float32)
        k[radius, radius] = 1.0
        return k
    return (k / total).astype(np.float32)


def premultiplied_filter(
    alpha: np.ndarray, fg: np.ndarray, kernel: np.ndarray
) -> Tuple[np.ndarray, np.ndarray]:
    """Filter a layer as light would (defocus, motion blur): returns the new (alpha, fg).

    The blurred layer over a sharp background is `filter(alpha*fg) + (1 - filter(alpha))*bg`,
    so the new alpha is filter(alpha) and the new fg is filter(alpha*fg)/filter(alpha);
    where alpha is (numerically) zero fg keeps its unfiltered colour, which no pixel shows.
    """
    border = cv2.BORDER_REFLECT
    a = cv2.filter2D(alpha.astype(np.float32), -1, kernel, borderType=border)
    a = np.clip(a, 0.0, 1.0)
    pre = cv2.filter2D((fg * alpha[..., None]).astype(np.float32), -1, kernel, borderType=border)
    safe = a > 1e-6
    new_fg = fg.astype(np.float32).copy()
    new_fg[safe] = pre[safe] / a[safe, None]
    a[~safe] = 0.0
    return a.astype(np.float32), np.clip(new_fg, 0.0, 1.0).astype(np.float32)


def motion_path(rng: np.random.Generator, length: float, curve: float = 0.0) -> np.ndarray:
    """Offsets (n, 2) along a straight or gently curved stroke of `length` pixels, centred."""
    n = max(2, int(np.ceil(length * 2)))
    t = np.linspace(-0.5, 0.5, n, dtype=np.float32)
    theta = float(rng.uniform(0.0, np.pi))
    direction = np.array([np.cos(theta), np.sin(theta)], np.float32)
    normal = np.array([-direction[1], direction[0]], np.float32)
    bend = curve * length * (t**2 - 1.0 / 12.0)  # parabola with zero mean: no net shift
    return (t[:, None] * length * direction + bend[:, None] * normal).astype(np.float32)
