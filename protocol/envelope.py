"""The one multipart envelope every message travels in, signed with HMAC-SHA256.

Wire layout (ROUTER side; a DEALER sees it without the routing identities)::

    [identity, ...] b"<IDS|MSG>" signature header parent_header metadata content buffer...

The signature is the hex HMAC-SHA256 of every part after it (the four JSON parts and every
buffer), so pixels cannot be altered in flight either. The signature is checked before any JSON
is parsed; replays are refused by remembering recent signatures and bounding message age.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import limits, messages
from .errors import ErrorCode, ProtocolError
from .version import PROTOCOL_VERSION, PROTOCOL_VERSION_INFO, parse_version

log = logging.getLogger(__name__)

DELIMITER = b"<IDS|MSG>"
Buffer = Union[bytes, bytearray, memoryview]


@dataclass(frozen=True)
class Limits:
    """Sizes the decoder accepts (configurable per side); larger messages are refused unread."""

    max_json_bytes: int = limits.MAX_JSON_BYTES
    max_buffers: int = limits.MAX_BUFFERS
    max_buffer_bytes: int = limits.MAX_BUFFER_BYTES
    max_total_bytes: int = limits.MAX_TOTAL_BYTES
    max_identities: int = limits.MAX_IDENTITIES
    # messages older (or further in the future) are refused
    replay_window_s: float = float(limits.REPLAY_WINDOW_S)
    replay_history: int = limits.REPLAY_HISTORY  # signatures remembered to refuse exact replays

    def to_wire(self) -> Dict[str, int]:
        return {
            "max_json_bytes": self.max_json_bytes,
            "max_buffers": self.max_buffers,
            "max_buffer_bytes": self.max_buffer_bytes,
            "max_total_bytes": self.max_total_bytes,
        }


@dataclass
class Message:
    """A decoded, verified and validated message."""

    msg_type: str
    content: Dict[str, Any]
    header: Dict[str, Any]
    parent_header: Dict[str, Any] = field(default_factory=dict)
    metadata: Dict[str, Any] = field(default_factory=dict)
    buffers: List[Buffer] = field(default_factory=list)
    identities: List[bytes] = field(default_factory=list)
    channel: int = 0  # which of a server's sockets it came through (replies go back there)

    @property
    def msg_id(self) -> str:
        return str(self.header["msg_id"])

    @property
    def parent_id(self) -> Optional[str]:
        parent = self.parent_header.get("msg_id")
        return str(parent) if parent is not None else None


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, allow_nan=False).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(part: Buffer, what: str) -> Dict[str, Any]:
    try:
        value = json.loads(bytes(part).decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.MALFORMED, f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ProtocolError(ErrorCode.MALFORMED, f"{what} must be a JSON object")
    return value


class ReplayGuard:
    """Refuses a signature seen before and a message outside the time window.

    The signatures seen live in memory only, so a receiver that restarts also sets
    `not_before` (its start time, less a small clock skew): a message captured before the
    restart is then refused as stale instead of being accepted a second time.
    """

    def __init__(self, window_s: float, history: int, not_before: float = 0.0) -> None:
        self.window_s = window_s
        self.history = history
        self.not_before = not_before
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()  # servers verify large messages off their I/O thread

    def check(self, signature: bytes) -> None:
        with self._lock:
            if signature in self._seen:
                raise ProtocolError(ErrorCode.REPLAYED, "message was already received (replay)")
            self._seen[signature] = None
            while len(self._seen) > self.history:
                self._seen.popitem(last=False)

    def check_age(self, sent: float, now: float) -> None:
        if self.window_s > 0 and abs(now - sent) > self.window_s:
            raise ProtocolError(
                ErrorCode.STALE,
                f"message timestamp is {now - sent:+.0f} s from this machine's clock "
                f"(window {self.window_s:.0f} s)",
            )
        if sent < self.not_before:
            raise ProtocolError(
                ErrorCode.STALE,
                f"message is dated {self.not_before - sent:.1f} s before this backend started: "
                "a message from before a restart is never accepted",
                hint="Send the request again (clocks of both machines must agree to a second).",
            )


class Session:
    """Signs, serialises, verifies and validates messages for one peer (client or server)."""

    def __init__(
        self,
        key: Union[str, bytes],
        client_id: Optional[str] = None,
        limits: Optional[Limits] = None,
    ) -> None:
        raw = key.encode("ascii") if isinstance(key, str) else key
        if len(raw) < 16:
            raise ValueError("signing key is too short")
        self._key = raw
        self.client_id = client_id or uuid.uuid4().hex
        self.limits = limits or Limits()
        self.replay = ReplayGuard(self.limits.replay_window_s, self.limits.replay_history)

    # ------------------------------------------------------------ outgoing

    def msg(
        self,
        msg_type: str,
        content: Optional[Mapping[str, Any]] = None,
        parent: Optional[Message] = None,
        buffers: Sequence[Buffer] = (),
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> Message:
        """Build and validate an outgoing message (our own bugs fail here, not at the peer)."""
        checked = messages.validate_content(msg_type, dict(content or {}))
        messages.check_buffers(checked, [memoryview(b).nbytes for b in buffers])
        header = {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "protocol_version": PROTOCOL_VERSION,
            "date": time.time(),
            "client_id": self.client_id,
        }
        return Message(
            msg_type=msg_type,
            content=checked,
            header=header,
            parent_header=dict(parent.header) if parent is not None else {},
            metadata=dict(metadata or {}),
            buffers=list(buffers),
            identities=list(parent.identities) if parent is not None else [],
            channel=parent.channel if parent is not None else 0,
        )

    def sign(self, parts: Sequence[Buffer]) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        return mac.hexdigest().encode("ascii")

    def serialize(self, msg: Message) -> List[Buffer]:
        parts: List[Buffer] = [
            _dumps(msg.header),
            _dumps(msg.parent_header),
            _dumps(msg.metadata),
            _dumps(msg.content),
            *msg.buffers,
        ]
        return [*msg.identities, DELIMITER, self.sign(parts), *parts]

    # ------------------------------------------------------------ incoming

    def deserialize(self, frames: Sequence[Buffer], now: Optional[float] = None) -> Message:
        """Verify and validate a received multipart message; raise a typed ProtocolError.

        On failure the error carries ``identities`` (so a server can route its error reply) and,
        when it could be read, the claimed ``header`` (so the sender can match the reply).
        """
        identities: List[bytes] = []
        try:
            identities, parts = self._split(frames)
            self._check_sizes(parts)
            signature = self._verify(parts)
            self.replay.check(signature)
            return self._decode(parts, identities, time.time() if now is None else now)
        except ProtocolError as exc:
            exc.identities = identities
            if not exc.header:
                exc.header = _peek_header(frames)
            raise

    def _verify(self, parts: Sequence[Buffer]) -> bytes:
        signature = bytes(parts[0])
        if not hmac.compare_digest(signature, self.sign(parts[1:])):
            raise ProtocolError(ErrorCode.BAD_SIGNATURE, "message signature does not match")
        return signature

    def _split(self, frames: Sequence[Buffer]) -> Tuple[List[bytes], List[Buffer]]:
        for i, frame in enumerate(frames[: self.limits.max_identities + 1]):
            if _is_delimiter(frame):
                identities = [bytes(f) for f in frames[:i]]
                parts = list(frames[i + 1 :])
                if len(parts) < 5:
                    raise ProtocolError(
                        ErrorCode.MALFORMED, f"envelope has {len(parts)} parts after the delimiter"
                    )
                return identities, parts
        raise ProtocolError(ErrorCode.MALFORMED, "no <IDS|MSG> delimiter in the first frames")

    def _check_sizes(self, parts: Sequence[Buffer]) -> None:
        lim = self.limits
        sizes = [memoryview(p).nbytes for p in parts]
        too_big = [
            sizes[0] > 128,
            any(s > lim.max_json_bytes for s in sizes[1:5]),
            len(parts) - 5 > lim.max_buffers,
            any(s > lim.max_buffer_bytes for s in sizes[5:]),
            sum(sizes) > lim.max_total_bytes,
        ]
        if any(too_big):
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"message of {len(parts) - 5} buffers and {sum(sizes)} bytes exceeds the limits",
                details=dict(lim.to_wire()),
            )

    def _decode(self, parts: Sequence[Buffer], identities: List[bytes], now: float) -> Message:
        header = messages.HEADER.check(_loads(parts[1], "header"), "header", lenient=True)
        lenient = self._check_version(header)
        self.replay.check_age(header["date"], now)
        parent = _loads(parts[2], "parent_header")
        metadata = messages.METADATA.check(_loads(parts[3], "metadata"), "metadata")
        msg_type = header["msg_type"]
        try:
            content = messages.validate_content(msg_type, _loads(parts[4], "content"), lenient)
            buffers = list(parts[5:])
            messages.check_buffers(content, [memoryview(b).nbytes for b in buffers])
        except ProtocolError as exc:
            exc.header = header
            raise
        return Message(msg_type, content, header, parent, metadata, buffers, identities)

    @staticmethod
    def _check_version(header: Dict[str, Any]) -> bool:
        """Same major: accept (lenient about fields a newer minor added). Else: typed error."""
        theirs = parse_version(header["protocol_version"])
        if theirs[0] != PROTOCOL_VERSION_INFO[0]:
            exc = ProtocolError(
                ErrorCode.VERSION_MISMATCH,
                f"peer speaks protocol {header['protocol_version']}, this side {PROTOCOL_VERSION}",
                details={"theirs": header["protocol_version"], "ours": PROTOCOL_VERSION},
            )
            exc.header = header
            raise exc
        return theirs[1] > PROTOCOL_VERSION_INFO[1]


def _peek_header(frames: Sequence[Buffer]) -> Dict[str, Any]:
    """Best-effort read of a rejected message's header, only to address the error reply."""
    try:
        idx = next(i for i, f in enumerate(frames[:9]) if _is_delimiter(f))
        part = frames[idx + 2]
        if memoryview(part).nbytes > 4096:
            return {}
        header = json.loads(bytes(part).decode("utf-8"))
        msg_id = header.get("msg_id") if isinstance(header, dict) else None
    except (
        StopIteration,
        ValueError,
        IndexError,
        UnicodeDecodeError,
        RecursionError,
        AttributeError,
    ):
        return {}
    if isinstance(msg_id, str) and len(msg_id) <= 64:
        return {"msg_id": msg_id}
    return {}


def _is_delimiter(frame: Buffer) -> bool:
    # Compare sizes first: never copy a pixel buffer just to look at it.
    return memoryview(frame).nbytes == len(DELIMITER) and bytes(frame) == DELIMITER
