"""The client library the Nuke plugin, the CLI and the farm use to drive a backend.

Never blocks forever: every wait has a deadline; while waiting on a long job the client pings
the backend, and a backend that stops answering is reported as ``backend_unreachable`` (the
socket is then recreated, so the next request starts clean). Not thread-safe: one thread owns a
Client (in Nuke, the worker thread); use a second Client to cancel from another thread.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Deque, Dict, Iterator, List, Mapping, Optional, Sequence

import zmq

from .auth import ZapHandler
from .connection import ConnectionInfo
from .envelope import Buffer, Limits, Message, Session
from .errors import ErrorCode, ProtocolError
from .messages import JOB_END, REQUESTS
from .version import package_version

log = logging.getLogger(__name__)


class Client:
    """A DEALER connection to one backend."""

    def __init__(
        self,
        info: ConnectionInfo,
        timeout_s: float = 30.0,
        heartbeat_s: float = 2.0,
        connect_timeout_s: float = 3.0,
        client_id: Optional[str] = None,
        limits: Optional[Limits] = None,
        context: Optional[zmq.Context] = None,  # type: ignore[type-arg]
    ) -> None:
        self.info = info
        self.timeout_s = timeout_s
        self.heartbeat_s = heartbeat_s
        self.connect_timeout_s = connect_timeout_s
        self.session = Session(info.key, client_id=client_id, limits=limits)
        self._ctx = context or zmq.Context.instance()
        self._inbox: Dict[str, Deque[Message]] = defaultdict(deque)
        self._unverified = 0  # replies we could not verify: a hint that the keys differ
        self._monitor: Optional[zmq.Socket] = None  # type: ignore[type-arg]
        self._socket = self._new_socket()

    # ------------------------------------------------------------ socket lifecycle

    def _new_socket(self) -> zmq.Socket:  # type: ignore[type-arg]
        sock: zmq.Socket = self._ctx.socket(zmq.DEALER)  # type: ignore[type-arg]
        sock.setsockopt(zmq.LINGER, 0)
        # Queue nothing for a backend that is not connected: sends fail fast instead.
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.MAXMSGSIZE, self.session.limits.max_buffer_bytes + 1)
        if ":" in self.info.ip:
            sock.setsockopt(zmq.IPV6, 1)
        if self.info.uses_auth:  # 1.1: the endpoint that refuses peers without the key
            ZapHandler.configure_client(sock, self.info.key, self.info.auth_mechanism)
            self._monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        sock.connect(self.info.client_endpoint)
        return sock

    def _close_socket(self) -> None:
        if self._monitor is not None:
            self._socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        self._socket.close(linger=0)

    def reconnect(self) -> None:
        """Drop the socket and everything queued on it; start a fresh connection."""
        self._close_socket()
        self._inbox.clear()
        self._socket = self._new_socket()

    def close(self) -> None:
        self._close_socket()

    def _refused_by_backend(self) -> bool:
        """Whether the backend refused this connection's credentials (a different key)."""
        if self._monitor is None:
            return False
        return bool(self._monitor.poll(0, zmq.POLLIN))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ core request/reply

    def send(
        self,
        msg_type: str,
        content: Optional[Mapping[str, Any]] = None,
        buffers: Sequence[Buffer] = (),
    ) -> Message:
        """Send a request without waiting; returns the sent message (its msg_id keys the reply)."""
        msg = self.session.msg(msg_type, content, buffers=buffers)
        if not self._socket.poll(int(self.connect_timeout_s * 1000), zmq.POLLOUT):
            refused = self._refused_by_backend()
            self.reconnect()
            if refused:
                raise ProtocolError(
                    ErrorCode.BAD_SIGNATURE,
                    f"the backend at {self.info.client_endpoint} refused this client's key",
                )
            raise ProtocolError(
                ErrorCode.BACKEND_UNREACHABLE,
                f"no backend is listening at {self.info.client_endpoint}",
            )
        self._socket.send_multipart(self.session.serialize(msg), copy=False)
        return msg

    def request(
        self,
        msg_type: str,
        content: Optional[Mapping[str, Any]] = None,
        buffers: Sequence[Buffer] = (),
        timeout_s: Optional[float] = None,
    ) -> Message:
        """Send a request and return its reply; an ``error`` reply raises ProtocolError."""
        if msg_type not in REQUESTS:
            raise ValueError(f"{msg_type} is not a request type")
        sent = self.send(msg_type, content, buffers)
        reply = self.wait(sent.msg_id, self.timeout_s if timeout_s is None else timeout_s)
        return _raise_on_error(reply)

    def wait(self, parent_id: str, timeout_s: float) -> Message:
        """The next message answering `parent_id`, or a timeout error."""
        deadline = time.monotonic() + timeout_s
        while True:
            box = self._inbox.get(parent_id)
            if box:
                return box.popleft()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout_error(timeout_s)
            self._receive(remaining)

    def _receive(self, timeout_s: float) -> None:
        if not self._socket.poll(max(1, int(timeout_s * 1000)), zmq.POLLIN):
            return
        frames = self._socket.recv_multipart(copy=False)
        try:
            msg = self.session.deserialize([f.buffer for f in frames])
        except ProtocolError as exc:
            self._unverified += 1
            log.warning("dropped a message from the backend: %s", exc)
            return
        if msg.parent_id is None:
            log.warning("dropped a %s without a parent", msg.msg_type)
            return
        self._inbox[msg.parent_id].append(msg)

    def _timeout_error(self, timeout_s: float) -> ProtocolError:
        if self._unverified:
            return ProtocolError(
                ErrorCode.BAD_SIGNATURE,
                f"the backend at {self.info.endpoint} answered with messages this client "
                "cannot verify",
            )
        return ProtocolError(
            ErrorCode.TIMEOUT, f"no answer from {self.info.endpoint} within {timeout_s:.1f} s"
        )

    # ------------------------------------------------------------ liveness

    def ping(self, timeout_s: Optional[float] = None) -> Dict[str, Any]:
        wait = self.heartbeat_s * 2 if timeout_s is None else timeout_s
        return self.request("ping_request", {}, timeout_s=wait).content

    def check_alive(self) -> None:
        """Heartbeat: raise backend_unreachable (and reset the socket) if ping goes unanswered."""
        try:
            self.ping()
        except ProtocolError as exc:
            if exc.code is ErrorCode.TIMEOUT:
                self.reconnect()
                raise ProtocolError(
                    ErrorCode.BACKEND_UNREACHABLE,
                    f"the backend at {self.info.endpoint} stopped answering",
                ) from exc
            raise

    # ------------------------------------------------------------ jobs

    def start_job(
        self,
        msg_type: str,
        content: Mapping[str, Any],
        buffers: Sequence[Buffer] = (),
        timeout_s: Optional[float] = None,
    ) -> Job:
        sent = self.send(msg_type, content, buffers)
        ack = _raise_on_error(
            self.wait(sent.msg_id, self.timeout_s if timeout_s is None else timeout_s)
        )
        return Job(self, sent, ack)

    # ------------------------------------------------------------ typed helpers

    def describe(self, probe_filesystem: bool = True) -> Dict[str, Any]:
        """Capabilities of the backend; checks whether it shares this machine's filesystem."""
        if not probe_filesystem:
            return self.request("describe_request", {"client_version": package_version()}).content
        folder = tempfile.mkdtemp(prefix="sam2matting-probe-")
        try:
            token = secrets.token_hex(16)
            path = str(Path(folder) / "probe.txt")
            with open(path, "w", encoding="ascii") as fh:
                fh.write(token)
            content = {
                "fs_probe": {"path": path, "token": token},
                "client_version": package_version(),
            }
            return self.request("describe_request", content).content
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def propagate(self, **content: Any) -> Job:
        return self.start_job("propagate_request", content)

    def cancel(self, job_id: Optional[str] = None, shot_id: Optional[str] = None) -> List[str]:
        reply = self.request("cancel_request", {"job_id": job_id, "shot_id": shot_id})
        return list(reply.content["cancelled"])

    def shutdown(self) -> None:
        self.request("shutdown_request", {})


