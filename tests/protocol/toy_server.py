"""A toy application on the real ServerEndpoint, for protocol-level tests (the real backend has
its own tests): answers ping and describe, runs a fake propagate job that streams progress and
honours cancel, and answers anything else with a typed error."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional

import zmq

from sam2matting.protocol.connection import ConnectionInfo, new_key
from sam2matting.protocol.envelope import Limits, Message
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.server import ServerEndpoint


class ToyServer:
    def __init__(
        self,
        transport: str = "tcp",
        frames: int = 5,
        frame_s: float = 0.01,
        limits: Optional[Limits] = None,
        context: Optional[zmq.Context] = None,
    ) -> None:
        ip = "127.0.0.1" if transport == "tcp" else f"toy-{id(self)}"
        self.endpoint = ServerEndpoint(
            ConnectionInfo(new_key(), ip=ip, transport=transport), limits=limits, context=context
        )
        self.info = self.endpoint.bind()
        self.frames, self.frame_s = frames, frame_s
        self.cancelled: Dict[str, threading.Event] = {}
        self.handled = 0
        self.paused = threading.Event()  # set: stop answering (a hung backend)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._jobs: List[threading.Thread] = []

    def __enter__(self) -> ToyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for event in list(self.cancelled.values()):
            event.set()
        for job in list(self._jobs):
            job.join(5)
        self._stop.set()
        self._thread.join(5)
        self.endpoint.close()

    def pause(self) -> None:
        """Stop answering, like a wedged process (waits until the loop has noticed)."""
        self.paused.set()
        time.sleep(0.1)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.paused.is_set():
                time.sleep(0.01)
                continue
            msg = self.endpoint.poll(0.02)
            if msg is not None:
                self.handled += 1
                self._handle(msg)

    def _handle(self, msg: Message) -> None:
        t = msg.msg_type
        if t == "ping_request":
            self.endpoint.send(
                msg,
                "ping_reply",
                {"server_time": time.time(), "uptime_s": 1.0, "jobs_running": len(self.cancelled)},
            )
        elif t == "propagate_request":
            job_id = f"job-{msg.msg_id[:8]}"
            self.cancelled[job_id] = threading.Event()
            self.endpoint.send(
                msg,
                "propagate_reply",
                {"job_id": job_id, "shot_id": "s", "frames_planned": self.frames, "unchanged": []},
            )
            job = threading.Thread(target=self._job, args=(msg, job_id), daemon=True)
            self._jobs.append(job)
            job.start()
        elif t == "cancel_request":
            ids = [j for j, ev in self.cancelled.items() if j == msg.content["job_id"]]
            for j in ids:
                self.cancelled[j].set()
            self.endpoint.send(msg, "cancel_reply", {"cancelled": ids})
        else:
            err = ProtocolError(ErrorCode.UNKNOWN_SHOT, f"toy server has no {t}")
            self.endpoint.send_error(msg, err)

    def _job(self, msg: Message, job_id: str) -> None:
        start = time.time()
        for i in range(self.frames):
            if self.cancelled[job_id].is_set():
                self._end(msg, "cancelled", job_id, i, start)
                return
            time.sleep(self.frame_s)
            self.endpoint.send(
                msg,
                "progress",
                {
                    "job_id": job_id,
                    "shot_id": "s",
                    "frame": 1001 + i,
                    "done": i + 1,
                    "total": self.frames,
                    "objects": [1],
                },
            )
        self._end(msg, "done", job_id, self.frames, start)

    def _end(self, msg: Message, kind: str, job_id: str, n: int, start: float) -> None:
        content: Dict[str, Any] = {
            "job_id": job_id,
            "shot_id": "s",
            "frames_done": n,
            "elapsed_s": time.time() - start,
        }
        self.endpoint.send(msg, kind, content)
        del self.cancelled[job_id]
