"""The matting stages' tile loops on threads: results independent of the number of workers."""

from __future__ import annotations

import threading
from typing import List, Tuple

import numpy as np
import pytest

from sam2matting.backend.matting import workers
from sam2matting.backend.matting.evidence import EvidenceParams, pinned_map
from sam2matting.backend.matting.guard import guard


def test_map_tiles_keeps_order_and_uses_threads() -> None:
    seen: List[str] = []

    def work(i: int) -> int:
        seen.append(threading.current_thread().name)
        return i * i

    assert workers.map_tiles(work, range(50), 2) == [i * i for i in range(50)]
    assert all(name.startswith(workers.PREFIX) for name in seen)
    seen.clear()
    assert workers.map_tiles(work, range(5), 1) == [0, 1, 4, 9, 16]
    assert seen == [threading.current_thread().name] * 5  # one worker: the caller's thread
    assert workers.pool(2) is workers.pool(2)  # long-lived: no thread start per call


def test_map_tiles_inside_a_tile_runs_in_that_thread() -> None:
    """A tile that maps tiles itself must not wait on its own pool (a deadlock with 2)."""

    def inner(i: int) -> str:
        return threading.current_thread().name

    def outer(i: int) -> List[str]:
        return workers.map_tiles(inner, range(4), 2)

    for names in workers.map_tiles(outer, range(6), 2):
        assert len(set(names)) == 1  # all four in the outer tile's own thread
        assert names[0].startswith(workers.PREFIX)


def test_map_tiles_raises_a_tile_s_error() -> None:
    def work(i: int) -> int:
        if i == 3:
            raise ValueError("tile 3")
        return i

    with pytest.raises(ValueError, match="tile 3"):
        workers.map_tiles(work, range(8), 2)


def _scene(dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray]) -> Tuple[np.ndarray, ...]:
    rgb, gt, mask = dev_image
    alpha = np.clip(gt + 0.05 * np.sin(np.arange(gt.size)).reshape(gt.shape), 0, 1)
    region = np.abs(alpha - mask) > 0.01
    return rgb.astype(np.float32), mask, alpha.astype(np.float32), region


@pytest.mark.parametrize("count", [2, 4])
def test_hold_and_guard_do_not_depend_on_the_worker_count(
    dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    count: int,
) -> None:
    rgb, mask, alpha, region = _scene(dev_image)
    monkeypatch.setattr(workers, "default_workers", lambda: 1)
    pinned_one = pinned_map(rgb, mask, alpha, region, EvidenceParams())
    guarded_one = guard(rgb, mask, alpha).alpha
    monkeypatch.setattr(workers, "default_workers", lambda: count)
    pinned_many = pinned_map(rgb, mask, alpha, region, EvidenceParams())
    guarded_many = guard(rgb, mask, alpha).alpha
    assert pinned_one.any()  # both answers occur
    assert (region & ~pinned_one).any()
    assert np.array_equal(pinned_one, pinned_many)
    assert not np.array_equal(guarded_one, mask)  # the guard kept something of the alpha
    assert np.array_equal(guarded_one, guarded_many)


def test_tiles_holding_lists_the_occupied_grid_squares_in_row_order() -> None:
    flags = np.zeros((70, 100), bool)
    flags[5, 99] = True  # last, partial column of tiles
    flags[40, 3] = True
    flags[69, 64] = True  # last, partial row
    assert workers.tiles_holding(flags, 32) == [(0, 96), (32, 0), (64, 64)]
    assert workers.tiles_holding(np.zeros((10, 10), bool), 4) == []
