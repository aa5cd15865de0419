"""The one GPU worker: it owns the models and runs every tracker/matting call.

Scheduling: interactive tasks (a prompt, answered with its frame's matte) always go first;
between them, running propagation jobs advance one frame each, round robin across shots. A
prompt therefore pre-empts a propagation within one frame, and the propagation then resumes.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from typing import Callable, List, Optional, Set, Tuple

from sam2matting.backend.device import is_out_of_memory
from sam2matting.backend.server.jobs import PropagationJob
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

Task = Callable[[], None]
# Called when a job ends: (job, "done" | "cancelled" | "error", error or None)
EndHandler = Callable[[PropagationJob, str, Optional[ProtocolError]], None]


class GpuWorker:
    def __init__(self, on_job_end: EndHandler) -> None:
        self._tasks: queue.Queue[Tuple[Task, Optional[str]]] = queue.Queue()
        self._jobs: OrderedDict[str, PropagationJob] = OrderedDict()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._on_job_end = on_job_end
        self._thread = threading.Thread(target=self._run, name="gpu-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    # ------------------------------------------------------------ called from other threads

    def submit(self, task: Task, shot_id: Optional[str] = None) -> None:
        """An interactive task (on `shot_id`, if it touches one): runs before the next step."""
        self._tasks.put((task, shot_id))
        self._wake.set()

    def add_job(self, job: PropagationJob) -> List[PropagationJob]:
        """Register a job, held until `release(job)` (so its reply can be sent first).

        A running job of the same client on the same shot is replaced (cancelled, reason
        "replaced"); one of another client is not touched: the new job is refused with BUSY.
        """
        with self._lock:
            others = [j for j in self._jobs.values() if j.shot is job.shot and not j.finished]
            foreign = [j for j in others if j.client_id != job.client_id and not j.cancel_requested]
            if foreign:
                raise ProtocolError(
                    ErrorCode.BUSY,
                    f"shot {job.shot.shot_id} has a running job {foreign[0].job_id} of another "
                    "client",
                    hint="Wait for it to finish, or cancel it (cancel_request) and track again.",
                    details={"job_id": foreign[0].job_id, "shot_id": job.shot.shot_id},
                )
            for old in others:
                old.cancel("replaced", job.job_id)
            job.held = True
            self._jobs[job.job_id] = job
        return others

    def release(self, job: PropagationJob) -> None:
        """Let a registered job run."""
        job.held = False
        self._wake.set()

    def cancel(
        self,
        job_id: Optional[str] = None,
        shot_id: Optional[str] = None,
        reason: str = "requested",
        tracking: Optional[int] = None,
    ) -> List[str]:
        """Cancel one job, or every job of a shot (only those tracking object `tracking`)."""
        with self._lock:
            hit = [
                j
                for j in self._jobs.values()
                if j.job_id == job_id or (shot_id is not None and j.shot.shot_id == shot_id)
            ]
            if tracking is not None:
                hit = [j for j in hit if tracking in j.objects]
            for job in hit:
                job.cancel(reason)
        self._wake.set()
        return [j.job_id for j in hit]

    def running(self) -> int:
        with self._lock:
            return len(self._jobs)

    def busy_shots(self) -> Set[str]:
        """Ids of the shots that have a job."""
        with self._lock:
            return {j.shot.shot_id for j in self._jobs.values()}

    # ------------------------------------------------------------ the worker thread

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._next_task()
            if item is not None:
                self._run_task(*item)
                item = None  # an idle worker keeps no closed shot alive
                continue
            job = self._next_job()
            if job is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            self._advance(job)
            job = None
        self._cancel_all()

    def _next_task(self) -> Optional[Tuple[Task, Optional[str]]]:
        try:
            return self._tasks.get_nowait()
        except queue.Empty:
            return None

    def _next_job(self) -> Optional[PropagationJob]:
        with self._lock:
            if not self._jobs:
                return None
            for job_id, job in list(self._jobs.items()):
                self._jobs.move_to_end(job_id)  # round robin between shots
                if not job.held:
                    return job
            return None

    def _run_task(self, task: Task, shot_id: Optional[str]) -> None:
        # Tasks report their own errors to their requester; this guards the worker itself.
        try:
            task()
        except Exception:
            log.exception("interactive task failed")
        with self._lock:  # the task may have changed this shot's tracker state
            for job in self._jobs.values():
                if job.shot.shot_id == shot_id:
                    job.interrupt()

    def _advance(self, job: PropagationJob) -> None:
        if job.cancel_requested:
            self._end(job, "cancelled", None)
            return
        try:
            job.step()
        except ProtocolError as exc:
            self._end(job, "error", exc)
            return
        except Exception as exc:  # noqa: BLE001 - last resort: logged, answered as internal_error
            self._end(job, "error", self._unexpected(job, exc))
            return
        if job.finished:
            self._end(job, "done", None)

    def _unexpected(self, job: PropagationJob, exc: Exception) -> ProtocolError:
        if is_out_of_memory(exc):
            job.shot.release_caches()
            return out_of_memory(job.shot.shot_id)
        log.exception("job %s failed", job.job_id)
        return ProtocolError(ErrorCode.INTERNAL, f"job {job.job_id} failed: {exc}")

    def _end(self, job: PropagationJob, kind: str, error: Optional[ProtocolError]) -> None:
        with self._lock:
            self._jobs.pop(job.job_id, None)
        job.shot.store.cancel_prefetch()  # done, cancelled, failed or shutting down
        self._on_job_end(job, kind, error)

    def _cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel("shutdown")
            self._end(job, "cancelled", None)


def out_of_memory(shot_id: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.OUT_OF_MEMORY,
        f"the GPU ran out of memory on shot {shot_id}; its tracker memory was freed",
        hint="Track fewer objects at once, choose a smaller tracker (sam2.1-tiny), or set "
        "SAM2MATTING_OFFLOAD_TO_CPU=1; then track again (prompts are kept).",
        details={"shot_id": shot_id},
    )
