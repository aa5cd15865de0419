"""Matte files are written on their own thread, so the GPU never waits for the disk.

One thread, first in first out: progress events leave in frame order, and a job's end event
(queued after its last frame) is sent only once every frame of the job is on disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, Optional

log = logging.getLogger(__name__)

Task = Callable[[], None]


class MatteWriter:
    def __init__(self, max_pending: int = 8) -> None:
        # Bounded: if the disk falls behind, the worker waits instead of piling up frames.
        self._queue: queue.Queue[Optional[Task]] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._run, name="matte-writer", daemon=True)
        self._thread.start()

    def submit(self, task: Task) -> None:
        """Run `task` after everything submitted before it (it reports its own errors)."""
        self._queue.put(task)

    def flush(self) -> None:
        """Wait until every submitted task has run."""
        done = threading.Event()
        self._queue.put(done.set)
        done.wait()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                task()
            except Exception:  # a task's own error handling failed: keep writing the others
                log.exception("matte writer task failed")
            del task  # an idle writer must not keep the last job's shot alive
