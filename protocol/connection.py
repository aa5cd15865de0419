"""The connection file: endpoint + signing key, written owner-only (0600), read by both sides.

Like Jupyter's kernel connection files: whoever can read the file can talk to the backend, so it
is created with mode 0600 from the start (never chmod-ed after the fact) and refused on read if
group or others can read it, if it is a symbolic link, or if another user owns it.

Protocol 1.1 adds transport authentication: besides `port` (the 1.0 endpoint, where anyone who
can connect may send bytes before the signature check), the backend listens on `auth_port`,
where ZeroMQ itself refuses a connection whose credentials do not derive from the key, before
the peer can send a single message (`auth_mechanism` "plain" on loopback, "curve" beyond it:
CURVE also encrypts). Both credentials derive from the key (`zmq_credentials`), so the file
holds one secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import stat
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from .atomic import atomic_write_json
from .errors import ErrorCode, ProtocolError
from .version import PROTOCOL_VERSION

SIGNATURE_SCHEME = "hmac-sha256"
DEFAULT_IP = "127.0.0.1"
AUTH_MECHANISMS = ("plain", "curve")
PLAIN_USERNAME = b"sam2matting"
_KEY_BYTES = 32
_KEY_MIN_HEX, _KEY_MAX_HEX = 32, 128
_KEY_MIN_DISTINCT = 8  # a random 32-hex key has fewer distinct digits with p < 1e-7
_WILDCARDS = {"*": "0.0.0.0", "0.0.0.0": "0.0.0.0", "::": "::"}  # noqa: S104 - names, not binds


def new_key() -> str:
    """A fresh random signing key (hex)."""
    return secrets.token_hex(_KEY_BYTES)


def key_problem(key: str) -> Optional[str]:
    """Why `key` is not an acceptable signing key, or None.

    Keys are hex strings of 32 to 128 digits, and not an obvious pattern (at least 8 distinct
    digits): the HMAC key is the key's ASCII bytes, so its strength is its randomness.
    """
    if not _KEY_MIN_HEX <= len(key) <= _KEY_MAX_HEX:
        return f"the signing key has {len(key)} characters, not {_KEY_MIN_HEX} to {_KEY_MAX_HEX}"
    if any(c not in string.hexdigits for c in key):
        return "the signing key must be hexadecimal digits only"
    if len(set(key.lower())) < _KEY_MIN_DISTINCT:
        return "the signing key is not random (too few distinct digits)"
    return None


def is_loopback(ip: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; False for wildcards, interfaces and names."""
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def normalise_bind_ip(ip: str) -> str:
    """What to bind: '*' becomes '0.0.0.0' (ZeroMQ's '*' would also be written to the file)."""
    return _WILDCARDS.get(ip, ip)


def connect_ip(bind_ip: str) -> str:
    """The address clients on this machine connect to for a bind address (wildcard -> loopback)."""
    bind_ip = normalise_bind_ip(bind_ip)
    if bind_ip == "0.0.0.0":  # noqa: S104 - comparing, not binding
        return DEFAULT_IP
    if bind_ip == "::":
        return "::1"
    return bind_ip


def tcp_endpoint(ip: str, port: int) -> str:
    """'tcp://127.0.0.1:5555' or, for IPv6, 'tcp://[::1]:5555'."""
    host = f"[{ip}]" if ":" in ip else ip
    return f"tcp://{host}:{port}"


def zmq_credentials(key: str, mechanism: str) -> Dict[str, bytes]:
    """Socket credentials derived from the key, for both ends of an authenticated endpoint.

    plain: username 'sam2matting', password = hex HMAC-SHA256(key, 'sam2matting zmq plain').
    curve: 32-byte secret keys HMAC-SHA256(key, 'sam2matting curve server' | '... client'),
    Z85-encoded; public keys computed from them.
    """
    if mechanism == "plain":
        return {"username": PLAIN_USERNAME, "password": _derive(key, "zmq plain").hex().encode()}
    if mechanism == "curve":
        import zmq
        from zmq.utils import z85

        server_secret = z85.encode(_derive(key, "curve server"))
        client_secret = z85.encode(_derive(key, "curve client"))
        return {
            "server_secret": server_secret,
            "server_public": zmq.curve_public(server_secret),
            "client_secret": client_secret,
            "client_public": zmq.curve_public(client_secret),
        }
    raise ValueError(f"unknown auth mechanism {mechanism!r}; expected one of {AUTH_MECHANISMS}")


