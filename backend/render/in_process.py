"""A backend server on a thread of this process, reached over a real loopback socket.

A farm task is one process: `render` runs the same `BackendServer` the plugin talks to, on its
own thread with a fresh signing key and a private cache, and drives it through the protocol
client like any other host.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Type

from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo, new_key

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "sam2matting-render-"
STALE_SCRATCH_S = 3600.0  # a killed render's scratch folder is removed after this long
STOP_TIMEOUT_S = 60.0
CLIENT_TIMEOUT_S = 120.0  # opening a shot may load a model on a busy machine


class InProcessBackend:
    """Start with `with InProcessBackend(...) as client:`; stopped and joined on exit."""

    def __init__(self, config_file: Optional[Path], overrides: Mapping[str, Any]) -> None:
        """Build the server (binds 127.0.0.1 on a free port) from the config plus overrides.

        Raises:
            ValueError: a bad setting, or a device this machine does not have.
        """
        from sam2matting.backend.config import BackendConfig
        from sam2matting.backend.server.app import BackendServer
        from sam2matting.backend.threads import apply_cpu_threads

        config = BackendConfig.load(config_file, overrides=overrides)
        apply_cpu_threads()  # the render's process does nothing else: set once, here
        self.server = BackendServer(config, ConnectionInfo(new_key()))
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="render-backend", daemon=True
        )
        self._client: Optional[Client] = None

    def __enter__(self) -> Client:
        self._thread.start()
        self._client = Client(self.server.info, timeout_s=CLIENT_TIMEOUT_S)
        return self._client

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self._client is not None:
            self._client.close()
        self.server.stop()  # cancels running jobs; mattes already queued are still written
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("the backend thread did not stop within %.0f s", STOP_TIMEOUT_S)


def backend_overrides(
    cache_root: Path,
    plate_roots: Tuple[Path, ...],
    device: Optional[str],
    models_dir: Optional[Path],
) -> Dict[str, Any]:
    """A render's backend settings: a private cache, the plate's folders, the user's choices
    (None: the config's)."""
    values: Dict[str, Any] = {
        "cache_root": cache_root,
        "log_dir": cache_root.parent / "logs",
        "allowed_roots": plate_roots,
    }
    choices = {"device": device, "models_dir": models_dir}
    values.update({k: v for k, v in choices.items() if v is not None})
    return values


@contextlib.contextmanager
def scratch_folder(work_dir: Optional[Path]) -> Iterator[Path]:
    """A private folder for the backend's cache, removed afterwards.

    Named after this host and process, so that a later render can remove what a killed one
    left behind (`remove_stale_scratch`) without touching a running one.
    """
    base = work_dir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(base)
    prefix = f"{SCRATCH_PREFIX}{_host()}-{os.getpid()}-"
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_scratch(base: Path, max_age_s: float = STALE_SCRATCH_S) -> List[Path]:
    """Remove scratch folders of this host's renders whose process is gone and that are old."""
    import psutil

    pattern = re.compile(re.escape(f"{SCRATCH_PREFIX}{_host()}-") + r"(\d+)-")
    removed = []
    for entry in base.glob(f"{SCRATCH_PREFIX}*"):
        match = pattern.match(entry.name)
        if match is None or not entry.is_dir() or psutil.pid_exists(int(match.group(1))):
            continue
        if time.time() - entry.stat().st_mtime < max_age_s:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        log.info("removed the scratch folder of a killed render: %s", entry)
        removed.append(entry)
    return removed


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", socket.gethostname()) or "host"
