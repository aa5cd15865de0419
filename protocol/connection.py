"""The connection file: endpoint + signing key, written owner-only (0600), read by both sides.

Like Jupyter's kernel connection files: whoever can read the file can talk to the backend, so it
is created with mode 0600 from the start (never chmod-ed after the fact) and refused on read if
group or others can read it.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Union

from .atomic import atomic_write_json
from .errors import ErrorCode, ProtocolError
from .version import PROTOCOL_VERSION

SIGNATURE_SCHEME = "hmac-sha256"
DEFAULT_IP = "127.0.0.1"
_KEY_BYTES = 32


def new_key() -> str:
    """A fresh random signing key (hex)."""
    return secrets.token_hex(_KEY_BYTES)


@dataclass(frozen=True)
class ConnectionInfo:
    """Where the backend listens and the key both sides sign with."""

    key: str
    ip: str = DEFAULT_IP
    port: int = 0  # 0: the server picks a free port when it binds and rewrites the file
    transport: str = "tcp"
    signature_scheme: str = SIGNATURE_SCHEME

    @property
    def endpoint(self) -> str:
        if self.transport == "tcp":
            return f"tcp://{self.ip}:{self.port}"
        return f"{self.transport}://{self.ip}"

    def to_json(self) -> Dict[str, Any]:
        return {
            "transport": self.transport,
            "ip": self.ip,
            "port": self.port,
            "key": self.key,
            "signature_scheme": self.signature_scheme,
            "protocol_version": PROTOCOL_VERSION,
        }

    @classmethod
    def from_json(cls, data: Dict[str, Any], source: str = "connection file") -> ConnectionInfo:
        try:
            info = cls(
                key=str(data["key"]),
                ip=str(data.get("ip", DEFAULT_IP)),
                port=int(data.get("port", 0)),
                transport=str(data.get("transport", "tcp")),
                signature_scheme=str(data.get("signature_scheme", SIGNATURE_SCHEME)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_file(source, f"missing or invalid field: {exc}") from exc
        if info.signature_scheme != SIGNATURE_SCHEME:
            raise _bad_file(source, f"unsupported signature scheme {info.signature_scheme!r}")
        if len(info.key) < 32:
            raise _bad_file(source, "the signing key is too short (at least 32 hex characters)")
        if info.transport not in ("tcp", "ipc", "inproc"):
            raise _bad_file(source, f"unsupported transport {info.transport!r}")
        return info


def write_connection_file(path: Union[str, Path], info: ConnectionInfo) -> Path:
    """Write atomically with mode 0600; the file never exists with wider permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, info.to_json(), indent=2, mode=0o600)
    return path


def read_connection_file(path: Union[str, Path]) -> ConnectionInfo:
    """Read and check a connection file; refuse one that others can read (POSIX)."""
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(
            ErrorCode.BACKEND_UNREACHABLE,
            f"no connection file at {path}",
            hint="Start the backend with 'sam2matting serve' (it writes this file), "
            "or set SAM2MATTING_CONNECTION_FILE to the file it wrote.",
        )
    insecure = _insecure_mode(path)
    if insecure is not None:
        raise _bad_file(str(path), insecure, hint=f"Run: chmod 600 '{path}'")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise _bad_file(str(path), f"cannot read it: {exc}") from exc
    if not isinstance(data, dict):
        raise _bad_file(str(path), "expected a JSON object")
    return ConnectionInfo.from_json(data, source=str(path))


def _insecure_mode(path: Path) -> Optional[str]:
    if os.name != "posix":
        return None  # Windows: ACLs, not mode bits; the file lives in the user's profile
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"group or others can access it (mode {stat.S_IMODE(mode):o})"
    return None


def _bad_file(source: str, why: str, hint: Optional[str] = None) -> ProtocolError:
    return ProtocolError(
        ErrorCode.INVALID_FIELD,
        f"connection file {source}: {why}",
        hint=hint or "Delete the file and restart the backend to write a fresh one.",
    )
