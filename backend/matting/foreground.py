"""Foreground colour estimation, for premultiplied output.

Where alpha is fractional the plate's colour mixes object and background; compositing
`alpha * plate` over a new background keeps a fringe of the old one. pymatting's multi-level
estimator (Germer et al. 2020) recovers the object's own colour F from I = alpha F + (1 - alpha) B
under smoothness priors; the premultiplied output is then alpha * F. Only a box around the
fractional pixels is solved (plus a margin), so the cost follows the matte's soft region.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

FRACTIONAL = 1.0 / 255.0
MARGIN = 16  # pixels of context around the fractional region


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 foreground colours; the plate's colours where alpha is 0 or 1."""
    from pymatting import estimate_foreground_ml

    image = np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0)
    a = np.clip(np.nan_to_num(np.asarray(alpha, dtype=np.float64)), 0.0, 1.0)
    fg = image.astype(np.float32).copy()
    soft = (a > FRACTIONAL) & (a < 1.0 - FRACTIONAL)
    if not soft.any():
        return fg
    ys, xs = np.nonzero(soft)
    y0, y1 = max(int(ys.min()) - MARGIN, 0), min(int(ys.max()) + MARGIN + 1, a.shape[0])
    x0, x1 = max(int(xs.min()) - MARGIN, 0), min(int(xs.max()) + MARGIN + 1, a.shape[1])
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    est = estimate_foreground_ml(crop, np.ascontiguousarray(a[y0:y1, x0:x1]))
    est = np.nan_to_num(np.clip(est, 0.0, 1.0))
    region = fg[y0:y1, x0:x1]
    keep = soft[y0:y1, x0:x1]
    region[keep] = est[keep].astype(np.float32)
    return fg


def premultiply(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """alpha * F for (H, W, 3) colours and (H, W) alpha, float32."""
    return (np.asarray(rgb, np.float32) * np.asarray(alpha, np.float32)[..., None]).astype(
        np.float32
    )
