"""Decoding the next plate frames on a background thread while the worker uses the current one.

A propagation reads frame n+1 as soon as frame n is matted; decoding it (read, colour, layout:
~70 ms of a 1080p frame) on the worker thread left the tracker and engine idle meanwhile. The
job names the frames it will need next (`ahead`) and the store takes each one from here when the
tracker asks for it (`take`).

Bounded: at most `depth` frames are pending or decoded at a time, on one thread: by default
the frame about to be read and the 3 after it. A 4K float frame is ~100 MB decoded, so that is
~400 MB at most (beside the store's own LRU of 3 decoded frames). A frame no longer wanted is
dropped (not yet started: cancelled; running: its result discarded). A decoding error is kept
with its frame and raised by `take` for the frame that needs it, never logged and forgotten.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Callable, Dict, Generic, Hashable, Iterable, Optional, Sequence, Tuple, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
AHEAD = 3  # frames decoded ahead of the one in hand: decode is ~0.1-0.2 s, compute more
DEFAULT_DEPTH = AHEAD + 1  # and the one in hand, usually being decoded already


class Prefetcher(Generic[T]):
    """Frames decoded ahead on one background thread, keyed by frame number."""

    def __init__(self, depth: int = DEFAULT_DEPTH, name: str = "plate-prefetch") -> None:
        if depth < 1:
            raise ValueError(f"prefetch depth must be at least 1, not {depth}")
        self.depth = depth
        self._name = name
        self._lock = threading.Lock()
        # frame -> (what the frame was when asked for: the store's entry, the decode)
        self._pending: Dict[int, Tuple[Hashable, Future[T]]] = {}
        self._executor: Optional[ThreadPoolExecutor] = None

    def ahead(self, wanted: Sequence[Tuple[int, Hashable, Callable[[], T]]]) -> None:
        """Decode these frames next, in this order (only the first `depth`); every other
        pending frame is dropped. Each item: (frame, tag, decode); `take` returns the result
        only to a caller with the same tag (the frame was not replaced meanwhile)."""
        wanted = list(wanted)[: self.depth]
        keep = {frame for frame, _, _ in wanted}
        with self._lock:
            self._drop_locked(f for f in list(self._pending) if f not in keep)
            for frame, tag, decode in wanted:
                known = self._pending.get(frame)
                if known is not None and known[0] is tag:
                    continue
                if known is not None:
                    known[1].cancel()
                self._pending[frame] = (tag, self._pool().submit(decode))

    def take(self, frame: int, tag: Hashable) -> Optional[T]:
        """The frame decoded ahead (waiting for it if it is being decoded), or None if it was
        not asked for, was dropped or was asked for with another tag.

        Raises:
            Exception: whatever decoding this frame raised, for the caller that needs it.
        """
        with self._lock:
            known = self._pending.pop(frame, None)
        if known is None or known[0] is not tag:
            return None
        try:
            return known[1].result()
        except CancelledError:  # dropped by a concurrent `ahead` or `cancel`
            return None

    def discard(self, frames: Optional[Iterable[int]] = None) -> None:
        """Drop these frames (default: all), e.g. their pixels were replaced."""
        with self._lock:
            self._drop_locked(list(self._pending) if frames is None else frames)

    def cancel(self) -> None:
        """Drop everything and stop the thread (a job ended, was cancelled, the server stops).

        Does not wait for a decode in progress (its result is dropped); a later `ahead` starts
        a new thread, so an idle shot holds none.
        """
        with self._lock:
            self._drop_locked(list(self._pending))
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _drop_locked(self, frames: Iterable[int]) -> None:
        for frame in list(frames):
            known = self._pending.pop(frame, None)
            if known is not None:
                known[1].cancel()  # one already running finishes; its result is dropped

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:  # started on first use: most shots never propagate
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        return self._executor
