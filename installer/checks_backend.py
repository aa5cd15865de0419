"""Doctor check for the backend: a signed ping (the protocol client), else a TCP connect."""

from __future__ import annotations

import socket
from typing import List, Tuple

from sam2matting.protocol import paths
from sam2matting.protocol.connection import ConnectionInfo

from .checks import NOTE, OK, Check, DoctorContext

# ---------------------------------------------------------------- backend


def backend(ctx: DoctorContext) -> List[Check]:
    from sam2matting.protocol.connection import read_connection_file
    from sam2matting.protocol.errors import ProtocolError

    area = "backend"
    try:
        info = read_connection_file(paths.default_connection_file())
    except ProtocolError as exc:
        return [Check(area, "backend", NOTE, f"not checked: {exc.message}", required=False)]
    start = (
        "sam2matting serve"
        if ctx.python is None
        else f"{ctx.python} -m sam2matting.backend.cli.main serve"
    )
    if info.transport == "tcp" and info.port == 0:
        return [
            Check(
                area,
                "backend",
                NOTE,
                "not started yet (the connection file has no port)",
                start,
                required=False,
            )
        ]
    status, detail = ping(info)
    return [Check(area, "backend", status, detail, None if status == OK else start, required=False)]


def ping(info: ConnectionInfo, timeout_s: float = 3.0) -> Tuple[str, str]:
    """A signed ping through the protocol client; a TCP connect when pyzmq is not importable."""
    try:
        from sam2matting.protocol.client import Client
    except ImportError:
        return _tcp_check(info, timeout_s)
    from sam2matting.protocol.errors import ProtocolError

    try:
        with Client(info, timeout_s=timeout_s, connect_timeout_s=timeout_s) as client:
            reply = client.ping(timeout_s=timeout_s)
    except ProtocolError as exc:
        return NOTE, f"no answer at {info.endpoint}: {exc.message}"
    return OK, (
        f"answers a signed ping at {info.endpoint} (up {reply.get('uptime_s', 0):.0f} s, "
        f"{reply.get('jobs_running', 0)} job(s) running)"
    )


def _tcp_check(info: ConnectionInfo, timeout_s: float) -> Tuple[str, str]:
    if info.transport != "tcp":
        return NOTE, f"not checked: {info.endpoint} needs pyzmq, which this Python lacks"
    try:
        with socket.create_connection((info.ip, info.port), timeout=timeout_s):
            pass
    except OSError as exc:
        return NOTE, f"nothing listens at {info.endpoint} ({exc.strerror or exc})"
    return OK, (
        f"something listens at {info.endpoint} (port open; signed ping not tried: "
        "pyzmq is not importable here; `sam2matting doctor` tries it)"
    )
