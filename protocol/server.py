"""The server end of the protocol: a ROUTER socket that yields verified requests.

Invalid messages never reach the application: they are answered here with a typed ``error``
(routed to the sender, parent = its claimed header when readable) and logged. Only the thread
that polls touches the socket; other threads (the GPU worker) hand replies and progress events
over through ``send``, which queues them and wakes the poller.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import zmq

from .connection import ConnectionInfo
from .envelope import Buffer, Limits, Message, Session
from .errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

Outgoing = Tuple[Message, str, Mapping[str, Any], Sequence[Buffer]]


class ServerEndpoint:
    """Binds a ROUTER on the connection info's endpoint and speaks protocol v1 on it."""

    def __init__(
        self,
        info: ConnectionInfo,
        limits: Optional[Limits] = None,
        context: Optional[zmq.Context] = None,  # type: ignore[type-arg]
    ) -> None:
        self.info = info
        self.session = Session(info.key, client_id="server-" + uuid.uuid4().hex[:12], limits=limits)
        self._ctx = context or zmq.Context.instance()
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        # Hard cap per frame (memory protection); the decoder answers softer limit breaches.
        self._router.setsockopt(zmq.MAXMSGSIZE, self.session.limits.max_buffer_bytes + 1)
        self._wake_addr = f"inproc://sam2matting-wake-{uuid.uuid4().hex}"
        self._wake_pull = self._ctx.socket(zmq.PULL)
        self._wake_pull.bind(self._wake_addr)
        self._wake_push = self._ctx.socket(zmq.PUSH)
        self._wake_push.connect(self._wake_addr)
        self._wake_lock = threading.Lock()
        self._outbox: queue.Queue[Outgoing] = queue.Queue()
        self._poller = zmq.Poller()
        self._poller.register(self._router, zmq.POLLIN)
        self._poller.register(self._wake_pull, zmq.POLLIN)
        self._loop_thread: Optional[int] = None
        self._closed = False
        self.rejected = 0  # messages refused by the decoder (for tests and stats)

    def bind(self) -> ConnectionInfo:
        """Bind; a port of 0 picks a free one. Returns the info with the actual port."""
        if self.info.transport == "tcp" and self.info.port == 0:
            port = self._router.bind_to_random_port(f"tcp://{self.info.ip}")
            self.info = ConnectionInfo(self.info.key, self.info.ip, port, self.info.transport)
        else:
            self._router.bind(self.info.endpoint)
        log.info("listening on %s", self.info.endpoint)
        return self.info

    def poll(self, timeout_s: float) -> Optional[Message]:
        """Wait up to timeout_s for one valid request; flush queued sends meanwhile."""
        self._loop_thread = threading.get_ident()
        events = dict(self._poller.poll(int(timeout_s * 1000)))
        if self._wake_pull in events:
            self._drain_wakeups()
        self._flush()
        if self._router not in events:
            return None
        frames = self._router.recv_multipart(copy=False)
        return self._decode(frames)

    def _decode(self, frames: List[Any]) -> Optional[Message]:
        try:
            msg = self.session.deserialize([f.buffer for f in frames])
        except ProtocolError as exc:
            self.rejected += 1
            log.warning("rejected message: %s", exc)
            # A ROUTER always prepends the sender's identity, even to garbage: answer it.
            exc.identities = exc.identities or [bytes(frames[0])]
            self._send_error_raw(exc)
            return None
        if not msg.msg_type.endswith("_request"):
            err = ProtocolError(ErrorCode.INVALID_FIELD, f"{msg.msg_type} is not a request")
            self.send(msg, "error", err.to_content())
            return None
        return msg

    def send(
        self,
        parent: Message,
        msg_type: str,
        content: Mapping[str, Any],
        buffers: Sequence[Buffer] = (),
    ) -> None:
        """Send a reply or event for `parent`; safe from any thread. Dropped once closed."""
        if threading.get_ident() == self._loop_thread and not self._closed:
            self._send_now((parent, msg_type, content, buffers))
            return
        with self._wake_lock:
            if self._closed:
                log.debug("endpoint closed: dropped %s", msg_type)
                return
            self._outbox.put((parent, msg_type, content, buffers))
            self._wake_push.send(b"")

    def send_error(self, parent: Message, exc: ProtocolError) -> None:
        self.send(parent, "error", exc.to_content())

    def _send_now(self, item: Outgoing) -> None:
        parent, msg_type, content, buffers = item
        msg = self.session.msg(msg_type, content, parent=parent, buffers=buffers)
        self._router.send_multipart(self.session.serialize(msg), copy=False)

    def _send_error_raw(self, exc: ProtocolError) -> None:
        # No verified request to answer: route by identity, echo the claimed msg_id if any.
        msg = self.session.msg("error", exc.to_content())
        msg.identities = list(exc.identities)
        msg.parent_header = dict(exc.header)
        self._router.send_multipart(self.session.serialize(msg), copy=False)

    def _drain_wakeups(self) -> None:
        while True:
            try:
                self._wake_pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    def _flush(self) -> None:
        while True:
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                return
            try:
                self._send_now(item)
            except ProtocolError:
                # Our own outgoing message failed validation: a backend bug. Tell the client.
                log.exception("invalid outgoing %s", item[1])
                err = ProtocolError(ErrorCode.INTERNAL, f"backend produced an invalid {item[1]}")
                self._send_now((item[0], "error", err.to_content(), ()))

    def close(self) -> None:
        with self._wake_lock:
            self._closed = True
            for sock in (self._router, self._wake_pull, self._wake_push):
                sock.close(linger=0)
