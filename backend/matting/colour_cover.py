"""Colour covers of pools and distances to them, the inner loops of the hold and the guard.

`cover` reduces a pool's colours to farthest-point samples; `nearest` and `mixture_residual`
measure colours against such samples. They run per tile, hundreds of times a 1080p frame, and
their loops (tens of farthest-point steps, (n, k) and (n, 16, 16) distance searches) cost more
in numpy's per-call overhead and temporaries than in arithmetic, so they are compiled with
numba (on first use, cached on disk; the installer compiles them: `warmup.py`).

The compiled loops do exactly numpy's float32 arithmetic in numpy's order (a distance is
sqrt((dr^2 + dg^2) + db^2), a mixture a * f + (1 - a) * b; ties go to the first index), so
they return what the numpy expressions they replace return, bit for bit; the tests compare them
with those expressions (`reference_cover` keeps the numpy farthest-point loop).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Tuple

import numpy as np


def cover(colours: np.ndarray, most: int, tau: float) -> np.ndarray:
    """Farthest-point samples (k, 3) of colours (n, 3) until every colour is within tau of one.

    Colours are first merged on a grid of tau/2 (each cell keeps its mean), which bounds the
    work by the number of distinct colours rather than pixels; deterministic; at most `most`.
    """
    pixels = np.asarray(colours)[None]
    return window_cover(pixels, np.ones(pixels.shape[:2], bool), (0, 1, 0, len(colours)), most, tau)


def window_cover(
    rgb: np.ndarray, pool: np.ndarray, window: Tuple[int, int, int, int], most: int, tau: float
) -> np.ndarray:
    """`cover` of the colours of rgb (H, W, 3) where pool (H, W) is set inside window
    (y0, y1, x0, x1; clipped to the arrays as slices are), taken in row order (as
    `rgb[win][pool[win]]` takes them), without gathering them first."""
    h, w = pool.shape
    if rgb.shape[:2] != (h, w) or rgb.shape[2:] != (3,):  # the loops do not check bounds
        raise ValueError(f"rgb {rgb.shape} does not match pool {pool.shape}")
    y0, y1, x0, x1 = max(window[0], 0), min(window[1], h), max(window[2], 0), min(window[3], w)
    if y1 <= y0 or x1 <= x0:
        return np.zeros((0, 3), np.float32)
    colours, keys, size = _kernel("gather")(rgb, pool, y0, y1, x0, x1, np.float32(tau / 2.0))
    if len(colours) == 0:  # no pool pixel (or none with a usable colour) in the window
        return np.zeros((0, 3), np.float32)
    index, m = _kernel("cell_index")(keys, size)
    merged, counts = _kernel("cell_means")(colours, index, m)
    picks = _kernel("farthest")(merged, int(np.argmax(counts)), int(most), float(tau))
    out: np.ndarray = merged[picks]
    return out


def reference_cover(colours: np.ndarray, most: int, tau: float) -> np.ndarray:
    """`cover` in numpy alone (the definition the compiled loop is tested against)."""
    merged, counts = merged_colours(colours, tau)
    picks = [int(np.argmax(counts))]  # start from the commonest colour
    dist = np.linalg.norm(merged - merged[picks[0]], axis=1)
    while len(picks) < most and float(dist.max()) > tau:
        i = int(np.argmax(dist))
        picks.append(i)
        dist = np.minimum(dist, np.linalg.norm(merged - merged[i], axis=1))
    return merged[picks]


def merged_colours(colours: np.ndarray, tau: float) -> Tuple[np.ndarray, np.ndarray]:
    """(means (m, 3) float32, counts (m,) float32) of the occupied cells of a tau/2 grid, in
    order of the cells' keys (`cover`'s merge in numpy: the compiled one is tested against it).
    """
    colours = colours.astype(np.float32)
    cell = np.floor(colours / (tau / 2.0)).astype(np.int64)
    cell -= cell.min(axis=0)
    span = cell.max(axis=0) + 1
    key = (cell[:, 0] * span[1] + cell[:, 1]) * span[2] + cell[:, 2]  # one int per grid cell
    _, inverse = np.unique(key, return_inverse=True)
    counts = np.bincount(inverse).astype(np.float32)
    merged = np.stack([np.bincount(inverse, weights=colours[:, c]) for c in range(3)], axis=1)
    return (merged / counts[:, None]).astype(np.float32), counts


def nearest(colours: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """(n,) float32 distance from each of colours (n, 3) to the nearest of samples (k, 3):
    `np.linalg.norm(colours[:, None] - samples[None], axis=2).min(axis=1)`."""
    out: np.ndarray = _kernel("nearest")(_f32(colours), _f32(samples))
    return out


def mixture_residual(
    colours: np.ndarray, alpha: np.ndarray, fore: np.ndarray, back: np.ndarray
) -> np.ndarray:
    """(n,) float32: per colour c (n, 3) and alpha a (n,), the smallest distance from c to a
    mixture a * f + (1 - a) * b over every pair of f in fore (p, 3) and b in back (q, 3)."""
    out: np.ndarray = _kernel("mixture")(_f32(colours), _f32(alpha), _f32(fore), _f32(back))
    return out


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


DENSE_CELLS = 1 << 16  # key ranges up to this are counted in a table, longer ones sorted


def _gather(rgb: Any, pool: Any, y0: int, y1: int, x0: int, x1: int, half: Any) -> Any:
    """(colours (n, 3) float32, grid keys (n,), key range) of the window's pool pixels, in row
    order; keys as `merged_colours` makes them (cells from the lowest occupied one).
    Pixels whose colour the key grid cannot hold (NaN, infinity, or 2^19 cells or more from 0:
    the keys, and the table they index unchecked, would overflow) are left out; the backend's
    frames are clipped to [0, 1] before they get here, this guards other callers."""
    limit = half * np.float32(1 << 19)  # spans under 2^20 cells: keys under 2^60
    # one pass: the window's size bounds the count; numpy's float32 division and floor
    size = max(y1 - y0, 0) * max(x1 - x0, 0)
    colours = np.empty((size, 3), np.float32)
    cells = np.empty((size, 3), np.int64)
    low = np.full(3, np.iinfo(np.int64).max, np.int64)
    high = np.full(3, np.iinfo(np.int64).min, np.int64)
    n = 0
    for y in range(y0, y1):
        for x in range(x0, x1):
            if not pool[y, x]:
                continue
            r, g, b = abs(rgb[y, x, 0]), abs(rgb[y, x, 1]), abs(rgb[y, x, 2])
            if r < limit and g < limit and b < limit:  # NaN compares false
                for c in range(3):
                    colour = np.float32(rgb[y, x, c])
                    cell = np.int64(np.floor(colour / half))  # float32, as numpy
                    colours[n, c] = colour
                    cells[n, c] = cell
                    low[c] = min(low[c], cell)
                    high[c] = max(high[c], cell)
                n += 1
    span = np.ones(3, np.int64)
    for c in range(n and 3):
        span[c] = high[c] - low[c] + 1
    keys = np.empty(n, np.int64)
    for i in range(n):
        keys[i] = ((cells[i, 0] - low[0]) * span[1] + cells[i, 1] - low[1]) * span[2] + (
            cells[i, 2] - low[2]
        )
    return colours[:n], keys, span[0] * span[1] * span[2]


def _cell_index(keys: Any, size: int) -> Any:
    """(index of each key among the distinct keys in ascending order, number of distinct):
    np.unique's inverse, by a table when the key range is short, else by a stable sort."""
    n = keys.size
    index = np.empty(n, np.int64)
    m = 0
    if size <= DENSE_CELLS:
        slot = np.zeros(size, np.int64)
        for i in range(n):
            slot[keys[i]] = 1
        for k in range(size):
            if slot[k]:
                m += 1
                slot[k] = m - 1
        for i in range(n):
            index[i] = slot[keys[i]]
        return index, m
    order = np.argsort(keys, kind="mergesort")
    for j in range(n):
        if j == 0 or keys[order[j]] != keys[order[j - 1]]:
            m += 1
        index[order[j]] = m - 1
    return index, m