class Job:
    """A long request (propagate): its acknowledgement, then progress events, then the end."""

    def __init__(self, client: Client, request: Message, ack: Message) -> None:
        self.client = client
        self.request = request
        self.ack = ack
        self.job_id: str = ack.content["job_id"]
        self.end: Optional[Message] = None  # done / cancelled, once reached

    def events(self, idle_timeout_s: Optional[float] = None) -> Iterator[Message]:
        """Yield `progress` messages until done/cancelled; an `error` end raises ProtocolError.

        Between events the backend is pinged every heartbeat; `idle_timeout_s` (default: none)
        bounds the time without any progress while the backend is alive.
        """
        last_event = time.monotonic()
        while self.end is None:
            try:
                msg = self.client.wait(self.request.msg_id, self.client.heartbeat_s)
            except ProtocolError as exc:
                if exc.code is not ErrorCode.TIMEOUT:
                    raise
                self.client.check_alive()
                if idle_timeout_s is not None and time.monotonic() - last_event > idle_timeout_s:
                    raise ProtocolError(
                        ErrorCode.TIMEOUT, f"job {self.job_id}: no progress for {idle_timeout_s} s"
                    ) from exc
                continue
            last_event = time.monotonic()
            if msg.msg_type in JOB_END:
                self.end = _raise_on_error(msg)
                return
            yield msg

    def cancel(self) -> List[str]:
        return self.client.cancel(job_id=self.job_id)


def _raise_on_error(msg: Message) -> Message:
    if msg.msg_type == "error":
        raise ProtocolError.from_content(msg.content)
    return msg
