"""The worker thread: it alone holds the node's backend connection and runs one job at a time.

A job is a plain function `job(ctx, *args)`; it may return `(fn, args)`, the main-thread call
that reports its end (posted once the worker is free again). It reaches Nuke only through
`ctx.call` (run on the main thread and wait: renders, knob reads) and `ctx.post` (run on the main
thread later: status, progress). Cancel is thread-safe: it sets a flag the job checks, and when a
backend job is running it sends `cancel_request` from a second, short-lived connection (the first
one is busy waiting for progress).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

if TYPE_CHECKING:
    from sam2matting.protocol.client import Client

    from .backend import Settings

log = logging.getLogger(__name__)

# A job may return the main-thread call that reports its end: (function, args).
Final = Optional[Tuple[Callable[..., Any], Tuple[Any, ...]]]
Job = Callable[..., Final]


class CancelledError(Exception):
    """The artist cancelled before the backend job started."""


class MainThread:
    """How a worker reaches Nuke's main thread (NukeHost in Nuke, the same in tests)."""

    def __init__(self, post: Callable[..., None], call: Callable[..., Any]) -> None:
        self.post = post  # fire and forget
        self.call = call  # wait for the result


class JobContext:
    """What a running job gets: the connection, the main thread, the cancel flag."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self.main = worker.main
        self.cache: Dict[str, Any] = worker.cache  # per-connection facts (describe reply)

    @property
    def client(self) -> Client:
        return self._worker.client()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.main.call(fn, *args)

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        self.main.post(fn, *args)

    def cancelled(self) -> bool:
        return self._worker.cancel_event.is_set()

    def check_cancel(self) -> None:
        """Stop here (CancelledError) when the artist pressed Cancel."""
        if self.cancelled():
            raise CancelledError()

    def running_backend_job(self, job_id: Optional[str]) -> None:
        """Tell the worker which backend job runs now (so Cancel can reach it)."""
        with self._worker.lock:
            self._worker.job_id = job_id
        if job_id is not None and self.cancelled():
            self._worker.send_cancel(job_id)


class Worker:
    """One daemon thread with a queue of jobs and the node's Client."""

    def __init__(
        self,
        settings: Settings,
        main: MainThread,
        on_error: Callable[[BaseException], None],
        connect: Optional[Callable[[Settings], Client]] = None,
        name: str = "sam2matting-worker",
    ) -> None:
        self.settings = settings
        self.main = main
        self.on_error = on_error  # called on the main thread with a job's exception
        self._connect = connect
        self.cache: Dict[str, Any] = {}
        self.cancel_event = threading.Event()
        self.lock = threading.Lock()
        self.job_id: Optional[str] = None
        self._client: Optional[Client] = None
        self._jobs: queue.Queue[Optional[Tuple[Job, Tuple[Any, ...]]]] = queue.Queue()
        self._busy = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._started = False

    @property
    def busy(self) -> bool:
        return self._busy.is_set()

    def submit(self, job: Job, *args: Any) -> bool:
        """Queue a job; False (and nothing queued) when one is running or waiting."""
        with self.lock:
            if self._busy.is_set():
                return False
            self._busy.set()
            self.cancel_event.clear()
            if not self._started:
                self._thread.start()
                self._started = True
        self._jobs.put((job, args))
        return True

    def cancel(self) -> None:
        """Ask the running job to stop; reaches a running backend job at once."""
        self.cancel_event.set()
        with self.lock:
            job_id = self.job_id
        if job_id is not None:
            self.send_cancel(job_id)

    def send_cancel(self, job_id: str) -> None:
        thread = threading.Thread(
            target=self._cancel, args=(job_id,), daemon=True, name="sam2matting-cancel"
        )
        thread.start()

    def _cancel(self, job_id: str) -> None:
        from sam2matting.protocol.client import Client
        from sam2matting.protocol.errors import ProtocolError

        from .backend import read_info

        try:
            with Client(read_info(self.settings), timeout_s=5.0) as second:
                log.info("cancel %s: backend cancelled %s", job_id, second.cancel(job_id=job_id))
        except ProtocolError as exc:
            log.warning("could not send cancel for %s: %s", job_id, exc)

    def client(self) -> Client:
        """The connection, made on first use (and after a failure), on the worker thread."""
        if self._client is None:
            from .backend import connect

            self._client = (self._connect or connect)(self.settings)
            self.cache.clear()
        return self._client

    def drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
            self.cache.clear()

    def shutdown(self, timeout_s: float = 0.5) -> None:
        """Stop after the running job. Waits only briefly: this runs on the main thread, and a
        job waiting for the main thread (a render) would otherwise hold Nuke up."""
        self.cancel()
        if self._started:
            self._jobs.put(None)
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                self.drop_client()
                return
            job, args = item
            final: Final = None
            error: Optional[BaseException] = None
            try:
                final = job(JobContext(self), *args)
            except BaseException as exc:  # noqa: BLE001 - every failure reaches the artist
                error = exc
            finally:
                with self.lock:
                    self.job_id = None
                    self._busy.clear()
            # Reported only now, so the main thread never sees a finished job as still busy.
            if error is not None:
                self._failed(error)
            elif final is not None:
                self.main.post(final[0], *final[1])

    def _failed(self, exc: BaseException) -> None:
        from sam2matting.protocol.errors import ErrorCode, ProtocolError

        if isinstance(exc, ProtocolError) and exc.code in (
            ErrorCode.BACKEND_UNREACHABLE,
            ErrorCode.TIMEOUT,
            ErrorCode.BAD_SIGNATURE,
        ):
            self.drop_client()  # start clean next time: the backend may have been restarted
        if not isinstance(exc, ProtocolError):
            log.error("SAM2Matte job failed", exc_info=exc)
        try:
            self.main.post(self.on_error, exc)
        except Exception:
            log.exception("could not report a job failure to Nuke")
