"""Colour covers of pools and distances to them, the inner loops of the hold and the guard.

`cover` reduces a pool's colours to farthest-point samples; `nearest` and `mixture_residual`
measure colours against such samples. They run per tile, hundreds of times a 1080p frame, and
their loops (tens of farthest-point steps, (n, k) and (n, 16, 16) distance searches) cost more
in numpy's per-call overhead and temporaries than in arithmetic, so they are compiled with
numba (on first use, cached on disk; `compile_kernels` says what that costs).

The compiled loops do exactly numpy's float32 arithmetic in numpy's order (a distance is
sqrt((dr^2 + dg^2) + db^2), a mixture a * f + (1 - a) * b; ties go to the first index), so
they return what the numpy expressions they replace return, bit for bit; the tests compare them
with those expressions (`reference_cover` keeps the numpy farthest-point loop).
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, Dict

import numpy as np


def cover(colours: np.ndarray, most: int, tau: float) -> np.ndarray:
    """Farthest-point samples (k, 3) of colours (n, 3) until every colour is within tau of one.

    Colours are first merged on a grid of tau/2 (each cell keeps its mean), which bounds the
    work by the number of distinct colours rather than pixels; deterministic; at most `most`.
    """
    merged, counts = merged_colours(colours, tau)
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


def merged_colours(colours: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """(means (m, 3) float32, counts (m,) float32) of the occupied cells of a tau/2 grid, in
    order of the cells' keys. Counted with bincount over the key range (a few thousand cells
    in a window) rather than sorted with np.unique: same cells, same order, same sums."""
    cell = np.floor(colours / (tau / 2.0)).astype(np.int64)
    cell -= cell.min(axis=0)
    span = cell.max(axis=0) + 1
    key = (cell[:, 0] * span[1] + cell[:, 1]) * span[2] + cell[:, 2]  # one int per grid cell
    occupied = np.flatnonzero(np.bincount(key))
    sums = np.stack([np.bincount(key, weights=colours[:, c])[occupied] for c in range(3)], axis=1)
    counts = np.bincount(key)[occupied].astype(np.float32)
    return (sums / counts[:, None]).astype(np.float32), counts


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

    # no fastmath: the loops must keep numpy's float32 rounding (no reassociation, no FMA)
    loops: Dict[str, Callable[..., Any]] = {
        "farthest": _farthest,
        "nearest": _nearest,
        "mixture": _mixture,
    }
    out: Callable[..., Any] = numba.njit(cache=True)(loops[name])
    return out


def compile_kernels() -> float:
    """Seconds to compile (or load from the cache) every kernel: what the first frame pays."""
    start = time.perf_counter()
    colours = np.random.default_rng(0).random((16, 3)).astype(np.float32)
    cover(colours, 4, 0.1)
    nearest(colours, colours[:2])
    mixture_residual(colours, colours[:, 0], colours[:2], colours[2:4])
    return time.perf_counter() - start
