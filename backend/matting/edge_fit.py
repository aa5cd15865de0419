"""Where a mask's edge is not on the image's edge: a tracker's edge error, seen in the image.

A mask drawn on an object's edge (an exact mask, or a tracker on a hard object) has the
image's strongest step across its own edge; a tracker's mask a few pixels too wide or too
narrow, or one around hair whose transition is wider than the mask's one-pixel step, has more
of the image's edge a few pixels away from its own than on it. This module measures that, along
the mask's edge and smoothed over `sigma` pixels of it:

    fit = (g on the edge + floor) / (g 2.5-5 px either side of it + floor)

with g the colour gradient's component across the mask's edge (along the normal of its signed
distance: an edge parallel to the mask's; texture inside the object counts for less), and
`looseness` is 1 where fit is at most `low`, 0 where it is at least `high`, linear between.
Where the image has no edge near the mask's (a flat region, a frame edge) there is no evidence
of a misfit: fit is infinite and `looseness` 0.

The guard (`guard.py`) uses it for its pools: beyond the tracker's edge error the mask is the
evidence, but where the image shows the mask's edge is off, pixels a few pixels inside a
too-wide mask around hair are mixtures, not the object's colour, and do not join its pool.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

EDGE_BAND = 1.0  # the mask's edge: pixels at most this far from the other side
NEAR_BAND = (2.5, 5.0)  # a tracker's edge error: this far either side of the edge
FLOOR = 0.05  # gradient floor: below it, a noisy flat region gives no evidence either way
MIN_COVER = 0.02  # smoothed band weight below which a pixel has no edge nearby


def looseness(fit: np.ndarray, low_high: Tuple[float, float]) -> np.ndarray:
    """(H, W) float32: 1 where `fit` is at most `low`, 0 from `high`, linear between."""
    low, high = low_high
    out: np.ndarray = np.clip((high - fit) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32)
    return out


def edge_fit(colours: np.ndarray, d_in: np.ndarray, d_out: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W) float32: the fit ratio above near each pixel (inf where no mask edge or no
    image edge is nearby: no evidence of a misfit). Computed once, thresholded by each rule
    that uses it (`looseness`)."""
    import cv2

    depth = np.where(d_in > 0, d_in, d_out)
    edge = (depth <= EDGE_BAND).astype(np.float32)
    near = ((depth >= NEAR_BAND[0]) & (depth <= NEAR_BAND[1])).astype(np.float32)
    signed = np.minimum(d_in, 1e4) - np.minimum(d_out, 1e4)  # > 0 inside
    signed = cv2.GaussianBlur(signed.astype(np.float32), (0, 0), 1.5)  # no distance-map kinks
    gx = cv2.Sobel(colours, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(colours, cv2.CV_32F, 0, 1, ksize=3)
    py, px = np.nonzero(depth <= NEAR_BAND[1])  # the bands' pixels only: a tenth of the crop
    normal_x = cv2.Sobel(signed, cv2.CV_32F, 1, 0, ksize=3)[py, px]
    normal_y = cv2.Sobel(signed, cv2.CV_32F, 0, 1, ksize=3)[py, px]
    norm = np.sqrt(normal_x**2 + normal_y**2) + 1e-6
    across = gx[py, px] * (normal_x / norm)[:, None] + gy[py, px] * (normal_y / norm)[:, None]
    g = np.zeros(depth.shape, np.float32)
    g[py, px] = np.sqrt((across**2).sum(axis=1))
    cover_edge, on_edge = _smoothed(edge, sigma), _smoothed(g * edge, sigma)
    cover_near, off_edge = _smoothed(near, sigma), _smoothed(g * near, sigma)
    fit = (on_edge / np.maximum(cover_edge, 1e-6) + FLOOR) / (
        off_edge / np.maximum(cover_near, 1e-6) + FLOOR
    )
    fit[(cover_edge < MIN_COVER) | (cover_near < MIN_COVER)] = np.inf
    out: np.ndarray = fit.astype(np.float32)
    return out


def _smoothed(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian mean over `sigma` pixels, on a grid `sigma / 4` coarser (a wide blur at full
    resolution costs tens of milliseconds per crop; the result is smooth at this scale)."""
    import cv2

    h, w = x.shape
    step = max(1, int(sigma // 4))
    if step == 1:
        return cv2.GaussianBlur(x, (0, 0), sigma)
    small = cv2.resize(x, (max(1, w // step), max(1, h // step)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / step)
    out: np.ndarray = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out
