"""The compiled colour covers and distances return what the numpy expressions they replace do,
bit for bit; and the hold's crop (`evidence.reach_box`) changes nothing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.backend.matting import evidence
from sam2matting.backend.matting.band import edge_distances
from sam2matting.backend.matting.colour_cover import (
    DENSE_CELLS,
    _cell_index,
    cover,
    merged_colours,
    mixture_residual,
    nearest,
    reference_cover,
    window_cover,
)
from sam2matting.backend.matting.tile_loops import side_distances


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random colours, skewed (clustered near black) so the grid cells' counts vary."""
    return (rng.random((n, 3)) ** rng.uniform(0.3, 3.0)).astype(np.float32)


@pytest.mark.parametrize("seed", range(20))
def test_cover_equals_the_numpy_farthest_point_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    colours = _colours(rng, int(rng.integers(1, 4000)))
    for most, tau in ((64, 0.06), (64, 0.03), (16, 0.01), (4096, 0.2), (1, 0.06)):
        fast, ref = cover(colours, most, tau), reference_cover(colours, most, tau)
        assert fast.dtype == ref.dtype == np.float32
        np.testing.assert_array_equal(fast, ref)


@pytest.mark.parametrize("seed", range(6))
def test_a_window_cover_equals_the_cover_of_the_gathered_colours(seed: int) -> None:
    """Windows reaching past the array are clipped like slices; short and long key ranges
    (tau 0.06 and 0.005: a table and a sort) give the same cells."""
    rng = np.random.default_rng(seed)
    rgb = _colours(rng, 90 * 70).reshape(90, 70, 3)
    pool = rng.random((90, 70)) < rng.uniform(0.05, 1.0)
    for _ in range(10):
        y0, x0 = int(rng.integers(-20, 80)), int(rng.integers(-20, 60))
        y1, x1 = y0 + int(rng.integers(25, 120)), x0 + int(rng.integers(25, 120))
        win = (slice(max(y0, 0), y1), slice(max(x0, 0), x1))
        if not pool[win].any():
            continue
        for tau in (0.06, 0.005):
            ref = reference_cover(rgb[win][pool[win]], 64, tau)
            np.testing.assert_array_equal(window_cover(rgb, pool, (y0, y1, x0, x1), 64, tau), ref)


def test_the_cover_comparison_can_fail() -> None:
    """The equality above is not vacuous: covers are long and order-sensitive, so a loop
    that started elsewhere or took a later maximum would not pass it."""
    colours = _colours(np.random.default_rng(0), 3000)
    ref = reference_cover(colours, 64, 0.03)
    assert len(ref) == 64
    merged, counts = merged_colours(colours, 0.03)
    assert not np.array_equal(ref, merged[np.argsort(-counts, kind="stable")[:64]])
    assert not np.array_equal(cover(colours, 64, 0.03), reference_cover(colours, 64, 0.031))


def test_merged_colours_are_the_cell_means_in_key_order() -> None:
    colours = np.array([[0.5, 0.5, 0.5], [0.0, 0.0, 0.0], [0.505, 0.5, 0.5]], np.float32)
    merged, counts = merged_colours(colours, 0.06)  # 0.5 and 0.505 share a 0.03 cell
    np.testing.assert_allclose(merged, [[0.0, 0.0, 0.0], [0.5025, 0.5, 0.5]], atol=1e-7)
    np.testing.assert_array_equal(counts, [1.0, 2.0])