def _cell_means(colours: Any, index: Any, m: int) -> Any:
    """(means (m, 3) float32, counts (m,) float32) per cell: float64 sums in row order, as
    np.bincount's weighted sums add up, divided by the count, rounded to float32."""
    sums = np.zeros((m, 3), np.float64)
    counts = np.zeros(m, np.float32)
    for i in range(colours.shape[0]):
        for c in range(3):
            sums[index[i], c] += np.float64(colours[i, c])
        counts[index[i]] += 1
    merged = np.empty((m, 3), np.float32)
    for j in range(m):
        for c in range(3):
            merged[j, c] = np.float32(sums[j, c] / np.float64(counts[j]))
    return merged, counts


def _farthest(merged: Any, first: int, most: int, tau: float) -> Any:
    """Indices of the farthest-point samples of merged (m, 3) float32, from `first`."""
    m = merged.shape[0]
    dist = np.empty(m, np.float32)
    picks = np.empty(max(most, 1), np.int64)
    picks[0] = first
    i, k = first, 1
    while True:
        for j in range(m):  # np.minimum(dist, |merged - merged[i]|)
            d0 = merged[j, 0] - merged[i, 0]
            d1 = merged[j, 1] - merged[i, 1]
            d2 = merged[j, 2] - merged[i, 2]
            d = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            if k == 1 or d < dist[j]:
                dist[j] = d
        if k >= most:
            break
        i = 0
        for j in range(1, m):  # np.argmax: the first of the largest
            if dist[j] > dist[i]:
                i = j
        if dist[i] <= tau:
            break
        picks[k] = i
        k += 1
    return picks[:k]


