"""Finding the backend: the connection file, the plugin's settings, starting the backend.

Plugin settings live beside the backend's, in the "nuke" object of ~/.sam2matting/config.json
(the backend reads only its "backend" object):

    {"nuke": {"start_backend": true, "backend_command": ["/opt/sam2/venv/bin/sam2matting", "serve"],
              "start_timeout_s": 120, "request_timeout_s": 60}}

Nothing here talks to Nuke. `sam2matting.protocol.client` (which needs pyzmq) is imported only
when a connection is made, so the node loads and renders from its cache without pyzmq.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional

from sam2matting.protocol import paths
from sam2matting.protocol.connection import ConnectionInfo, read_connection_file
from sam2matting.protocol.errors import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from sam2matting.protocol.client import Client

log = logging.getLogger(__name__)

# Backends this Nuke started: kept so their Popen objects are not collected while they run.
_started: List[subprocess.Popen[bytes]] = []


class Settings(NamedTuple):
    start_backend: bool = False
    backend_command: Optional[List[str]] = None  # default: the installer's venv
    start_timeout_s: float = 120.0  # the backend imports torch: allow for a slow first start
    request_timeout_s: float = 60.0
    connect_timeout_s: float = 3.0
    cache_template: Optional[str] = None  # where shot caches go (cache_paths.py)


def load_settings(environ: Optional[Dict[str, str]] = None) -> Settings:
    """The "nuke" object of the config file; defaults where absent. A bad file is reported."""
    path = paths.default_config_file(environ)
    if not path.is_file():
        return Settings()
    try:
        with open(str(path), encoding="utf-8") as fh:
            data = json.load(fh)
        section = data.get("nuke", {}) if isinstance(data, dict) else {}
        command = section.get("backend_command")
        if isinstance(command, str):
            command = command.split()
        return Settings(
            start_backend=bool(section.get("start_backend", False)),
            backend_command=[str(c) for c in command] if command else None,
            start_timeout_s=float(section.get("start_timeout_s", 120.0)),
            request_timeout_s=float(section.get("request_timeout_s", 60.0)),
            cache_template=_text(section.get("cache_template")),
        )
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD,
            f"cannot read the plugin settings in {path}: {exc}",
            hint='Fix the JSON of that file (the "nuke" object), or delete the object.',
        ) from exc


def _text(value: Any) -> Optional[str]:
    return str(value) if value else None


def default_command(environ: Optional[Dict[str, str]] = None) -> List[str]:
    """`sam2matting serve` from the environment the installer makes (~/.sam2matting/venv)."""
    venv = paths.home_dir(environ) / "venv"
    exe = venv / "Scripts" / "sam2matting.exe" if os.name == "nt" else venv / "bin" / "sam2matting"
    return [str(exe), "serve"]


def start_hint(settings: Settings) -> str:
    command = " ".join(settings.backend_command or default_command())
    return (
        f"Start the SAM2Matting backend in a terminal:\n    {command}\n"
        'or let Nuke start it: set "start_backend": true in the "nuke" object of '
        f"{paths.default_config_file()}."
    )


def unreachable(settings: Settings, why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BACKEND_UNREACHABLE, why, hint=start_hint(settings))


def read_info(settings: Settings) -> ConnectionInfo:
    """The connection file's endpoint and key; a file with port 0 means "not started"."""
    try:
        info = read_connection_file(paths.default_connection_file())
    except ProtocolError as exc:
        if exc.code is ErrorCode.BACKEND_UNREACHABLE:
            raise unreachable(settings, exc.message) from exc
        raise
    if info.transport == "tcp" and info.port == 0:
        raise unreachable(settings, "the backend is not running (its connection file has no port)")
    return info


def connect(settings: Settings) -> Client:
    """A Client talking to a live backend; starts the backend first if so configured."""
    from sam2matting.protocol.client import Client

    try:
        return _ping(Client, read_info(settings), settings)
    except ProtocolError as exc:
        if exc.code is not ErrorCode.BACKEND_UNREACHABLE or not settings.start_backend:
            raise
        log.info("no backend answered (%s); starting one", exc.message)
    start(settings)
    return wait_for_backend(settings)


def _ping(client_cls: Callable[..., Client], info: ConnectionInfo, settings: Settings) -> Client:
    client = client_cls(
        info, timeout_s=settings.request_timeout_s, connect_timeout_s=settings.connect_timeout_s
    )
    try:
        client.ping(timeout_s=max(2.0, settings.connect_timeout_s))
    except ProtocolError as exc:
        client.close()
        if exc.code in (ErrorCode.TIMEOUT, ErrorCode.BACKEND_UNREACHABLE):
            raise unreachable(settings, f"no backend answers at {info.endpoint}") from exc
        raise
    return client


def start(settings: Settings) -> subprocess.Popen[bytes]:
    """Launch `sam2matting serve` detached from Nuke, logging to ~/.sam2matting/logs."""
    command = list(settings.backend_command or default_command())
    if "--connection-file" not in command:
        command += ["--connection-file", str(paths.default_connection_file())]
    log_dir = paths.home_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "backend-started-by-nuke.log"
    log.info("starting the backend: %s (log: %s)", " ".join(command), log_path)
    kwargs: Dict[str, Any] = {"stdin": subprocess.DEVNULL, "close_fds": True}
    if os.name == "nt":
        kwargs["creationflags"] = getattr(subprocess, "DETACHED_PROCESS", 0)
    else:
        kwargs["start_new_session"] = True  # Nuke's Ctrl-C or exit must not stop it
    try:
        with open(str(log_path), "ab") as out:
            # The command comes from the user's own config file or the installer's default.
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, **kwargs)  # noqa: S603
    except OSError as exc:
        raise ProtocolError(
            ErrorCode.BACKEND_UNREACHABLE,
            f"could not start the backend ({' '.join(command)}): {exc}",
            hint='Install the backend (python3 installer/install.py), or set "backend_command" '
            f'in the "nuke" object of {paths.default_config_file()}.',
        ) from exc
    _started.append(process)
    return process


def wait_for_backend(settings: Settings) -> Client:
    """Poll the connection file and ping until the started backend answers."""
    from sam2matting.protocol.client import Client

    deadline = time.monotonic() + settings.start_timeout_s
    last: Optional[ProtocolError] = None
    while time.monotonic() < deadline:
        try:
            return _ping(Client, read_info(settings), settings)
        except ProtocolError as exc:
            if exc.code is not ErrorCode.BACKEND_UNREACHABLE:
                raise
            last = exc
        time.sleep(0.5)
    why = last.message if last else "no answer"
    log_path = paths.home_dir() / "logs" / "backend-started-by-nuke.log"
    raise unreachable(
        settings,
        f"the backend started by Nuke did not answer within {settings.start_timeout_s:.0f} s "
        f"({why}); see {log_path}",
    )
