"""The describe reply: what really works on this machine, and why anything does not."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict

from sam2matting.backend.device import device_info
from sam2matting.protocol.limits import wire_limits
from sam2matting.protocol.version import PROTOCOL_VERSION, package_version

if TYPE_CHECKING:
    from sam2matting.backend.server.app import BackendServer


def describe_reply(server: BackendServer, shares_filesystem: bool) -> Dict[str, Any]:
    tracker_caps, engine_caps = server.models.capabilities()
    with server.shots_lock:
        shots = sorted(server.shots)
    return {
        "package_version": package_version(),
        "protocol_version": PROTOCOL_VERSION,
        "server_id": server.endpoint.session.client_id,
        "hostname": socket.gethostname(),
        "shares_filesystem": shares_filesystem,
        "device": device_info(server.device),
        "trackers": [c.to_wire() for c in tracker_caps],
        "engines": [c.to_wire() for c in engine_caps],
        # every limit of limits.py, with this server's envelope settings over the defaults
        "limits": dict(wire_limits(), **server.endpoint.session.limits.to_wire()),
        "shots": shots,  # the open shots (closed ones stay in the cache and re-open by id)
        "allowed_roots": [str(Path(r).expanduser().resolve()) for r in server.config.allowed_roots],
    }
