"""Initial masks for the flow tracker from prompts, without any model weights (OpenCV grabCut).

- mask prompt: used as given (area-resampled to the working resolution);
- box: grabCut initialised with the rectangle; any points on the same prompt are hard labels;
- points: grabCut inside a rectangle around the positive points, expanded generously (half the
  points' extent, at least 15% of the frame's long side, on every side), with a small disk of sure
  foreground (positive) or sure background (negative) under each click.

Limits: grabCut separates colours, not objects. An object whose colours also fill its surroundings
(grey car on grey road, hair against dark background) leaks or is cut; points-only prompts guess the
object's extent from a rectangle, so a single click on a large object may select only the part with
the clicked colour, and an object larger than the expanded rectangle is clipped to it. Add clicks,
use a box, or give a mask when that matters; SAM2 models do not share these limits.
"""

from __future__ import annotations

import logging
from typing import Sequence, Tuple

import cv2
import numpy as np

from sam2matting.backend.tracking.base import Prompt

log = logging.getLogger(__name__)

GRABCUT_ITERATIONS = 5
GRABCUT_SEED = 0x5A2
MIN_KEPT = 0.05  # a grabCut result under 5% of the prompted region counts as a collapse
POINT_RECT_MIN_MARGIN = 0.15  # of the long side
CLICK_RADIUS = 0.01  # of the long side


def seed_probability(prompt: Prompt, rgb: np.ndarray, scale: float) -> np.ndarray:
    """Foreground probability (H, W) float32 at working resolution for one prompt.

    `rgb` is the frame at working resolution, (H, W, 3) uint8; `scale` = working / plate pixels.
    """
    height, width = rgb.shape[:2]
    if prompt.mask is not None:
        mask = np.asarray(prompt.mask, dtype=np.float32)
        return cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
    points = [(x * scale, y * scale) for x, y in prompt.points]
    if prompt.box is not None:
        rect = tuple(v * scale for v in prompt.box)
    else:
        rect = _rect_around(points, prompt.labels, (width, height))
    trimap = _initial_labels(rect, points, prompt.labels, (width, height))
    return _grabcut(rgb, trimap)


def _rect_around(
    points: Sequence[Tuple[float, float]], labels: Sequence[int], size: Tuple[int, int]
) -> Tuple[float, float, float, float]:
    positives = np.array([p for p, lab in zip(points, labels) if lab == 1], dtype=np.float64)
    x0, y0 = positives.min(axis=0)
    x1, y1 = positives.max(axis=0)
    margin = max(0.5 * max(x1 - x0, y1 - y0), POINT_RECT_MIN_MARGIN * max(size))
    return (x0 - margin, y0 - margin, x1 + margin, y1 + margin)


def _initial_labels(
    rect: Tuple[float, ...],
    points: Sequence[Tuple[float, float]],
    labels: Sequence[int],
    size: Tuple[int, int],
) -> np.ndarray:
    """grabCut's label image: sure background outside the rectangle, probable foreground inside."""
    width, height = size
    trimap = np.full((height, width), cv2.GC_BGD, np.uint8)
    x0, y0 = max(0, int(np.floor(rect[0]))), max(0, int(np.floor(rect[1])))
    x1, y1 = min(width, int(np.ceil(rect[2]))), min(height, int(np.ceil(rect[3])))
    trimap[y0:y1, x0:x1] = cv2.GC_PR_FGD
    radius = max(1, round(CLICK_RADIUS * max(size)))
    for (x, y), label in zip(points, labels):
        value = cv2.GC_FGD if label == 1 else cv2.GC_BGD
        cv2.circle(trimap, (round(x - 0.5), round(y - 0.5)), radius, int(value), thickness=-1)
    return trimap


def _grabcut(rgb: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Run grabCut; keep the prompt's own region where grabCut cannot run or collapses."""
    labels = trimap.copy()
    prior = np.isin(trimap, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if not np.isin(labels, (cv2.GC_BGD, cv2.GC_PR_BGD)).any() or not prior.any():
        log.info("grabCut skipped: the prompt leaves no background or no foreground sample")
        return prior.astype(np.float32)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    # grabCut's k-means draws from OpenCV's (thread-local) RNG: seed it so that the same prompt
    # always gives the same mask; the rectangle argument is unused with GC_INIT_WITH_MASK
    cv2.setRNGSeed(GRABCUT_SEED)
    cv2.grabCut(bgr, labels, (0, 0, 1, 1), bgd, fgd, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    result = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if result.sum() < MIN_KEPT * prior.sum():
        # a colour model can explain the whole box as background (a box without clicks has
        # no sure foreground): the box itself is a better answer than nothing
        log.info(
            "grabCut kept %d of %d prompted pixels: using the prompt region",
            result.sum(),
            prior.sum(),
        )
        return prior.astype(np.float32)
    return result.astype(np.float32)
