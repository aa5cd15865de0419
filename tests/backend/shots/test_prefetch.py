"""Prefetcher: frames decoded ahead on one background thread, bounded, cancellable, errors kept
for the frame that needs them; FrameStore takes its frames from it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
import pytest

from sam2matting.backend.shots.frame_store import FrameStore
from sam2matting.backend.shots.prefetch import Prefetcher
from sam2matting.protocol.errors import ErrorCode, ProtocolError

W, H = 16, 12
TAG = object()


def _recording(
    calls: List[tuple], gate: Optional[threading.Event] = None
) -> Callable[[int], Callable]:
    def decoder(frame: int) -> Callable[[], int]:
        def decode() -> int:
            calls.append((frame, threading.current_thread().name))
            if gate is not None:
                assert gate.wait(10)
            return frame * 10

        return decode

    return decoder


def test_frames_asked_ahead_are_decoded_once_on_the_background_thread() -> None:
    calls: List[tuple] = []
    decode = _recording(calls)
    prefetch: Prefetcher[int] = Prefetcher(depth=3)
    prefetch.ahead([(f, TAG, decode(f)) for f in (2, 3, 4)])
    assert [prefetch.take(f, TAG) for f in (2, 3, 4)] == [20, 30, 40]
    assert [f for f, _ in calls] == [2, 3, 4]
    assert all(name.startswith("plate-prefetch") for _, name in calls)
    assert prefetch.take(2, TAG) is None  # taken once; the store keeps its own copy
    prefetch.cancel()


def test_depth_bounds_what_is_held_and_unwanted_frames_are_dropped() -> None:
    calls: List[tuple] = []
    gate = threading.Event()
    decode = _recording(calls, gate)
    prefetch: Prefetcher[int] = Prefetcher(depth=2)
    prefetch.ahead([(f, TAG, decode(f)) for f in range(10)])
    assert prefetch.pending == 2
    prefetch.ahead([(f, TAG, decode(f)) for f in (1, 5)])  # 0 no longer wanted: dropped
    gate.set()
    assert prefetch.take(5, TAG) == 50
    assert prefetch.take(0, TAG) is None
    assert {f for f, _ in calls} <= {0, 1, 5}  # 0 may have started before it was dropped
    assert prefetch.take(7, TAG) is None  # never asked for: beyond the depth
    prefetch.cancel()


def test_an_error_is_raised_for_the_frame_that_needs_it() -> None:
    def broken() -> int:
        raise ProtocolError(ErrorCode.BAD_IMAGE, "frame 3 is damaged")

    prefetch: Prefetcher[int] = Prefetcher()
    prefetch.ahead([(2, TAG, lambda: 20), (3, TAG, broken)])
    assert prefetch.take(2, TAG) == 20
    with pytest.raises(ProtocolError, match="frame 3 is damaged"):
        prefetch.take(3, TAG)
    prefetch.cancel()


def test_cancel_drops_pending_frames_and_stops_the_thread() -> None:
    calls: List[tuple] = []
    gate = threading.Event()
    prefetch: Prefetcher[int] = Prefetcher(depth=3)
    prefetch.ahead([(f, TAG, _recording(calls, gate)(f)) for f in (1, 2, 3)])
    prefetch.cancel()
    gate.set()
    assert prefetch.take(1, TAG) is None
    assert prefetch.pending == 0
    for thread in threading.enumerate():
        if thread.name.startswith("plate-prefetch"):
            thread.join(10)  # the one decode that may have started finishes, nothing after
    assert len(calls) <= 1
    assert not [t for t in threading.enumerate() if t.name.startswith("plate-prefetch")]


def test_a_frame_asked_with_another_tag_is_not_handed_out() -> None:
    prefetch: Prefetcher[int] = Prefetcher()
    prefetch.ahead([(1, TAG, lambda: 10)])
    assert prefetch.take(1, object()) is None  # the frame was replaced meanwhile
    prefetch.cancel()


# ---------------------------------------------------------------- through the FrameStore


def _raw(value: float) -> tuple:
    rgb = np.full((H, W, 3), value, np.float32)
    desc = {"encoding": "raw", "dtype": "float32", "shape": [H, W, 3], "colourspace": "srgb"}
    return rgb.tobytes(), desc


@pytest.fixture
def store(tmp_path: Path):
    store = FrameStore(tmp_path, 1, 6, W, H)
    for frame in range(1, 7):
        store.put_image(frame, *_raw(frame / 10))
    yield store
    store.cancel_prefetch()


def test_store_takes_prefetched_frames_without_decoding_on_the_caller(store, monkeypatch) -> None:
    decode, threads = store._decode, []

    def counting(frame, entry):
        threads.append(threading.current_thread().name)
        return decode(frame, entry)

    monkeypatch.setattr(store, "_decode", counting)
    store.prefetch([1, 2, 3])
    for index in (1, 2, 3):
        np.testing.assert_allclose(store.rgb(index).numpy(), (index + 1) / 10, atol=1e-6)
    assert len(threads) == 3
    assert all(name.startswith("plate-prefetch") for name in threads)


def test_store_reads_the_new_pixels_of_a_frame_replaced_after_prefetch(store) -> None:
    store.prefetch([2])
    store.put_image(3, *_raw(0.9))
    np.testing.assert_allclose(store.rgb(2).numpy(), 0.9, atol=1e-6)


def test_store_raises_a_prefetch_error_on_the_frame_that_needs_it(store, tmp_path) -> None:
    (stored,) = (tmp_path / "plate").glob("plate.*4.raw")
    stored.unlink()
    store.prefetch([2, 3])
    np.testing.assert_allclose(store.rgb(2).numpy(), 0.3, atol=1e-6)
    with pytest.raises(ProtocolError) as info:
        store.rgb(3)
    assert info.value.code == ErrorCode.FRAME_MISSING
    assert info.value.details["frame"] == 4
