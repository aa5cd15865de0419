"""The server end of the protocol: ROUTER sockets that yield verified requests.

Invalid messages never reach the application: they are answered here with a typed ``error``
(routed to the sender, parent = its claimed header when readable) and logged, at most
`REJECTION_LOG_PER_MINUTE` lines a minute. Only the thread that polls touches the sockets;
other threads (the GPU worker) hand replies and progress events over through ``send``, which
queues them and wakes the poller.

Two endpoints (protocol 1.1): the authenticated one (`auth_port`), where ZeroMQ refuses a peer
whose credentials do not derive from the key during the handshake, so nothing it sends is ever
buffered; and the 1.0 one (`port`), kept for 1.0 clients where the policy allows it (by default
only on loopback), where libzmq buffers a whole multipart message before the signature can be
checked. Messages larger than `INLINE_VERIFY_BYTES` are verified on a helper thread, so a big
message never holds up pings.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import zmq

from . import limits as bounds
from .auth import ZapHandler
from .connection import ConnectionInfo, connect_ip, is_loopback, normalise_bind_ip
from .envelope import Buffer, Limits, Message, Session
from .errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

Outgoing = Tuple[Message, str, Mapping[str, Any], Sequence[Buffer]]
LEGACY_POLICIES = ("auto", "on", "off")
INLINE_VERIFY_BYTES = 8 * 1024 * 1024  # larger messages are verified off the polling thread


class ServerEndpoint:
    """Binds ROUTER sockets on the connection info's endpoints and speaks the protocol there."""

    def __init__(
        self,
        info: ConnectionInfo,
        limits: Optional[Limits] = None,
        context: Optional[zmq.Context] = None,  # type: ignore[type-arg]
        legacy: str = "auto",
        auth_mechanism: Optional[str] = None,
    ) -> None:
        """Args:
        legacy: the 1.0 endpoint (no transport authentication): "auto" = only on loopback.
        auth_mechanism: "plain" or "curve" for the authenticated endpoint; None picks plain on
            loopback, curve beyond it (CURVE also encrypts); "" offers none (1.0 behaviour).
        """
        if legacy not in LEGACY_POLICIES:
            raise ValueError(f"legacy must be one of {LEGACY_POLICIES}, not {legacy!r}")
        ip = normalise_bind_ip(info.ip)
        self.info = ConnectionInfo(info.key, ip, info.port, info.transport)
        self.session = Session(info.key, client_id="server-" + uuid.uuid4().hex[:12], limits=limits)
        self.session.replay.not_before = time.time() - bounds.START_SKEW_S
        self._own_ctx = context is None
        self._ctx = context if context is not None else zmq.Context()
        tcp = info.transport == "tcp"
        mechanism = _mechanism(ip, auth_mechanism) if tcp else ""
        self._legacy = (not tcp) or legacy == "on" or (legacy == "auto" and is_loopback(ip))
        self._sockets: List[zmq.Socket] = []  # type: ignore[type-arg]
        self._zap: Optional[ZapHandler] = None
        self._auth: Optional[zmq.Socket] = None  # type: ignore[type-arg]
        self._mechanism = ""
        self._rejection_log = RateLimitedLog(bounds.REJECTION_LOG_PER_MINUTE)
        if mechanism:
            self._zap = ZapHandler(self._ctx, info.key, mechanism, warn=self._warn)
            self._auth = self._router(ZapHandler.configure_server(info.key, mechanism, ip))
            self._mechanism = mechanism
        self._plain = self._router(None) if self._legacy else None
        self._wake_addr = f"inproc://sam2matting-wake-{uuid.uuid4().hex}"
        self._wake_pull = self._ctx.socket(zmq.PULL)
        self._wake_pull.bind(self._wake_addr)
        self._wake_push = self._ctx.socket(zmq.PUSH)
        self._wake_push.connect(self._wake_addr)
        self._wake_lock = threading.Lock()
        self._outbox: queue.Queue[Outgoing] = queue.Queue()
        self._verified: queue.Queue[Message] = queue.Queue()
        self._verifier = _Verifier(self, bounds.MAX_PENDING_BYTES)
        self._poller = zmq.Poller()
        for sock in self._sockets:
            self._poller.register(sock, zmq.POLLIN)
        self._poller.register(self._wake_pull, zmq.POLLIN)
        self._loop_thread: Optional[int] = None
        self._closed = False
        self.rejected = 0  # messages refused by the decoder (for tests and stats)

    def _router(self, options: Optional[Dict[str, Any]]) -> zmq.Socket:  # type: ignore[type-arg]
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        # Hard cap per frame (memory protection); the decoder answers softer limit breaches.
        sock.setsockopt(zmq.MAXMSGSIZE, self.session.limits.max_buffer_bytes + 1)
        sock.setsockopt(zmq.RCVHWM, bounds.RECV_HWM)
        if ":" in self.info.ip:
            sock.setsockopt(zmq.IPV6, 1)
        for name, value in (options or {}).items():
            sock.setsockopt(getattr(zmq, name), value)
        self._sockets.append(sock)
        return sock

    def _warn(self, fmt: str, *args: Any) -> None:
        self._rejection_log.warning(log, fmt, *args)

    @property
    def mechanism(self) -> str:
        return self._mechanism

    def bind(self) -> ConnectionInfo:
        """Bind; a port of 0 picks a free one. Returns the info clients connect with."""
        info = self.info
        auth_port = 0
        if self._auth is not None:
            want = info.port if not self._legacy else 0
            auth_port = _bind(self._auth, info, want)
        port = _bind(self._plain, info, info.port) if self._plain is not None else auth_port
        self.info = ConnectionInfo(
            info.key,
            connect_ip(info.ip) if info.transport == "tcp" else info.ip,
            port,
            info.transport,
            auth_mechanism=self._mechanism,
            auth_port=auth_port,
        )
        log.info(
            "listening on %s (1.0 endpoint: %s; authenticated %s endpoint: %s)",
            info.ip,
            f"port {port}" if self._plain is not None else "off",
            self._mechanism or "-",
            auth_port or "off",
        )
        return self.info

    # ------------------------------------------------------------ receiving

    def poll(self, timeout_s: float) -> Optional[Message]:
        """Wait up to timeout_s for one valid request; flush queued sends meanwhile."""
        self._loop_thread = threading.get_ident()
        ready = self._ready()
        if ready is not None:
            return ready
        events = dict(self._poller.poll(int(timeout_s * 1000)))
        if self._wake_pull in events:
            self._drain_wakeups()
        self._flush()
        for channel, sock in enumerate(self._sockets):
            if sock in events:
                msg = self._receive(sock, channel)
                if msg is not None:
                    return msg
        return self._ready()

    def _ready(self) -> Optional[Message]:
        try:
            return self._verified.get_nowait()
        except queue.Empty:
            return None

    def _receive(self, sock: zmq.Socket, channel: int) -> Optional[Message]:  # type: ignore[type-arg]
        frames = sock.recv_multipart(copy=False)
        buffers = [f.buffer for f in frames]
        size = sum(memoryview(b).nbytes for b in buffers)
        if size > INLINE_VERIFY_BYTES:
            self._verifier.submit(buffers, channel, size)
            return None
        return self.decode(buffers, channel)

    def decode(self, buffers: Sequence[Buffer], channel: int) -> Optional[Message]:
        """Verify and validate; answer failures. Thread-safe (the verifier thread calls it)."""
        try:
            msg = self.session.deserialize(buffers)
        except ProtocolError as exc:
            self.rejected += 1
            self._warn("rejected message: %s", exc)
            # A ROUTER always prepends the sender's identity, even to garbage: answer it.
            exc.identities = exc.identities or [bytes(buffers[0])]
            try:
                self._send_error_raw(exc, channel)
            except (ProtocolError, zmq.ZMQError, ValueError) as unsendable:
                # Garbage must never stop the loop that serves everyone else: drop the answer.
                self._warn("could not answer a rejected message: %s", unsendable)
            return None
        msg.channel = channel
        if not msg.msg_type.endswith("_request"):
            err = ProtocolError(ErrorCode.INVALID_FIELD, f"{msg.msg_type} is not a request")
            self.send(msg, "error", err.to_content())
            return None
        return msg

    def deliver(self, msg: Message) -> None:
        """Hand a message verified off the polling thread to the next `poll`."""
        self._verified.put(msg)
        self._wake()

    # ------------------------------------------------------------ sending

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

    def _wake(self) -> None:
        with self._wake_lock:
            if not self._closed:
                self._wake_push.send(b"")

    def _send_now(self, item: Outgoing) -> None:
        parent, msg_type, content, buffers = item
        msg = self.session.msg(msg_type, content, parent=parent, buffers=buffers)
        self._sockets[parent.channel].send_multipart(self.session.serialize(msg), copy=False)

    def _send_error_raw(self, exc: ProtocolError, channel: int) -> None:
        # No verified request to answer: route by identity, echo the claimed msg_id if any.
        stand_in = Message("error", {}, dict(exc.header), identities=list(exc.identities))
        stand_in.channel = channel
        self.send(stand_in, "error", exc.to_content())

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

    def close(self, linger_ms: int = 0) -> None:
        """Close the sockets. `linger_ms`: how long replies already sent (a shutdown_reply)
        may still be delivered to their peers; 0 drops them, which a busy machine showed."""
        with self._wake_lock:
            self._closed = True
            self._verifier.stop()
            for sock in self._sockets:
                sock.close(linger=linger_ms)
            for sock in (self._wake_pull, self._wake_push):
                sock.close(linger=0)
            if self._zap is not None:
                self._zap.close()
        if self._own_ctx:
            self._ctx.term()


