"""The shared error taxonomy: a stable code, a message, and a hint that says how to fix it.

Codes are stable strings on the wire (PROTOCOL.md lists them; a test keeps the two in step). A
`ProtocolError` travels as an `error` message whose parent header is the failed request.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any, Dict, List, Mapping, Optional


class ErrorCode(str, Enum):
    # envelope and transport
    MALFORMED = "malformed_message"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED = "replayed_message"
    STALE = "stale_message"
    TOO_LARGE = "message_too_large"
    VERSION_MISMATCH = "protocol_version_mismatch"
    UNKNOWN_MESSAGE_TYPE = "unknown_message_type"
    INVALID_FIELD = "invalid_field"
    TIMEOUT = "timeout"
    BACKEND_UNREACHABLE = "backend_unreachable"
    # shots, frames, objects
    UNKNOWN_SHOT = "unknown_shot"
    SHOT_MISMATCH = "shot_mismatch"
    UNKNOWN_OBJECT = "unknown_object"
    UNKNOWN_JOB = "unknown_job"
    FRAME_OUT_OF_RANGE = "frame_out_of_range"
    FRAME_SIZE_MISMATCH = "frame_size_mismatch"
    FRAME_MISSING = "frame_missing"
    BAD_IMAGE = "bad_image"
    NO_PROMPT = "no_prompt"
    PATH_NOT_ALLOWED = "path_not_allowed"
    # resources and models
    DISK_FULL = "disk_full"
    OUT_OF_MEMORY = "out_of_memory"
    MODEL_UNAVAILABLE = "model_unavailable"
    CHECKPOINT_INVALID = "checkpoint_invalid"
    BUSY = "busy"
    SHUTTING_DOWN = "shutting_down"
    INTERNAL = "internal_error"
    # 1.1
    DAMAGED_STATE = "damaged_state"


# The default hint for each code: what the artist or TD can do about it.
HINTS: Dict[ErrorCode, str] = {
    ErrorCode.MALFORMED: (
        "The message could not be parsed; plugin and backend may be different builds."
    ),
    ErrorCode.BAD_SIGNATURE: (
        "Signature check failed: the plugin and the backend use different connection files. "
        "Restart the backend, or point SAM2MATTING_CONNECTION_FILE at the file it wrote."
    ),
    ErrorCode.REPLAYED: "A message was received twice and ignored; retry the action.",
    ErrorCode.STALE: (
        "The message's timestamp is too old: check that the clocks of both machines agree."
    ),
    ErrorCode.TOO_LARGE: (
        "Send fewer or smaller frames per message, or raise the backend's size limits."
    ),
    ErrorCode.VERSION_MISMATCH: (
        "Plugin and backend speak different protocol versions: update both."
    ),
    ErrorCode.UNKNOWN_MESSAGE_TYPE: "The backend does not know this request: update the backend.",
    ErrorCode.INVALID_FIELD: "A request field has the wrong type or value; see the details.",
    ErrorCode.TIMEOUT: "The backend did not answer in time; it may be busy or stopped.",
    ErrorCode.BACKEND_UNREACHABLE: "No backend is running: start it with 'sam2matting serve'.",
    ErrorCode.UNKNOWN_SHOT: (
        "Open the shot first (open_shot), or re-open it after a backend restart."
    ),
    ErrorCode.SHOT_MISMATCH: (
        "A shot with this id exists with another format or range: use a new shot id."
    ),
    ErrorCode.UNKNOWN_OBJECT: "Add a prompt for this object before tracking or removing it.",
    ErrorCode.UNKNOWN_JOB: "That job has already finished or never existed.",
    ErrorCode.FRAME_OUT_OF_RANGE: (
        "The frame is outside the shot's frame range; check the node's range."
    ),
    ErrorCode.FRAME_SIZE_MISMATCH: (
        "The frame's size differs from the shot's format; crop to the format."
    ),
    ErrorCode.FRAME_MISSING: "Send the frame's pixels (put_frames) before tracking over it.",
    ErrorCode.BAD_IMAGE: "The image bytes could not be decoded; re-render the frame.",
    ErrorCode.NO_PROMPT: "Give at least one point, a box or a mask on a frame before tracking.",
    ErrorCode.PATH_NOT_ALLOWED: (
        "The backend may only read under its allowed roots (SAM2MATTING_ALLOWED_ROOTS); "
        "send pixels inline instead."
    ),
    ErrorCode.DISK_FULL: "The cache disk is full: free space or move the cache folder.",
    ErrorCode.OUT_OF_MEMORY: (
        "The GPU ran out of memory: use a smaller tracker, fewer objects, or enable CPU offload."
    ),
    ErrorCode.MODEL_UNAVAILABLE: (
        "Install the model files with the installer, or choose another model."
    ),
    ErrorCode.CHECKPOINT_INVALID: (
        "The model file is damaged or not the expected one: reinstall it."
    ),
    ErrorCode.BUSY: (
        "The backend is busy (another client's job runs on this shot, or a limit on waiting "
        "work is reached): wait, or cancel the running job."
    ),
    ErrorCode.SHUTTING_DOWN: "The backend is shutting down; start it again.",
    ErrorCode.INTERNAL: "An unexpected backend error; the backend log has the details.",
    ErrorCode.DAMAGED_STATE: (
        "A file the backend keeps for this shot is damaged (disk fault or an outside edit); it "
        "was set aside, not deleted. Send the frames again or track again; restore shot.json "
        "from a backup or an exported shot file if it is the one named."
    ),
}


class ProtocolError(Exception):
    """A failure both sides can name: stable code, human message, fixing hint, optional details."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        hint: Optional[str] = None,
        details: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.hint = HINTS[self.code] if hint is None else hint
        self.details: Dict[str, Any] = dict(details or {})
        # Set by the envelope decoder: where the failed message came from and, when readable,
        # its header, so that the error reply can be routed and matched to the request.
        self.identities: List[bytes] = []
        self.header: Dict[str, Any] = {}

    def __str__(self) -> str:
        return f"[{self.code.value}] {self.message} ({self.hint})"

    def to_content(self) -> Dict[str, Any]:
        return {
            "code": self.code.value,
            # An error may echo what a peer sent (a field name, a value): keep it sendable.
            "message": printable(self.message, 8192),
            "hint": printable(self.hint, 2048),
            "details": {
                printable(str(k), 64): _scalar(v) for k, v in list(self.details.items())[:32]
            },
        }

    @classmethod
    def from_content(cls, content: Mapping[str, Any]) -> ProtocolError:
        try:
            code = ErrorCode(content.get("code"))
        except ValueError:  # a newer peer's code we do not know: keep its text
            code = ErrorCode.INTERNAL
        return cls(
            code,
            str(content.get("message", "")),
            hint=content.get("hint"),
            details=content.get("details") or {},
        )


def _scalar(value: Any) -> Any:
    """Details travel as scalars; anything else is summarised as compact JSON text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return printable(text, 1024)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable(text: str, limit: int) -> str:
    """`text` with control characters (NUL included, which no string on the wire may carry)
    written as escapes, cut to `limit` characters."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)[:limit]
