"""One long-lived thread pool per worker count, for the matting stages' per-tile loops.

The closed-form solve, the hold's colour pools and the guard all work tile by tile, and their
inner loops are compiled with numba without the GIL, so threads overlap. A frame makes dozens
of such loops; starting threads for each cost about 0.03 s per 1080p frame, hence pools that
live as long as the process. Tasks are whole tiles writing disjoint pixels, so results do not
depend on the number of workers or their order, and callers on other threads can share a pool.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, List, Tuple, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

PREFIX = "matting-tiles"
_POOLS: Dict[int, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def default_workers() -> int:
    """One per CPU, at most 4 (tiles are small: more threads add more contention than speed)."""
    return min(4, os.cpu_count() or 1)


def pool(workers: int) -> ThreadPoolExecutor:
    with _LOCK:
        out = _POOLS.get(workers)
        if out is None:
            out = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=PREFIX)
            _POOLS[workers] = out
        return out


def map_tiles(fn: Callable[[T], R], items: Iterable[T], workers: int = 0) -> List[R]:
    """[fn(item) for item in items], on `workers` threads (0: `default_workers`), in order.

    Called from one of the pools' own threads it runs in that thread: a task waiting on tasks
    queued behind it in the same pool would deadlock.
    """
    todo = list(items)
    n = workers or default_workers()
    nested = threading.current_thread().name.startswith(PREFIX)
    if n <= 1 or len(todo) <= 1 or nested:
        return [fn(item) for item in todo]
    return list(pool(n).map(fn, todo))


def tiles_holding(flags: np.ndarray, tile: int) -> List[Tuple[int, int]]:
    """Top-left (y, x) of every `tile`-sized square of the grid from (0, 0) holding a set pixel
    of flags (H, W), in row-major order: the work list of a per-tile loop."""
    h, w = flags.shape
    return [
        (y0, x0)
        for y0 in range(0, h, tile)
        for x0 in range(0, w, tile)
        if flags[y0 : y0 + tile, x0 : x0 + tile].any()
    ]