def _derive(key: str, label: str) -> bytes:
    return hmac.new(key.encode("ascii"), b"sam2matting " + label.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class ConnectionInfo:
    """Where the backend listens and the key both sides sign with."""

    key: str
    ip: str = DEFAULT_IP
    port: int = 0  # 0: the server picks a free port when it binds and rewrites the file
    transport: str = "tcp"
    signature_scheme: str = SIGNATURE_SCHEME
    # 1.1: the authenticated endpoint ("" / 0 when the backend offers none, as 1.0 backends)
    auth_mechanism: str = ""
    auth_port: int = 0

    @property
    def endpoint(self) -> str:
        """The 1.0 endpoint (no transport authentication)."""
        if self.transport == "tcp":
            return tcp_endpoint(self.ip, self.port)
        return f"{self.transport}://{self.ip}"

    @property
    def auth_endpoint(self) -> str:
        return tcp_endpoint(self.ip, self.auth_port)

    @property
    def uses_auth(self) -> bool:
        """Whether a 1.1 client connects to the authenticated endpoint."""
        return self.transport == "tcp" and bool(self.auth_mechanism) and self.auth_port > 0

    @property
    def client_endpoint(self) -> str:
        return self.auth_endpoint if self.uses_auth else self.endpoint

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "transport": self.transport,
            "ip": self.ip,
            "port": self.port,
            "key": self.key,
            "signature_scheme": self.signature_scheme,
            "protocol_version": PROTOCOL_VERSION,
        }
        if self.auth_mechanism:
            data.update(auth_mechanism=self.auth_mechanism, auth_port=self.auth_port)
        return data

    @classmethod
    def from_json(cls, data: Dict[str, Any], source: str = "connection file") -> ConnectionInfo:
        try:
            info = cls(
                key=str(data["key"]),
                ip=str(data.get("ip", DEFAULT_IP)),
                port=int(data.get("port", 0)),
                transport=str(data.get("transport", "tcp")),
                signature_scheme=str(data.get("signature_scheme", SIGNATURE_SCHEME)),
                auth_mechanism=str(data.get("auth_mechanism") or ""),
                auth_port=int(data.get("auth_port") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_file(source, f"missing or invalid field: {exc}") from exc
        if info.signature_scheme != SIGNATURE_SCHEME:
            raise _bad_file(source, f"unsupported signature scheme {info.signature_scheme!r}")
        problem = key_problem(info.key)
        if problem is not None:
            raise _bad_file(source, problem)
        if info.transport not in ("tcp", "ipc", "inproc"):
            raise _bad_file(source, f"unsupported transport {info.transport!r}")
        if info.auth_mechanism and info.auth_mechanism not in AUTH_MECHANISMS:
            raise _bad_file(source, f"unsupported auth mechanism {info.auth_mechanism!r}")
        return info


def write_connection_file(path: Union[str, Path], info: ConnectionInfo) -> Path:
    """Write atomically with mode 0600; the file never exists with wider permissions.

    The rename replaces a symbolic link at `path` itself, never the file it points to.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, info.to_json(), indent=2, mode=0o600)
    return path


def read_connection_file(path: Union[str, Path]) -> ConnectionInfo:
    """Read and check a connection file; refuse one that others can read or that is not ours."""
    path = Path(path)
    try:
        info = os.lstat(str(path))
    except OSError:
        info = None
    if info is None or not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        raise ProtocolError(
            ErrorCode.BACKEND_UNREACHABLE,
            f"no connection file at {path}",
            hint="Start the backend with 'sam2matting serve' (it writes this file), "
            "or set SAM2MATTING_CONNECTION_FILE to the file it wrote.",
        )
    problem = unsafe_file(path, info)
    if problem is not None:
        why, hint = problem
        raise _bad_file(str(path), why, hint=hint)
    try:
        with _open_no_follow(path) as fh:
            data = json.loads(fh.read(1 << 20).decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise _bad_file(str(path), f"cannot read it: {exc}") from exc
    if not isinstance(data, dict):
        raise _bad_file(str(path), "expected a JSON object")
    return ConnectionInfo.from_json(data, source=str(path))


def unsafe_file(path: Path, info: os.stat_result) -> Optional[Tuple[str, str]]:
    """(why, hint) when a key file must not be trusted: a link, another owner, open modes."""
    if stat.S_ISLNK(info.st_mode):
        return (
            "it is a symbolic link (someone could point it at their own key)",
            f"Delete the link and restart the backend: rm '{path}'",
        )
    if os.name != "posix":
        return None  # Windows: ACLs, not mode bits; the file lives in the user's profile
    if info.st_uid != os.getuid():
        return (
            f"it belongs to user id {info.st_uid}, not to you ({os.getuid()})",
            "Use your own connection file (SAM2MATTING_CONNECTION_FILE) or delete this one.",
        )
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"group or others can access it (mode {stat.S_IMODE(info.st_mode):o})",
            f"Run: chmod 600 '{path}'",
        )
    return None


def _open_no_follow(path: Path) -> Any:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    return os.fdopen(os.open(str(path), flags), "rb")


def _bad_file(source: str, why: str, hint: Optional[str] = None) -> ProtocolError:
    return ProtocolError(
        ErrorCode.INVALID_FIELD,
        f"connection file {source}: {why}",
        hint=hint or "Delete the file and restart the backend to write a fresh one.",
    )