@pytest.mark.parametrize(
    ("n", "size"),
    [
        (0, DENSE_CELLS + 1),
        (1, DENSE_CELLS + 1),
        (500, 300),
        (5000, DENSE_CELLS),
        (5000, 1 << 20),
        (5000, 1 << 40),
        (3, 1 << 59),
    ],
)
def test_cell_index_is_numpys_unique_inverse(n: int, size: int) -> None:
    """Both ways of ranking the keys (a table for short key ranges, a radix sort for long
    ones) give np.unique's inverse and count, duplicates and the range's ends included."""
    rng = np.random.default_rng(n + size % 97)
    keys = rng.integers(0, size, n, dtype=np.int64)
    if n >= 3:
        keys[:3] = [0, size - 1, keys[3 % n]]  # both ends of the range, a repeat
    keys[n // 2 :] = keys[: n - n // 2]  # every other key repeated
    index, m = _cell_index(keys, size)
    distinct, inverse = np.unique(keys, return_inverse=True)
    assert m == len(distinct)
    np.testing.assert_array_equal(index, inverse.reshape(-1))


@pytest.mark.parametrize("seed", range(10))
def test_nearest_and_mixture_equal_their_numpy_expressions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 1500))
    colours = _colours(rng, n)
    samples = colours[rng.integers(0, n, int(rng.integers(1, 64)))] + np.float32(0.01)
    ref = np.linalg.norm(colours[:, None] - samples[None], axis=2).min(axis=1)
    np.testing.assert_array_equal(nearest(colours, samples), ref)
    alpha = rng.random(n).astype(np.float32)
    alpha[: n // 3] = np.round(alpha[: n // 3])
    fore, back = samples[:16], colours[rng.integers(0, n, 16)]
    mix = (
        alpha[:, None, None, None] * fore[None, :, None]
        + (1.0 - alpha)[:, None, None, None] * (back[None, None])
    )
    ref = np.linalg.norm(colours[:, None, None] - mix, axis=3).reshape(n, -1).min(axis=1)
    np.testing.assert_array_equal(mixture_residual(colours, alpha, fore, back), ref)


def test_the_hold_on_its_reach_box_equals_the_hold_on_the_whole_frame() -> None:
    """A small textured object in a larger frame: the crop is smaller, the answer identical
    (and the scene is one where a crop off the tile grid would change it)."""
    rng = np.random.default_rng(0)
    h, w = 420, 560
    yy, xx = np.mgrid[0:h, 0:w]
    mask = (((yy - 260) / 40.0) ** 2 + ((xx - 330) / 70.0) ** 2 < 1).astype(np.float32)
    mask[250:254, 330:480] = 1.0  # a thin arm (pools from its middle line)
    texture = rng.random((h // 8 + 1, w // 8 + 1, 3))[yy // 8, xx // 8]
    rgb = np.where(mask[..., None] > 0.5, 0.5 * texture + 0.4, 0.5 * texture).astype(np.float32)
    alpha = cv2.GaussianBlur(mask, (0, 0), 1.0)
    d_in, d_out = edge_distances(mask)
    region = np.where(mask > 0.5, d_in, d_out) < 12
    params = evidence.EvidenceParams()
    box = evidence.reach_box(region, params)
    assert box is not None
    ys, xs = box
    assert ys.start % params.tile == 0
    assert xs.start % params.tile == 0
    assert (ys.stop - ys.start) * (xs.stop - xs.start) < 0.8 * h * w
    whole = evidence._pinned(rgb, mask, alpha, region, params)
    assert 1000 < whole.sum() < region.sum()
    np.testing.assert_array_equal(evidence.pinned_map(rgb, mask, alpha, region, params), whole)
    assert evidence.reach_box(np.zeros((8, 8), bool), params) is None
    ys, xs = slice(ys.start + 8, ys.stop), slice(xs.start + 8, xs.stop)  # off the grid
    off = np.zeros_like(whole)
    off[ys, xs] = evidence._pinned(rgb[ys, xs], mask[ys, xs], alpha[ys, xs], region[ys, xs], params)
    assert (off != whole).sum() > 100


def test_colours_the_key_grid_cannot_hold_are_left_out_of_a_pool() -> None:
    """NaN, infinity and huge values would overflow the compiled loops' keys (and the table
    they index without bounds checks): such pixels are not pool colours; the rest are covered
    as if they were not there."""
    rng = np.random.default_rng(7)
    rgb = _colours(rng, 40 * 40).reshape(40, 40, 3)
    pool = rng.random((40, 40)) < 0.5
    bad = rgb.copy()
    bad[0, :8, 0] = np.nan
    bad[1, :8, 1] = np.inf
    bad[2, :8, 2] = -1e30
    clean_pool = pool.copy()
    clean_pool[:3, :8] = False
    window = (0, 40, 0, 40)
    got = window_cover(bad, pool, window, 64, 0.03)
    np.testing.assert_array_equal(got, window_cover(rgb, clean_pool, window, 64, 0.03))
    assert np.isfinite(got).all()
    nothing = np.full((4, 4, 3), np.nan, np.float32)
    assert window_cover(nothing, np.ones((4, 4), bool), (0, 4, 0, 4), 64, 0.03).shape == (0, 3)
    everywhere = np.ones((4, 4), bool)
    reach, cover_size = (4, 4, 1), (64, 0.03)
    far = side_distances(nothing, (everywhere, everywhere), everywhere, [(0, 0)], reach, cover_size)
    assert np.isinf(far).all()  # no usable colour in either pool: no evidence
