"""Where requests with unbounded cost run: a few daemon threads, never the I/O thread.

Decoding frames, reading a shot's state from disk, planning a propagation over a long range,
probing a client's file: each can take long (big images, slow disks, stalled mounts), so the I/O
thread only hands them over and keeps answering pings and cancels. The queue is bounded in
requests and in buffer bytes (limits.py); beyond either, `submit` refuses and the caller answers
`busy`. Daemon threads: a request stuck in the kernel cannot hold up the backend's exit.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, List, Optional, Tuple

from sam2matting.protocol import limits
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

Work = Callable[[], None]


class RequestPool:
    def __init__(
        self,
        threads: int = 2,
        max_requests: int = limits.MAX_PENDING_REQUESTS,
        max_bytes: int = limits.MAX_PENDING_BYTES,
        name: str = "requests",
    ) -> None:
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self._queue: queue.Queue[Optional[Tuple[Work, int]]] = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self._pending_bytes = 0
        self._threads: List[threading.Thread] = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, work: Work, nbytes: int = 0) -> None:
        """Queue `work` (it answers its own request).

        Raises:
            ProtocolError: BUSY when the queue already holds its limit of requests or bytes.
        """
        with self._lock:
            if self._pending >= self.max_requests:
                raise _busy("max_pending_requests", f"{self._pending} requests are waiting")
            if self._pending_bytes + nbytes > self.max_bytes and self._pending:
                raise _busy("max_pending_bytes", f"{self._pending_bytes} bytes are waiting")
            self._pending += 1
            self._pending_bytes += nbytes
        self._queue.put((work, nbytes))

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish queued work, then stop; threads still stuck after `timeout_s` are abandoned."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout_s / max(len(self._threads), 1))
            if thread.is_alive():
                log.error("%s is still busy (a hung read?); leaving it behind", thread.name)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            work, nbytes = item
            try:
                work()
            except Exception:  # work answers its own errors; this guards the pool
                log.exception("request failed outside its own error handling")
            finally:
                with self._lock:
                    self._pending -= 1
                    self._pending_bytes -= nbytes
                # an idle thread must not keep the last request's shot (and its memory) alive
                del work, item


def _busy(limit: str, why: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.BUSY,
        f"the backend is busy: {why}",
        hint="Wait for the replies to earlier requests, then send again.",
        details={"limit": limit},
    )