def _nearest(colours: Any, samples: Any) -> Any:
    out = np.empty(colours.shape[0], np.float32)
    for i in range(colours.shape[0]):
        best = np.float32(np.inf)
        for j in range(samples.shape[0]):
            d0 = colours[i, 0] - samples[j, 0]
            d1 = colours[i, 1] - samples[j, 1]
            d2 = colours[i, 2] - samples[j, 2]
            best = min(best, d0 * d0 + d1 * d1 + d2 * d2)
        out[i] = np.sqrt(best)  # sqrt is monotonic: the root of the least square is the least
    return out


def _mixture(colours: Any, alpha: Any, fore: Any, back: Any) -> Any:
    out = np.empty(colours.shape[0], np.float32)
    for i in range(colours.shape[0]):
        a = alpha[i]
        rest = np.float32(1.0) - a
        best = np.float32(np.inf)
        for f in range(fore.shape[0]):
            for b in range(back.shape[0]):
                d0 = colours[i, 0] - (a * fore[f, 0] + rest * back[b, 0])
                d1 = colours[i, 1] - (a * fore[f, 1] + rest * back[b, 1])
                d2 = colours[i, 2] - (a * fore[f, 2] + rest * back[b, 2])
                best = min(best, d0 * d0 + d1 * d1 + d2 * d2)
        out[i] = np.sqrt(best)
    return out


@functools.lru_cache(maxsize=None)
def _kernel(name: str) -> Callable[..., Any]:
    """The compiled kernel `name` (numba is imported on first use; it compiles a kernel on its
    first call, or loads it from its on-disk cache)."""
    import numba

    # no fastmath: the loops must keep numpy's float32 rounding (no reassociation, no FMA);
    # nogil: the hold and the guard run their tiles on threads (`workers`)
    loops: Dict[str, Callable[..., Any]] = {
        "gather": _gather,
        "cell_index": _cell_index,
        "cell_means": _cell_means,
        "farthest": _farthest,
        "nearest": _nearest,
        "mixture": _mixture,
    }
    out: Callable[..., Any] = numba.njit(cache=True, nogil=True)(loops[name])
    return out
