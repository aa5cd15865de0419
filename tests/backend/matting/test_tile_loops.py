"""The hold's and the guard's compiled per-tile loops (`colour_cover.side_distances`,
`mixture_support`) return what their per-tile numpy definitions below return, bit for bit,
whatever the number of worker threads (they replaced a Python loop over tiles that called
`window_cover`, `nearest` and `mixture_residual` tile by tile)."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import pytest

from sam2matting.backend.matting import tile_loops, workers
from sam2matting.backend.matting.colour_cover import mixture_residual, nearest, window_cover
from sam2matting.backend.matting.tile_loops import mixture_support, side_distances
from sam2matting.backend.matting.workers import tiles_holding

REACH = (16, 8, 6)  # tile, margin, min_pool: small, so margins double and frame edges clip


def _cover(rgb, pool, origin, most, tau) -> Optional[np.ndarray]:
    """The definition: the pool's pixels `margin` around the tile, the margin doubled up to
    4x while fewer than `min_pool`; None where there are still too few or no usable colour."""
    (y0, x0), (tile, margin, min_pool) = origin, REACH
    widest = 4 * margin
    while margin <= widest:
        win = (y0 - margin, y0 + tile + margin, x0 - margin, x0 + tile + margin)
        ys, xs = slice(max(win[0], 0), win[1]), slice(max(win[2], 0), win[3])
        if np.count_nonzero(pool[ys, xs]) >= min_pool:
            covering = window_cover(rgb, pool, win, most, tau)
            return covering if len(covering) else None
        margin *= 2
    return None


def _scene(seed: int) -> Tuple[np.ndarray, ...]:
    """Blocky two-sided colours with noise, a mask, an alpha near it and sparse pools."""
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(40, 90)), int(rng.integers(40, 90))
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((yy - h / 2) ** 2 + (xx - w / 3) ** 2 < (min(h, w) / 3) ** 2).astype(np.float32)
    blocks = rng.random((h // 6 + 1, w // 6 + 1, 3))[yy // 6, xx // 6]
    rgb = np.where(mask[..., None] > 0.5, 0.6 * blocks + 0.4, 0.6 * blocks)
    rgb = (rgb + rng.normal(0, 0.02, rgb.shape)).astype(np.float32)
    alpha = np.clip(mask + rng.normal(0, 0.3, mask.shape) * (rng.random(mask.shape) < 0.4), 0, 1)
    alpha = alpha.astype(np.float32)
    alpha[rng.random(mask.shape) < 0.1] = 1.0  # some near-binary departures
    alpha[rng.random(mask.shape) < 0.1] = 0.0
    alpha[rng.random(mask.shape) < 0.1] = np.float32(1.0 - 0.02)  # at the `confident` limits
    alpha[rng.random(mask.shape) < 0.1] = np.float32(0.02)
    pools = (
        (mask < 0.5) & (rng.random(mask.shape) < rng.uniform(0.02, 0.6)),
        (mask > 0.5) & (rng.random(mask.shape) < rng.uniform(0.02, 0.6)),
    )
    return rgb, mask, alpha, pools[0], pools[1]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n_workers", [1, 3])
def test_side_distances_equal_the_per_tile_definition(
    seed: int, n_workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tile_loops, "default_workers", lambda: n_workers)
    monkeypatch.setattr(workers, "default_workers", lambda: n_workers)
    rgb, mask, _, outside, inside = _scene(seed)
    region = np.random.default_rng(seed).random(mask.shape) < 0.5
    origins = tiles_holding(region, REACH[0])
    ref = [np.full(mask.shape, np.inf, np.float32) for _ in range(2)]
    for y0, x0 in origins:
        ys, xs = np.nonzero(region[y0 : y0 + REACH[0], x0 : x0 + REACH[0]])
        ys, xs = ys + y0, xs + x0
        for side, pool in enumerate((outside, inside)):
            samples = _cover(rgb, pool, (y0, x0), 32, 0.05)
            if samples is not None:
                ref[side][ys, xs] = nearest(rgb[ys, xs], samples)
    got = side_distances(rgb, (outside, inside), region, origins, REACH, (32, 0.05))
    for side in (0, 1):
        np.testing.assert_array_equal(got[side], ref[side])
    assert np.isfinite(ref[0]).sum() > 100
    assert np.isfinite(ref[1]).sum() > 100


def _support_reference(rgb, mask, alpha, pools, examined, decision) -> np.ndarray:
    """The guard's decision as the numpy expressions it was written in (float32 throughout,
    as numpy 2 computes with Python scalars)."""
    most, tau, pair, confident, ambiguity, gain = decision
    weight = np.zeros(mask.shape, np.float32)
    for y0, x0 in tiles_holding(examined, REACH[0]):
        back = _cover(rgb, pools[0], (y0, x0), most, tau)
        fore = _cover(rgb, pools[1], (y0, x0), most, tau)
        if back is None or fore is None:
            continue
        py, px = np.nonzero(examined[y0 : y0 + REACH[0], x0 : x0 + REACH[0]])
        py, px = py + y0, px + x0
        c, a, m = rgb[py, px], alpha[py, px], mask[py, px]
        d_back, d_fore = nearest(c, back), nearest(c, fore)
        r_mask = np.where(m > 0.5, d_fore, d_back)
        r_alpha = mixture_residual(c, a, fore[:pair], back[:pair])
        r_alpha = np.where(a >= 1.0 - confident, np.minimum(r_alpha, d_fore), r_alpha)
        r_alpha = np.where(a <= confident, np.minimum(r_alpha, d_back), r_alpha)
        advantage = r_mask - r_alpha
        if ambiguity > 0:
            advantage = advantage - ambiguity * np.minimum(d_back, d_fore)
        weight[py, px] = np.clip(advantage.astype(np.float32) / (2.0 * gain), 0.0, 1.0)
    return weight


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("decision", [(64, 0.03, 16, 0.02, 0.5, 0.03), (8, 0.1, 3, 0.1, 0.0, 0.05)])
def test_mixture_support_equals_the_guards_numpy_decision(
    seed: int, decision: Tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tile_loops, "default_workers", lambda: 1 + seed % 3)
    monkeypatch.setattr(workers, "default_workers", lambda: 1 + seed % 3)
    rgb, mask, alpha, back, fore = _scene(seed)
    examined = np.abs(alpha - mask) > 0.02
    origins = tiles_holding(examined, REACH[0])
    got = mixture_support(rgb, (back, fore), (examined, alpha, mask), origins, REACH, decision)
    ref = _support_reference(rgb, mask, alpha, (back, fore), examined, decision)
    np.testing.assert_array_equal(got, ref)
    assert np.count_nonzero(ref > 0) > 0  # some departures kept, some not
    assert np.count_nonzero(examined & (ref == 0)) > 0


def test_the_tile_loop_comparisons_can_fail() -> None:
    """Not vacuous: another ambiguity or cover tolerance changes the answers."""
    rgb, mask, alpha, back, fore = _scene(0)
    examined = np.abs(alpha - mask) > 0.02
    decision = (64, 0.03, 16, 0.02, 0.5, 0.03)
    got = mixture_support(
        rgb, (back, fore), (examined, alpha, mask), tiles_holding(examined, 16), REACH, decision
    )
    other = (64, 0.03, 16, 0.02, 0.25, 0.03)
    assert not np.array_equal(
        got, _support_reference(rgb, mask, alpha, (back, fore), examined, other)
    )
    region = np.ones(mask.shape, bool)
    origins = tiles_holding(region, REACH[0])
    fine = side_distances(rgb, (back, fore), region, origins, REACH, (64, 0.03))
    coarse = side_distances(rgb, (back, fore), region, origins, REACH, (64, 0.3))
    assert not np.array_equal(fine[0], coarse[0])


def test_arrays_of_another_shape_are_refused_before_the_unchecked_loops() -> None:
    rgb, mask, alpha, back, fore = _scene(1)
    examined = np.abs(alpha - mask) > 0.02
    decision = (64, 0.03, 16, 0.02, 0.5, 0.03)
    wider = np.zeros((mask.shape[0], mask.shape[1] + 8), bool)
    with pytest.raises(ValueError, match="per-pixel array"):
        side_distances(rgb, (back, fore), wider, [(0, 0)], REACH, (32, 0.05))
    with pytest.raises(ValueError, match="per-pixel array"):
        mixture_support(rgb, (back, fore), (examined, alpha[:-1], mask), [(0, 0)], REACH, decision)
    with pytest.raises(ValueError, match="per-pixel array"):
        side_distances(rgb[..., :2], (back, fore), back, [(0, 0)], REACH, (32, 0.05))
