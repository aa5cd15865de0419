"""Measures of a matte against a hard object's exact mask, and a check for tile-shaped artifacts.

The soft-matting metrics (`metrics.py`) sum errors; a compositor looks at a hard object
differently: is the object all there at the 0.5 level, is its core solid, is its edge crisp,
and did the engine draw anything that is not in the image. Definitions (docs/MATTING.md):

- J: intersection over union of (alpha > 0.5) and (truth > 0.5); 1 when both are empty.
- interior: the fraction of interior pixels - truth > 0.5 and at least `INTERIOR_DEPTH` px from
  any pixel at or below 0.5 - whose alpha is at least `SOLID`; NaN when there are none.
- edge width: pixels with 0.1 < alpha < 0.9 within `EDGE_REACH` px of the truth's edge, per
  pixel of edge length (the 10-90 % transition width of a straight edge, in pixels).
- tile artifacts: straight, axis-aligned steps in alpha (> `STEP`) at least `MIN_RUN` px long
  where neither the image nor the mask (within 2 px) has a step along the same line (an image
  step: the colour difference across the line, averaged along it, above `FLAT` and three
  standard errors from zero in some channel): the edges of the square blocks a tile-based solve
  leaves where it has no image support. Counted as runs. The truth itself is scored the same
  way (`tile_artifacts_truth`): a mesh, lace or a fence has straight runs of its own, and a
  matte that follows them is not drawing blocks; the reports give the count beyond the truth's
  (per image, what the matte has more than its truth) beside the raw one.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

INTERIOR_DEPTH = 3.0
SOLID = 0.95
EDGE_REACH = 16.0
STEP = 0.1
FLAT = 0.02
MIN_RUN = 8


def j_index(alpha: np.ndarray, truth: np.ndarray) -> float:
    """IoU of the two mattes thresholded at 0.5."""
    a, t = np.asarray(alpha) > 0.5, np.asarray(truth) > 0.5
    union = int((a | t).sum())
    return float((a & t).sum() / union) if union else 1.0


def _depth_inside(truth: np.ndarray) -> np.ndarray:
    import cv2

    inside = (np.asarray(truth) > 0.5).astype(np.uint8)
    depth: np.ndarray = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    if inside.all():
        depth[:] = np.inf
    return depth


def interior_solid(
    alpha: np.ndarray, truth: np.ndarray, depth: float = INTERIOR_DEPTH, level: float = SOLID
) -> float:
    """Fraction of the truth's interior (>= depth px inside) with alpha >= level."""
    interior = _depth_inside(truth) >= depth
    if not interior.any():
        return float("nan")
    return float((np.asarray(alpha)[interior] >= level).mean())


def edge_length(truth: np.ndarray) -> float:
    """Length in pixels of the truth's 0.5 contours (closed, OpenCV's outline of the pixels)."""
    import cv2

    binary = (np.asarray(truth) > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return float(sum(cv2.arcLength(c, True) for c in contours))


def edge_width(alpha: np.ndarray, truth: np.ndarray, reach: float = EDGE_REACH) -> float:
    """Mean 10-90 % transition width across the truth's edge, in pixels; NaN without an edge."""
    import cv2

    length = edge_length(truth)
    if length <= 0:
        return float("nan")
    binary = (np.asarray(truth) > 0.5).astype(np.uint8)
    edge = cv2.morphologyEx(binary, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    near = cv2.distanceTransform(1 - edge, cv2.DIST_L2, 5) <= reach
    a = np.asarray(alpha)
    transition = (a > 0.1) & (a < 0.9) & near
    return float(transition.sum() / length)


def tile_artifacts(
    alpha: np.ndarray,
    rgb: np.ndarray,
    mask: Optional[np.ndarray] = None,
    step: float = STEP,
    flat: float = FLAT,
    min_run: int = MIN_RUN,
) -> int:
    """Straight axis-aligned alpha steps with no image (or mask) step under them, as runs."""
    a = np.asarray(alpha, np.float32)
    image = np.asarray(rgb, np.float32)
    ref = None if mask is None else np.asarray(mask, np.float32)
    return _seams(a, image, ref, step, flat, min_run, axis=1) + _seams(
        a, image, ref, step, flat, min_run, axis=0
    )


def _seams(
    a: np.ndarray,
    image: np.ndarray,
    ref: Optional[np.ndarray],
    step: float,
    flat: float,
    min_run: int,
    axis: int,
) -> int:
    """Runs of unsupported steps across `axis` (1: vertical seams, 0: horizontal ones)."""
    import cv2

    da = np.abs(np.diff(a, axis=axis)) > step
    # an image edge under a straight seam changes the colour the same way all along it;
    # texture and noise average out: coherent when the mean difference along the run is both
    # above `flat` and three standard errors from zero
    size = (1, min_run) if axis == 1 else (min_run, 1)  # cv2 sizes are (width, height)
    d = np.diff(image, axis=axis)
    mean = cv2.blur(d, size)
    spread = np.sqrt(np.maximum(cv2.blur(d * d, size) - mean * mean, 0.0) / min_run)
    coherent = ((np.abs(mean) > flat) & (np.abs(mean) > 3.0 * spread)).any(axis=2)
    seam = da & ~coherent
    if ref is not None:  # the mask's own edge, give or take the pixel a solve may move it
        mask_step = (np.diff(ref, axis=axis) != 0).astype(np.uint8)
        seam &= cv2.dilate(mask_step, np.ones((5, 5), np.uint8)) == 0
    # a seam across axis 1 runs along axis 0: keep runs of min_run pixels in that direction
    kernel = np.ones((min_run, 1) if axis == 1 else (1, min_run), np.uint8)
    runs = cv2.erode(seam.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    count, _ = cv2.connectedComponents(runs)
    return int(count - 1)


def object_metrics(
    alpha: np.ndarray, truth: np.ndarray, mask: np.ndarray, rgb: np.ndarray
) -> Dict[str, float]:
    """The hard-object measures of one matte, with the mask's own values beside them."""
    return {
        "j": j_index(alpha, truth),
        "j_mask": j_index(mask, truth),
        "interior": interior_solid(alpha, truth),
        "interior_mask": interior_solid(mask, truth),
        "edge_width": edge_width(alpha, truth),
        "edge_width_truth": edge_width(truth, truth),
        "tile_artifacts": float(tile_artifacts(alpha, rgb, mask)),
        "tile_artifacts_truth": float(tile_artifacts(truth, rgb, mask)),
    }
