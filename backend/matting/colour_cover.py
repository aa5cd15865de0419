"""Colour covers of pools and distances to them, the inner loops of the hold and the guard.

`cover` reduces a pool's colours to farthest-point samples; `nearest` and `mixture_residual`
measure colours against such samples. They run per tile, hundreds of times a 1080p frame, and
their loops (tens of farthest-point steps, (n, k) and (n, 16, 16) distance searches) cost more
in numpy's per-call overhead and temporaries than in arithmetic, so they are compiled with
numba (on first use, cached on disk; the installer compiles them: `warmup.py`). The hold's and
the guard's loops over tiles call the compiled pieces (`cover_into`, `nearest_one`,
`mixture_one`) from compiled code (`tile_loops.py`); `cover`, `window_cover`, `nearest` and
`mixture_residual` are their entry points from Python, which is how the tests hold each piece
to the numpy expression it stands for.

The compiled loops do exactly numpy's float32 arithmetic in numpy's order (a distance is
sqrt((dr^2 + dg^2) + db^2), a mixture a * f + (1 - a) * b; ties go to the first index), so
they return what the numpy expressions they replace return, bit for bit; the tests compare them
with those expressions (`reference_cover` keeps the numpy farthest-point loop).
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np
from numba import njit

# no fastmath: the loops must keep numpy's float32 rounding (no reassociation, no FMA);
# nogil: the hold and the guard run their tiles on threads (`workers`, `tile_loops`)
compiled = njit(cache=True, nogil=True)


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
    check_pool(rgb, pool)
    y0, y1, x0, x1 = max(window[0], 0), min(window[1], h), max(window[2], 0), min(window[3], w)
    out = np.empty((max(int(most), 1), 3), np.float32)
    k = cover_into(rgb, pool, (y0, y1, x0, x1), int(most), float(tau), out)
    return out[:k]


@compiled
def cover_into(rgb: Any, pool: Any, window: Any, most: int, tau: float, out: Any) -> int:
    """`window_cover` on a window already clipped, written to out[:k]; returns k (0: no pool
    pixel, or none with a usable colour). Compiled, for the loops over tiles too."""
    y0, y1, x0, x1 = window
    if y1 <= y0 or x1 <= x0:
        return 0
    colours, keys, size = _gather(rgb, pool, y0, y1, x0, x1, np.float32(tau / 2.0))
    if len(colours) == 0:
        return 0
    index, m = _cell_index(keys, size)
    merged, counts = _cell_means(colours, index, m)
    picks = _farthest(merged, int(np.argmax(counts)), most, tau)
    for i in range(len(picks)):
        for c in range(3):  # element by element: a row assignment compiles numba's broadcasting
            out[i, c] = merged[picks[i], c]
    return len(picks)


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
    out: np.ndarray = _nearest(as_f32(colours), as_f32(samples))
    return out


def mixture_residual(
    colours: np.ndarray, alpha: np.ndarray, fore: np.ndarray, back: np.ndarray
) -> np.ndarray:
    """(n,) float32: per colour c (n, 3) and alpha a (n,), the smallest distance from c to a
    mixture a * f + (1 - a) * b over every pair of f in fore (p, 3) and b in back (q, 3)."""
    out: np.ndarray = _mixture(as_f32(colours), as_f32(alpha), as_f32(fore), as_f32(back))
    return out


def as_f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


DENSE_CELLS = 1 << 16  # key ranges up to this are counted in a table, longer ones sorted


@compiled
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


@compiled
def _cell_index(keys: Any, size: int) -> Any:
    """(index of each key among the distinct keys in ascending order, number of distinct):
    np.unique's inverse, by a table when the key range is short, else by a radix sort (keys
    are 0 <= key < size; numba's argsort(kind="mergesort") cost 1.4 s of a cold compile)."""
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
    order = _radix_order(keys, size)
    for j in range(n):
        if j == 0 or keys[order[j]] != keys[order[j - 1]]:
            m += 1
        index[order[j]] = m - 1
    return index, m


RADIX_BITS = 11  # digits of the radix sort: 2048 counters, three passes up to 2^33 cells


@compiled
def _radix_order(keys: Any, size: int) -> Any:
    """The permutation that sorts keys (0 <= key < size) ascending, equal keys in their order
    (a least-significant-digit radix sort: one counting pass per digit of size - 1)."""
    n = keys.size
    order = np.arange(n)
    spare = np.empty(n, np.int64)
    starts = np.empty((1 << RADIX_BITS) + 1, np.int64)
    digit_mask = (1 << RADIX_BITS) - 1
    shift = 0
    while ((size - 1) >> shift) > 0:
        for d in range(starts.size):  # element by element, as in cover_into
            starts[d] = 0
        for i in range(n):
            starts[((keys[order[i]] >> shift) & digit_mask) + 1] += 1
        for d in range(1 << RADIX_BITS):
            starts[d + 1] += starts[d]
        for i in range(n):
            d = (keys[order[i]] >> shift) & digit_mask
            spare[starts[d]] = order[i]
            starts[d] += 1
        order, spare = spare, order
        shift += RADIX_BITS
    return order


@compiled
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


@compiled
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


@compiled
def _nearest(colours: Any, samples: Any) -> Any:
    out = np.empty(colours.shape[0], np.float32)
    for i in range(colours.shape[0]):
        out[i] = nearest_one(colours[i], samples, samples.shape[0])
    return out


@compiled
def nearest_one(colour: Any, samples: Any, k: int) -> Any:
    """Distance from colour (3,) to the nearest of the first k samples (k, 3)."""
    best = np.float32(np.inf)
    for j in range(k):
        d0 = colour[0] - samples[j, 0]
        d1 = colour[1] - samples[j, 1]
        d2 = colour[2] - samples[j, 2]
        best = min(best, d0 * d0 + d1 * d1 + d2 * d2)
    return np.sqrt(best)  # sqrt is monotonic: the root of the least square is the least


@compiled
def _mixture(colours: Any, alpha: Any, fore: Any, back: Any) -> Any:
    out = np.empty(colours.shape[0], np.float32)
    for i in range(colours.shape[0]):
        out[i] = mixture_one(colours[i], alpha[i], fore, fore.shape[0], back, back.shape[0])
    return out


@compiled
def mixture_one(colour: Any, a: Any, fore: Any, p: int, back: Any, q: int) -> Any:
    """Distance from colour (3,) to the nearest a * f + (1 - a) * b, f and b among the first
    p of fore and q of back."""
    rest = np.float32(1.0) - a
    best = np.float32(np.inf)
    for f in range(p):
        for b in range(q):
            d0 = colour[0] - (a * fore[f, 0] + rest * back[b, 0])
            d1 = colour[1] - (a * fore[f, 1] + rest * back[b, 1])
            d2 = colour[2] - (a * fore[f, 2] + rest * back[b, 2])
            best = min(best, d0 * d0 + d1 * d1 + d2 * d2)
    return np.sqrt(best)


def check_pool(rgb: np.ndarray, pool: np.ndarray) -> None:
    """ValueError unless rgb is (H, W, 3) and pool (or any per-pixel array) (H, W): the
    compiled loops do not check bounds."""
    if rgb.shape[:2] != pool.shape or rgb.shape[2:] != (3,):
        raise ValueError(f"rgb {rgb.shape} does not match the per-pixel array {pool.shape}")