class _Verifier:
    """Verifies large messages on a daemon thread, within a budget of pending bytes."""

    def __init__(self, endpoint: ServerEndpoint, max_pending_bytes: int) -> None:
        self._endpoint = endpoint
        self._budget = max_pending_bytes
        self._pending = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[Optional[Tuple[Sequence[Buffer], int, int]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="verify-large", daemon=True)
        self._thread.start()

    def submit(self, buffers: Sequence[Buffer], channel: int, size: int) -> None:
        with self._lock:
            over = self._pending + size > self._budget
            if not over:
                self._pending += size
        if over:
            err = ProtocolError(
                ErrorCode.BUSY,
                f"{size} bytes refused: larger messages already wait for checking",
                hint="Wait for the replies to earlier requests, then send again.",
                details={"limit": "max_pending_bytes"},
            )
            err.identities = [bytes(buffers[0])]
            self._endpoint._send_error_raw(err, channel)
            return
        self._queue.put((buffers, channel, size))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            buffers, channel, size = item
            try:
                msg = self._endpoint.decode(buffers, channel)
                if msg is not None:
                    self._endpoint.deliver(msg)
            except Exception:  # a failure here must not stop verification of the next
                log.exception("verifying a large message failed")
            finally:
                with self._lock:
                    self._pending -= size

    def stop(self) -> None:
        self._queue.put(None)


class RateLimitedLog:
    """At most `per_minute` lines a minute; the others are counted and summarised."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.suppressed = 0
        self._window_start = time.monotonic()
        self._count = 0
        self._lock = threading.Lock()

    def warning(self, logger: logging.Logger, fmt: str, *args: Any) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= 60.0:
                if self.suppressed:
                    logger.warning("%d more like these in the last minute", self.suppressed)
                self._window_start, self._count, self.suppressed = now, 0, 0
            if self._count >= self.per_minute:
                self.suppressed += 1
                return
            self._count += 1
        logger.warning(fmt, *args)


def _mechanism(ip: str, wanted: Optional[str]) -> str:
    if wanted is not None:
        return wanted
    return "plain" if is_loopback(ip) else "curve"


def _bind(sock: zmq.Socket, info: ConnectionInfo, port: int) -> int:  # type: ignore[type-arg]
    if info.transport != "tcp":
        sock.bind(info.endpoint)
        return 0
    host = f"[{info.ip}]" if ":" in info.ip else info.ip
    if port == 0:
        return int(sock.bind_to_random_port(f"tcp://{host}"))
    sock.bind(f"tcp://{host}:{port}")
    return port
