"""Coarse masks the way a tracker gets them wrong, and trimaps made from them.

A tracker mask is binary, smooth (SAM2 predicts logits at 256x256 and upsamples), misses thin
strands, sits a pixel or three off the true edge (shifted, dilated or eroded), and now and then
has a hole or a stray blob. Over time it jitters by a pixel from frame to frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from sam2matting.backend.matting.synthetic import shapes


def _square(k: int) -> np.ndarray:
    return np.ones((2 * k + 1, 2 * k + 1), np.uint8)


def dilate(mask: np.ndarray, k: int) -> np.ndarray:
    """Dilate a 0/1 mask with a square kernel of half-size k (k=0: unchanged)."""
    if k <= 0:
        return mask.astype(np.float32)
    return cv2.dilate(mask.astype(np.uint8), _square(k)).astype(np.float32)


def erode(mask: np.ndarray, k: int) -> np.ndarray:
    """Erode a 0/1 mask with a square kernel of half-size k (k=0: unchanged)."""
    if k <= 0:
        return mask.astype(np.float32)
    return cv2.erode(mask.astype(np.uint8), _square(k)).astype(np.float32)


def shift(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Translate a mask by whole pixels; pixels shifted in are background."""
    h, w = mask.shape
    out = np.zeros((h, w), np.float32)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = mask[ys, xs]
    return out


def lowres(mask: np.ndarray, factor: int) -> np.ndarray:
    """Binary mask as if predicted `factor` times coarser and upsampled (rounded, no strands)."""
    if factor <= 1:
        return (mask >= 0.5).astype(np.float32)
    h, w = mask.shape
    small = cv2.resize(
        mask.astype(np.float32),
        (max(1, w // factor), max(1, h // factor)),
        interpolation=cv2.INTER_AREA,
    )
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return (up >= 0.5).astype(np.float32)


def punch_holes(rng: np.random.Generator, mask: np.ndarray, count: int) -> np.ndarray:
    """Clear `count` small random blobs inside the mask (a tracker's missed patches)."""
    out = mask.astype(np.uint8).copy()
    ys, xs = np.nonzero(out)
    for _ in range(count if len(ys) else 0):
        i = int(rng.integers(0, len(ys)))
        r = float(rng.uniform(2.0, 0.08 * min(mask.shape)))
        poly = shapes.blob(rng, (float(xs[i]), float(ys[i])), r, n=48)
        cv2.fillPoly(out, [np.round(poly).astype(np.int32)], 0)
    return out.astype(np.float32)


def add_blobs(rng: np.random.Generator, mask: np.ndarray, count: int) -> np.ndarray:
    """Add `count` small blobs near the mask's edge (a tracker's false positives)."""
    out = mask.astype(np.uint8).copy()
    edge = cv2.morphologyEx(out, cv2.MORPH_GRADIENT, _square(1))
    ys, xs = np.nonzero(edge)
    for _ in range(count if len(ys) else 0):
        i = int(rng.integers(0, len(ys)))
        r = float(rng.uniform(2.0, 0.06 * min(mask.shape)))
        poly = shapes.blob(rng, (float(xs[i]), float(ys[i])), r, n=48)
        cv2.fillPoly(out, [np.round(poly).astype(np.int32)], 1)
    return out.astype(np.float32)


def tracker_mask(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """A binary float32 mask for `alpha` with a tracker's typical errors."""
    mask = (alpha > float(rng.uniform(0.25, 0.75))).astype(np.float32)
    mask = lowres(mask, int(rng.choice([1, 2, 4, 4, 8])))
    k = int(rng.integers(0, 6))
    mask = dilate(mask, k) if rng.random() < 0.5 else erode(mask, k)
    if rng.random() < 0.3:
        mask = shift(mask, int(rng.integers(-2, 3)), int(rng.integers(-2, 3)))
    if rng.random() < 0.15:
        mask = punch_holes(rng, mask, int(rng.integers(1, 4)))
    if rng.random() < 0.15:
        mask = add_blobs(rng, mask, int(rng.integers(1, 4)))
    return mask


def jitter(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Frame-to-frame tracker noise: a random one-pixel shift and/or grow or shrink."""
    out = mask
    if rng.random() < 0.5:
        out = shift(out, int(rng.integers(-1, 2)), int(rng.integers(-1, 2)))
    r = rng.random()
    if r < 0.25:
        out = dilate(out, 1)
    elif r < 0.5:
        out = erode(out, 1)
    return out.astype(np.float32)


def trimap_from_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pseudo-trimap: 0.5 within `radius` px of the mask's edge, else the mask's value."""
    grown = dilate(mask, radius)
    shrunk = erode(mask, radius)
    trimap = np.full(mask.shape, 0.5, np.float32)
    trimap[grown < 0.5] = 0.0
    trimap[shrunk >= 0.5] = 1.0
    return trimap


def trimap_from_alpha(alpha: np.ndarray, radius: int, eps: float = 1e-3) -> np.ndarray:
    """True trimap: unknown where alpha is fractional, grown by `radius` px."""
    fractional = ((alpha > eps) & (alpha < 1.0 - eps)).astype(np.float32)
    unknown = dilate(fractional, radius) >= 0.5
    trimap = (alpha >= 0.5).astype(np.float32)
    trimap[unknown] = 0.5
    return trimap
