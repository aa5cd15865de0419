"""The hold's and the guard's loops over tiles, compiled whole.

Per tile of a crop, the hold (`evidence.pool_distances`) measures each pixel's colour against
both sides' local colour covers, and the guard (`guard.py`) decides how much of an engine's
departure from the mask the image supports. Written as a Python loop over tiles calling the
compiled covers and distances (`colour_cover.py`), a 1080p frame made a dozen calls per tile
over 150-200 tiles, and the GIL they needed between calls kept the worker threads at 1.2-1.4
of 2 cores. Here a chunk of tiles is one compiled call that holds no GIL, the chunks shared out
to the `workers` threads; the arithmetic is `colour_cover`'s, in the same order, so the
answers are the per-tile definitions' bit for bit (`tests/backend/matting/test_tile_loops.py`).
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import numpy as np

from sam2matting.backend.matting.colour_cover import (
    as_f32,
    check_pool,
    compiled,
    cover_into,
    mixture_one,
    nearest_one,
)
from sam2matting.backend.matting.workers import default_workers, map_tiles


@compiled
def _tile_cover(
    rgb: Any, pool: Any, y0: int, x0: int, reach: Any, most: int, tau: float, out: Any
) -> int:
    """The cover (`colour_cover.window_cover`) of a pool around the tile at (y0, x0), written
    to out[:k]; returns k (0: no evidence). reach: (tile, margin, min_pool): pool pixels are
    taken `margin` around the tile, the margin doubled up to 4x while fewer than `min_pool`."""
    h, w = pool.shape
    tile, margin, min_pool = reach[0], reach[1], reach[2]
    widest = 4 * margin
    while margin <= widest:
        ya, yb = max(y0 - margin, 0), min(y0 + tile + margin, h)
        xa, xb = max(x0 - margin, 0), min(x0 + tile + margin, w)
        count = 0
        for y in range(ya, yb):
            for x in range(xa, xb):
                if pool[y, x]:
                    count += 1
        if count >= min_pool:
            return cover_into(rgb, pool, (ya, yb, xa, xb), most, tau, out)
        margin *= 2
    return 0


def side_distances(
    rgb: np.ndarray,
    pools: Tuple[np.ndarray, np.ndarray],
    region: np.ndarray,
    origins: Sequence[Tuple[int, int]],
    reach: Tuple[int, int, int],
    cover_size: Tuple[int, float],
) -> Tuple[np.ndarray, np.ndarray]:
    """Per pixel of `region` in the tiles at `origins`, the colour distance to each side's
    cover around the tile (outside, inside); inf elsewhere and where a side has no pool nearby
    (the pool's pixels `margin` around the tile, the margin doubled up to 4x while fewer than
    `min_pool`; reach: (tile, margin, min_pool)).
    cover_size: (most, tau) of the covers."""
    sides = _pools(rgb, pools, region)
    h, w = region.shape
    dist = (np.full((h, w), np.inf, np.float32), np.full((h, w), np.inf, np.float32))
    most, tau = cover_size
    sizes = np.asarray(reach, np.int64)

    def chunk(part: np.ndarray) -> None:  # each tile writes only its own pixels
        _side_distances(rgb, sides, region, part, sizes, (int(most), float(tau)), dist)

    map_tiles(chunk, _chunks(origins))
    return dist


@compiled
def _side_distances(
    rgb: Any, pools: Any, region: Any, origins: Any, reach: Any, cover: Any, dist: Any
) -> None:
    h, w = region.shape
    tile = reach[0]
    most, tau = cover
    samples = np.empty((max(most, 1), 3), np.float32)
    for t in range(origins.shape[0]):
        y0, x0 = origins[t, 0], origins[t, 1]
        for side in range(2):
            k = _tile_cover(rgb, pools[side], y0, x0, reach, most, tau, samples)
            if k == 0:
                continue
            for y in range(y0, min(y0 + tile, h)):
                for x in range(x0, min(x0 + tile, w)):
                    if region[y, x]:
                        dist[side][y, x] = nearest_one(rgb[y, x], samples, k)


def mixture_support(
    colours: np.ndarray,
    pools: Tuple[np.ndarray, np.ndarray],
    pixels: Tuple[np.ndarray, np.ndarray, np.ndarray],
    origins: Sequence[Tuple[int, int]],
    reach: Tuple[int, int, int],
    decision: Tuple[int, float, int, float, float, float],
) -> np.ndarray:
    """The guard's decision per examined pixel (`guard.py`): (H, W) float32, 0 outside the
    examined pixels of tiles where both sides have a cover (as in `side_distances`), elsewhere
    clip((r_mask - r_alpha - ambiguity * d_near) / (2 * gain), 0, 1), where r_mask is the
    distance to the mask's side's cover, r_alpha to the nearest mixture at alpha of the first
    `pair` colours of each cover (or to a side's cover where alpha is within `confident` of
    it), and d_near to the nearer cover. pools: (back, fore); pixels: (examined, alpha, mask);
    decision: (most, tau, pair, confident, ambiguity, gain)."""
    examined, alpha, mask = pixels
    sides = _pools(colours, pools, examined, alpha, mask)
    weight = np.zeros(examined.shape, np.float32)
    most, tau, pair, confident, ambiguity, gain = decision
    # the numpy expressions this replaced compared and scaled in float32 (NEP 50)
    limits = np.array([confident, 1.0 - confident, ambiguity, 2.0 * gain], np.float32)
    sizes = np.asarray(reach, np.int64)
    arrays = (examined, as_f32(alpha), as_f32(mask))

    def chunk(part: np.ndarray) -> None:  # each tile writes only its own pixels
        cover = (int(most), float(tau), int(pair))
        _support(colours, sides, arrays, part, sizes, cover, limits, weight)

    map_tiles(chunk, _chunks(origins))
    return weight


@compiled
def _support(
    colours: Any,
    pools: Any,
    pixels: Any,
    origins: Any,
    reach: Any,
    cover: Any,
    limits: Any,
    weight: Any,
) -> None:
    examined, alpha, mask = pixels
    h, w = examined.shape
    tile = reach[0]
    most, tau, pair = cover
    low, high, ambiguity, scale = limits[0], limits[1], limits[2], limits[3]
    back = np.empty((max(most, 1), 3), np.float32)
    fore = np.empty((max(most, 1), 3), np.float32)
    for t in range(origins.shape[0]):
        y0, x0 = origins[t, 0], origins[t, 1]
        kb = _tile_cover(colours, pools[0], y0, x0, reach, most, tau, back)
        kf = _tile_cover(colours, pools[1], y0, x0, reach, most, tau, fore)
        if kb == 0 or kf == 0:
            continue  # no evidence on one side: the mask stands
        for y in range(y0, min(y0 + tile, h)):
            for x in range(x0, min(x0 + tile, w)):
                if not examined[y, x]:
                    continue
                c, a = colours[y, x], alpha[y, x]
                d_back = nearest_one(c, back, kb)
                d_fore = nearest_one(c, fore, kf)
                r_mask = d_fore if mask[y, x] > 0.5 else d_back
                r_alpha = mixture_one(c, a, fore, min(pair, kf), back, min(pair, kb))
                # a near-binary alpha is as good as its side's full cover says
                if a >= high:
                    r_alpha = min(r_alpha, d_fore)
                if a <= low:
                    r_alpha = min(r_alpha, d_back)
                advantage = r_mask - r_alpha
                if ambiguity > 0:  # a colour near either side's cover: weak evidence
                    advantage = advantage - ambiguity * min(d_back, d_fore)
                weight[y, x] = min(max(advantage / scale, np.float32(0.0)), np.float32(1.0))


def _chunks(origins: Sequence[Tuple[int, int]]) -> List[np.ndarray]:
    """Tile origins dealt into a few (n, 2) arrays per worker, interleaved (neighbouring tiles
    cost alike, so each chunk gets a share of the dear ones): one compiled call per chunk, the
    chunks taken by the workers as they finish."""
    todo = np.asarray(list(origins), np.int64).reshape(-1, 2)
    n = min(len(todo), 4 * default_workers())
    return [np.ascontiguousarray(todo[i::n]) for i in range(n)]


def _pools(
    rgb: np.ndarray, pools: Tuple[np.ndarray, np.ndarray], *per_pixel: np.ndarray
) -> Tuple[np.ndarray, ...]:
    """Both sides' pools as one compiled type (the loops index them by side), after checking
    that every per-pixel array has the colours' shape (the loops do not check bounds)."""
    for pool in (*pools, *per_pixel):
        check_pool(rgb, pool)
    return tuple(np.ascontiguousarray(pool, bool) for pool in pools)
