"""Where a mask's edge is off the image's edge (`edge_fit.edge_fit`, `looseness`)."""

from __future__ import annotations

import cv2
import numpy as np

from sam2matting.backend.matting.band import edge_distances
from sam2matting.backend.matting.edge_fit import edge_fit, looseness

FG = np.array([0.9, 0.75, 0.2], np.float32)
BG = np.array([0.15, 0.35, 0.6], np.float32)


def _loose(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    d_in, d_out = edge_distances(mask)
    colours = cv2.GaussianBlur(rgb, (0, 0), 1.0)
    return looseness(edge_fit(colours, d_in, d_out, 15.0), (0.5, 1.0))


def _polar(h: int = 128) -> tuple:
    yy, xx = np.mgrid[0:h, 0:h].astype(np.float32)
    return np.hypot(yy - h / 2, xx - h / 2), np.arctan2(yy - h / 2, xx - h / 2)


def _plate(alpha: np.ndarray, fg: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    rgb = alpha[..., None] * fg + (1 - alpha[..., None]) * BG
    return np.clip(rgb + rng.normal(0, 0.004, rgb.shape), 0, 1).astype(np.float32)


def _edge(mask: np.ndarray) -> np.ndarray:
    d_in, d_out = edge_distances(mask)
    return (d_in == 1) | (d_out == 1)


def _grown(mask: np.ndarray, by: int) -> np.ndarray:
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * by + 1, 2 * by + 1))
    return cv2.dilate(mask.astype(np.uint8), disk).astype(np.float32)


def test_a_mask_on_a_hard_edge_fits_and_one_four_pixels_out_does_not() -> None:
    r, _ = _polar()
    alpha = np.clip(36.5 - r, 0, 1)  # a hard disc, anti-aliased
    rgb, exact = _plate(alpha, FG), (alpha > 0.5).astype(np.float32)
    wide = _grown(exact, 4)

    assert _loose(rgb, exact).max() == 0.0
    assert _loose(rgb, wide)[_edge(wide)].mean() > 0.9


def test_the_measure_follows_the_edge_not_the_frame() -> None:
    # two discs 100 px apart, one masked exactly and one 4 px too wide: each edge its own verdict
    h, w = 128, 256
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    left, right = np.hypot(yy - 64, xx - 64), np.hypot(yy - 64, xx - 192)
    alpha = np.clip(30.5 - np.minimum(left, right), 0, 1)
    rgb = _plate(alpha, FG)
    mask = (alpha > 0.5).astype(np.float32)
    mask = np.where(xx > 128, _grown(mask, 4), mask)

    loose, edge = _loose(rgb, mask), _edge(mask)
    assert loose[edge & (xx < 128)].max() < 0.1
    assert loose[edge & (xx > 128)].mean() > 0.9


def test_texture_across_the_edge_is_not_taken_for_a_displaced_edge() -> None:
    # a low-contrast outline with strong stripes running into it a few pixels in (a car's
    # panel lines, a dog's fur pattern near its outline): their gradient runs along the edge,
    # not across it, so the exact mask still fits (with the gradient's full magnitude the
    # stripes outweigh the outline and the mask would look 3 px off)
    r, theta = _polar()
    alpha = np.clip(36.5 - r, 0, 1)
    body = np.array([0.25, 0.4, 0.6], np.float32)  # 0.1 from the ground: a faint outline
    stripes = ((np.sin(theta * 24) > 0) & (r > 30) & (r < 34)).astype(np.float32)[..., None]
    fg = stripes * np.array([0.95, 0.9, 0.8], np.float32) + (1 - stripes) * body
    rgb = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * BG, 0, 1).astype(np.float32)
    exact = (alpha > 0.5).astype(np.float32)

    assert _loose(rgb, exact)[_edge(exact)].mean() < 0.1


def test_no_edge_in_the_image_is_no_evidence() -> None:
    r, _ = _polar()
    rgb = _plate(np.zeros_like(r), FG)  # flat ground; the mask is a tracker's invention
    mask = (r < 30).astype(np.float32)

    assert _loose(rgb, mask).max() < 0.1
