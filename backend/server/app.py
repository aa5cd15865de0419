"""The backend server: the I/O loop, open shots, the GPU worker and the matte writer.

Threads: the I/O thread polls the sockets and answers only what costs nothing (ping, cancel,
shutdown); every request that touches the disk or decodes anything runs on a small bounded pool
(`pool.py`: beyond its limits the answer is `busy`); everything that touches a tracker or an
engine runs on the one GPU worker; matte files are written on the writer thread. Replies from
other threads go through the endpoint's thread-safe `send`.

Every change to a shot is all-or-nothing across tracker, journal and cache (`shot.py`): the
journal write commits it, matte files keep an undo backup until then, and a tracker that took a
change which then failed is rebuilt from the journal.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import zmq

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.device import is_out_of_memory, resolve_device
from sam2matting.backend.server.jobs import PropagationJob
from sam2matting.backend.server.models import ModelPool
from sam2matting.backend.server.pool import RequestPool
from sam2matting.backend.server.shot import Shot
from sam2matting.backend.server.worker import GpuWorker, out_of_memory
from sam2matting.backend.server.writer import MatteWriter
from sam2matting.backend.shots.matte_cache import read_header
from sam2matting.backend.shots.records import ShotSettings
from sam2matting.protocol import limits as bounds
from sam2matting.protocol.cache_layout import object_channel
from sam2matting.protocol.connection import ConnectionInfo
from sam2matting.protocol.envelope import Buffer, Limits, Message
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.server import ServerEndpoint

log = logging.getLogger(__name__)
# How long the last replies (shutdown_reply, a job's end) may still go out after the sockets close.
CLOSE_LINGER_MS = 1000

Reply = Tuple[str, Dict[str, Any], Sequence[Buffer]]


class BackendServer:
    def __init__(
        self,
        config: BackendConfig,
        info: ConnectionInfo,
        limits: Optional[Limits] = None,
        context: Optional[zmq.Context] = None,  # type: ignore[type-arg]
        legacy: str = "auto",
        max_open_shots: int = bounds.MAX_OPEN_SHOTS,
    ) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.models = ModelPool(config, self.device)
        self.endpoint = ServerEndpoint(info, limits=limits, context=context, legacy=legacy)
        self.info = self.endpoint.bind()
        self.shots: Dict[str, Shot] = {}
        self.shots_lock = threading.Lock()
        self._opening: Dict[str, threading.Lock] = {}  # one opener per shot id
        self.max_open_shots = max_open_shots
        self.worker = GpuWorker(self._job_ended)
        self.writer = MatteWriter()
        self.requests = RequestPool()
        self.started = time.time()
        self._stop = threading.Event()
        from sam2matting.backend.server import handlers  # the request table

        self._handlers: Dict[str, Callable[[BackendServer, Message], None]] = handlers.TABLE

    # ------------------------------------------------------------ lifecycle

    def serve_forever(self) -> None:
        """Answer requests until `stop()` or a shutdown request."""
        self.worker.start()
        log.info("backend ready on %s (device %s)", self.info.endpoint, self.device)
        try:
            while not self._stop.is_set():
                msg = self.endpoint.poll(0.2)
                if msg is not None:
                    self._dispatch(msg)
        finally:
            self._close()

    def stop(self) -> None:
        self._stop.set()

    def _close(self) -> None:
        log.info("shutting down: cancelling jobs, flushing mattes")
        self.worker.stop()
        self.writer.close()
        self.requests.close()  # bounded: a request stuck on a hung mount is left behind
        self.endpoint.poll(0)  # send what the worker and writer queued last
        self.endpoint.close(linger_ms=CLOSE_LINGER_MS)

    # ------------------------------------------------------------ dispatch

    def _dispatch(self, msg: Message) -> None:
        handler = self._handlers.get(msg.msg_type)
        if handler is None:
            err = ProtocolError(ErrorCode.UNKNOWN_MESSAGE_TYPE, f"{msg.msg_type} is not handled")
            self.endpoint.send_error(msg, err)
            return
        self.answer(msg, lambda: handler(self, msg))

    def answer(self, msg: Message, work: Callable[[], Any]) -> None:
        """Run `work`; turn any failure into a typed error reply to `msg`."""
        try:
            work()
        except ProtocolError as exc:
            log.info("%s failed: %s", msg.msg_type, exc)
            self.endpoint.send_error(msg, exc)
        except Exception as exc:  # noqa: BLE001 - last resort: logged, answered as internal_error
            self.endpoint.send_error(msg, self._unexpected(msg, exc))

    def _unexpected(self, msg: Message, exc: Exception) -> ProtocolError:
        shot_id = msg.content.get("shot_id")
        if is_out_of_memory(exc) and isinstance(shot_id, str):
            with self.shots_lock:
                shot = self.shots.get(shot_id)
            if shot is not None:
                shot.release_caches()
            return out_of_memory(shot_id)
        if isinstance(exc, OSError) and exc.errno == 28:  # ENOSPC not already mapped
            return ProtocolError(ErrorCode.DISK_FULL, f"disk full: {exc}")
        log.exception("unexpected failure handling %s", msg.msg_type)
        return ProtocolError(ErrorCode.INTERNAL, f"{msg.msg_type} failed: {exc}")

    def reply(self, msg: Message, reply: Reply) -> None:
        msg_type, content, buffers = reply
        self.endpoint.send(msg, msg_type, content, buffers)

    def on_worker(
        self, msg: Message, shot: Optional[Shot], work: Callable[[], Reply], changes: bool = False
    ) -> None:
        """Queue `work` on the GPU worker as an interactive task; it replies when done.

        `changes`: the task changes the shot's prompts or objects. The mattes jobs computed
        before it are committed first, so its change applies to them too (a prompt then marks
        them stale instead of being overwritten by them).
        """
        shot_id = shot.shot_id if shot else None

        def task() -> None:
            if changes:
                self.writer.flush()
            self.answer(msg, lambda: self.reply(msg, work()))

        self.worker.submit(task, shot_id)

    def offload(self, msg: Message, work: Callable[[], None], nbytes: int = 0) -> None:
        """Run `work` on the request pool (it replies itself); `busy` when the pool is full."""
        try:
            self.requests.submit(lambda: self.answer(msg, work), nbytes)
        except ProtocolError as exc:
            self.endpoint.send_error(msg, exc)

    # ------------------------------------------------------------ shots

    def shot(self, shot_id: str) -> Shot:
        with self.shots_lock:
            shot = self.shots.get(shot_id)
        if shot is None:
            raise ProtocolError(
                ErrorCode.UNKNOWN_SHOT, f"shot {shot_id} is not open", details={"shot_id": shot_id}
            )
        shot.last_used = time.monotonic()
        return shot

    def open_shot(
        self, settings: ShotSettings, cache_dir: Optional[str] = None
    ) -> Tuple[Shot, bool]:
        """The open shot with this id, or load it from its journal, or create it.

        Runs on the request pool (it reads the shot's files). At most `max_open_shots` stay
        open: one more closes the least recently used shot without a running job.
        """
        with self.shots_lock:
            opening = self._opening.setdefault(settings.shot_id, threading.Lock())
        # Loading a shot reads its files (seconds for a long one): never under shots_lock,
        # which the I/O thread takes for every lookup. One opener per shot id at a time.
        with opening:
            with self.shots_lock:
                shot = self.shots.get(settings.shot_id)
                full = shot is None and len(self.shots) >= self.max_open_shots
                idle = self._idle_shot_to_close() if full else None
            if shot is not None:
                shot.last_used = time.monotonic()
                if shot.reconfigure(settings):  # another tracker: its session is now stale
                    self.worker.cancel(shot_id=shot.shot_id, reason="reconfigured")
                    self.worker.submit(shot.release, shot.shot_id)
                return shot, True
            root = self.shot_root(settings.shot_id, cache_dir)
            restored = (root / "shot.json").is_file()
            shot = Shot(settings, root, self.config, self.models)
            with self.shots_lock:
                self.shots[settings.shot_id] = shot
        if idle is not None:
            log.info("%d shots open: closing the least recently used, %s", len(self.shots), idle)
            self.close_shot(idle, delete_cache=False)
        return shot, restored

    def _idle_shot_to_close(self) -> str:
        busy = self.worker.busy_shots()
        idle = [s for s in self.shots.values() if s.shot_id not in busy]
        if not idle:
            raise ProtocolError(
                ErrorCode.BUSY,
                f"{len(self.shots)} shots are open and every one has a running job",
                hint="Wait for a job to finish or cancel one, or close a shot.",
                details={"limit": "max_open_shots"},
            )
        return min(idle, key=lambda s: s.last_used).shot_id

    def shot_root(self, shot_id: str, requested: Optional[str]) -> Path:
        """The shot's folder: the one the client asked for (open_shot_request.cache_dir, 1.1)
        when it is absolute, inside the cache root or an allowed root, and new, empty or already
        a shot's folder; else the default <cache_root>/<shot_id>. The reply's cache_dir tells
        the client which."""
        default = self.config.cache_root / shot_id
        if not requested or not Path(requested).is_absolute():
            return default
        resolved = Path(requested).resolve()
        roots = [
            Path(r).expanduser().resolve()
            for r in (self.config.cache_root, *self.config.allowed_roots)
        ]
        inside = any(resolved != r and resolved.is_relative_to(r) for r in roots)
        if inside and _usable_shot_folder(resolved):
            return resolved
        log.info(
            "shot %s: not keeping it in %s (outside the cache and allowed roots, or a "
            "folder holding other files); using %s",
            shot_id,
            requested,
            default,
        )
        return default

    def close_shot(self, shot_id: str, delete_cache: bool) -> None:
        shot = self.shot(shot_id)
        self.worker.cancel(shot_id=shot_id, reason="shot_closed")
        with self.shots_lock:
            self.shots.pop(shot_id, None)

        def release() -> None:
            shot.release()
            if delete_cache:
                root = shot.root.resolve()
                if self.config.cache_root.resolve() in root.parents:
                    shutil.rmtree(root, ignore_errors=True)

        self.worker.submit(release, shot_id)

    # ------------------------------------------------------------ propagation jobs

    def start_job(self, job: PropagationJob, reply: Callable[[], None]) -> None:
        """Register the job (BUSY if another client's job runs on the shot), send its reply,
        then let it run: its progress never overtakes the reply."""
        for old in self.worker.add_job(job):
            log.info("job %s replaces %s on shot %s", job.job_id, old.job_id, job.shot.shot_id)
        try:
            reply()
        finally:
            self.worker.release(job)

    def job_frame(
        self,
        job: PropagationJob,
        frame: int,
        alphas: Optional[Dict[int, np.ndarray]],
        revision: int,
    ) -> None:
        """Worker -> writer: commit the frame's matte (file + journal), then report progress.

        `alphas` None: the frame's cached matte is current (the prompt's, Shot.
        prompt_matte_current) and is reported as it is."""
        msg = job.request

        def write() -> None:
            if job.write_error is not None:
                return
            try:
                if alphas is None:
                    path = job.shot.cache.path(frame)
                else:
                    path = job.shot.commit_frame(frame, alphas, revision)
            except Exception as exc:  # noqa: BLE001 - the job must end with an error, not "done"
                typed = exc if isinstance(exc, ProtocolError) else None
                job.write_error = typed or self._unexpected(msg, exc)
                job.cancel("requested")
                return
            content, buffers = self.matte_delivery(msg.content.get("matte", "path"), path)
            fps = job.done / max(job.elapsed(), 1e-6)
            content.update(
                job_id=job.job_id,
                shot_id=job.shot.shot_id,
                frame=frame,
                done=job.done,
                total=job.total,
                objects=sorted(job.objects if alphas is None else alphas),
                frames_per_second=fps,
            )
            self.endpoint.send(msg, "progress", content, buffers)

        self.writer.submit(write)

    def _job_ended(self, job: PropagationJob, kind: str, error: Optional[ProtocolError]) -> None:
        msg = job.request

        def report() -> None:
            failure = job.write_error or error
            if failure is not None:
                self.endpoint.send_error(msg, failure)
                return
            content: Dict[str, Any] = {
                "job_id": job.job_id,
                "shot_id": job.shot.shot_id,
                "frames_done": job.done,
                "elapsed_s": job.elapsed(),
            }
            if kind == "cancelled":
                content.update(reason=job.cancel_reason, replaced_by=job.replaced_by)
            self.endpoint.send(msg, kind, content)
            log.info("job %s %s: %d frames in %.1f s", job.job_id, kind, job.done, job.elapsed())

        self.writer.submit(report)  # after the job's last frame is on disk

    @staticmethod
    def matte_delivery(how: str, path: Path) -> Tuple[Dict[str, Any], List[Buffer]]:
        """`matte_path` (shared filesystem) or the EXR bytes as a buffer, its channels named."""
        if how == "exr":
            data = path.read_bytes()
            objects = sorted(read_header(data, -1).objects)
            channels = ["A", *(object_channel(o) for o in objects)]
            desc = {
                "buffer": 0,
                "encoding": "exr",
                "channels": channels,
                "colourspace": "raw",
                "origin": "top_left",
            }
            return {"matte_path": None, "matte": desc}, [data]
        if how == "none":
            return {"matte_path": None, "matte": None}, []
        return {"matte_path": str(path), "matte": None}, []


def _usable_shot_folder(folder: Path) -> bool:
    """A folder the backend may make a shot's home: missing, empty, or a shot's already."""
    if not folder.exists():
        return True
    return folder.is_dir() and (not any(folder.iterdir()) or (folder / "shot.json").is_file())
