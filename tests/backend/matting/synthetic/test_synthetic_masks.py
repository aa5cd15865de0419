"""Tracker-like mask perturbations and trimaps change the mask exactly as specified."""

from __future__ import annotations

import numpy as np
import pytest

from sam2matting.backend.matting.synthetic import perturb


def _square(size: int = 40, lo: int = 12, hi: int = 28) -> np.ndarray:
    m = np.zeros((size, size), np.float32)
    m[lo:hi, lo:hi] = 1.0
    return m


@pytest.mark.parametrize("k", [1, 2, 3])
def test_dilate_and_erode_grow_and_shrink_a_square_by_k(k: int) -> None:
    m = _square()
    grown = perturb.dilate(m, k)
    shrunk = perturb.erode(m, k)
    assert grown.sum() == (16 + 2 * k) ** 2
    assert shrunk.sum() == (16 - 2 * k) ** 2
    assert np.all(grown >= m)
    assert np.all(shrunk <= m)
    np.testing.assert_array_equal(perturb.dilate(m, 0), m)


def test_shift_moves_by_whole_pixels() -> None:
    m = _square()
    moved = perturb.shift(m, 3, -2)
    np.testing.assert_array_equal(moved[10:26, 15:31], 1.0)
    assert moved.sum() == m.sum()
    assert perturb.shift(m, -40, 0).sum() == 0  # shifted out entirely


def test_lowres_drops_thin_strands_but_keeps_the_body() -> None:
    m = _square(64, 16, 48)
    m[5, :] = 1.0  # a one-pixel strand across the frame
    coarse = perturb.lowres(m, 4)
    assert coarse[5].sum() == 0
    assert coarse[20:44, 20:44].min() == 1.0


def test_holes_and_blobs_change_the_area_the_right_way() -> None:
    rng = np.random.default_rng(0)
    m = _square(80, 10, 70)
    holed = perturb.punch_holes(rng, m, 3)
    blobbed = perturb.add_blobs(rng, m, 3)
    assert holed.sum() < m.sum()
    assert np.all(holed <= m)
    assert blobbed.sum() > m.sum()
    assert np.all(blobbed >= m)


def test_tracker_mask_is_binary_and_near_the_truth() -> None:
    rng = np.random.default_rng(1)
    alpha = np.zeros((96, 96), np.float32)
    alpha[20:76, 24:72] = 1.0
    alpha[19, 24:72] = 0.4  # a soft edge row
    for _ in range(20):
        mask = perturb.tracker_mask(rng, alpha)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        overlap = (mask * (alpha > 0.5)).sum() / (alpha > 0.5).sum()
        assert overlap > 0.6


def test_jitter_changes_the_mask_by_at_most_one_pixel() -> None:
    m = _square(48, 10, 38)
    rng = np.random.default_rng(3)
    changed = 0
    for _ in range(30):
        j = perturb.jitter(rng, m)
        assert np.all(j <= perturb.dilate(m, 2))
        assert np.all(j >= perturb.erode(m, 2))
        changed += int(not np.array_equal(j, m))
    assert changed > 10


def test_trimap_from_mask_marks_a_band_of_the_given_radius() -> None:
    m = _square()
    trimap = perturb.trimap_from_mask(m, 2)
    unknown = trimap == 0.5
    assert unknown.sum() == 20**2 - 12**2
    assert np.all(trimap[14:26, 14:26] == 1.0)
    assert trimap[0, 0] == 0.0


def test_trimap_from_alpha_covers_every_fractional_pixel() -> None:
    alpha = np.zeros((30, 30), np.float32)
    alpha[10:20, 10:20] = 1.0
    alpha[9, 10:20] = 0.3
    trimap = perturb.trimap_from_alpha(alpha, 1)
    assert np.all(trimap[9, 10:20] == 0.5)
    assert np.all(trimap[8, 10:20] == 0.5)  # grown by the radius
    assert trimap[15, 15] == 1.0
    assert trimap[0, 0] == 0.0
