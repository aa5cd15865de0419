"""The real backend for the end-to-end tests: `sam2matting serve` in its own process on loopback
(flow tracker, CPU), stopped with a shutdown request. Imported only by tests that have skipped
already where the backend cannot run (the Nuke-side interpreters have no torch)."""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo, read_connection_file
from sam2matting.protocol.errors import ProtocolError

START_TIMEOUT_S = 180.0
TRACK_TIMEOUT_S = 240.0


def skip_without_backend() -> None:
    """Skip the calling test module where the backend cannot run (no torch on the Nuke side, or
    a checkout whose server does not import): skipped, never faked."""
    pytest.importorskip("torch", reason="the backend needs torch (not installed on the Nuke side)")
    try:
        importlib.import_module("sam2matting.backend.server.app")
    except ImportError as exc:  # pragma: no cover - depends on the checkout's state
        pytest.skip(f"the backend server cannot be imported yet: {exc}", allow_module_level=True)


@contextlib.contextmanager
def serve(home: Path, tmp_path: Path, *extra: str) -> Iterator[ConnectionInfo]:
    """A running backend writing its connection file into `home`; `extra` serve arguments
    (e.g. "--allowed-root", folder)."""
    log = tmp_path / "serve.out"
    command = [
        sys.executable,
        "-m",
        "sam2matting.backend.cli.main",
        "serve",
        "--connection-file",
        str(home / "connection.json"),
        "--cache-root",
        str(tmp_path / "cache"),
        "--tracker",
        "flow",
        "--device",
        "cpu",
        "--log-file",
        str(tmp_path / "backend.log"),
        *extra,
    ]
    env = dict(os.environ, SAM2MATTING_HOME=str(home))
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield _wait_until_up(home / "connection.json", process, log)
    finally:
        _stop(home / "connection.json", process)


def _wait_until_up(path: Path, process: subprocess.Popen, log: Path) -> ConnectionInfo:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"sam2matting serve exited:\n{log.read_text()[-3000:]}"
        if path.is_file():
            try:
                info = read_connection_file(path)
                if info.port:
                    with Client(info, timeout_s=5) as client:
                        client.ping(timeout_s=5)
                    return info
            except ProtocolError:
                pass
        time.sleep(0.5)
    raise AssertionError(
        f"the backend did not come up in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
    )


def _stop(path: Path, process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            with Client(read_connection_file(path), timeout_s=10) as client:
                client.shutdown()
            process.wait(30)
        except (ProtocolError, subprocess.TimeoutExpired):
            process.kill()
            process.wait(10)
