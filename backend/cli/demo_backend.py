"""The demo's backend: `sam2matting serve` as a child process on loopback, stopped at the end.

The child gets its own connection file (fresh key) and cache in a temporary folder, so the demo
never touches a backend the artist already runs. It is stopped with a shutdown request, and
terminated, then killed, if it does not exit in time: it is never left running.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, List, Optional

from sam2matting.backend.cli import exit_codes
from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import read_connection_file
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 180.0  # importing torch on a cold, busy machine takes a while
STOP_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_S = 120.0


class BackendStartError(RuntimeError):
    """The backend did not come up; `exit_code` says why (SETUP, FAILURE or unreachable)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ServeProcess:
    """`with ServeProcess(...) as client:` starts the backend and stops it on exit."""

    def __init__(
        self, folder: Path, log_path: Path, allowed_root: Path, options: List[str]
    ) -> None:
        """Describe the child process; it starts on `with`.

        Args:
            folder: private temporary folder for the connection file and the cache.
            log_path: where the backend's output goes (kept for when something fails).
            allowed_root: the folder the backend may read plates from by path.
            options: more `serve` options (--tracker, --engine, --device).
        """
        self.connection_file = folder / "connection.json"
        self.log_path = log_path
        self.command = [
            sys.executable,
            "-m",
            "sam2matting.backend.cli.main",
            "serve",
            "--connection-file",
            str(self.connection_file),
            "--cache-root",
            str(folder / "cache"),
            "--allowed-root",
            str(allowed_root),
            "--log-file",
            str(folder / "backend.log"),
            *options,
        ]
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.client: Optional[Client] = None
        self._log_file: Optional[IO[bytes]] = None

    def __enter__(self) -> Client:
        self._log_file = open(self.log_path, "wb")  # closed in __exit__
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
            )
            self.client = self._wait_until_up(self.process)
        except BaseException:
            self.__exit__()
            raise
        return self.client

    def __exit__(self, *exc: object) -> None:
        try:
            self._stop()
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # ------------------------------------------------------------ internals

    def _wait_until_up(self, process: subprocess.Popen[bytes]) -> Client:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                raise BackendStartError(
                    f"the backend exited with code {code} while starting",
                    # serve exits 2 on a bad config file, 3 on a device this machine lacks
                    exit_codes.SETUP
                    if code in (exit_codes.USAGE, exit_codes.SETUP)
                    else exit_codes.FAILURE,
                )
            client = self._try_connect()
            if client is not None:
                return client
            time.sleep(0.2)
        raise BackendStartError(
            f"the backend did not answer within {START_TIMEOUT_S:.0f} s",
            exit_codes.BACKEND_UNREACHABLE,
        )

    def _try_connect(self) -> Optional[Client]:
        if not self.connection_file.is_file():
            return None
        try:
            client = Client(read_connection_file(self.connection_file), timeout_s=CLIENT_TIMEOUT_S)
        except ProtocolError:  # the file is being written: try again
            return None
        try:
            client.ping(timeout_s=2.0)
        except ProtocolError:
            client.close()
            return None
        return client

    def _stop(self) -> None:
        process = self.process
        if self.client is not None:
            self._request_shutdown(self.client)
            self.client.close()
            self.client = None
        if process is None:
            return
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("the backend did not stop in %.0f s: terminating it", STOP_TIMEOUT_S)
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    @staticmethod
    def _request_shutdown(client: Client) -> None:
        try:
            client.request("shutdown_request", {}, timeout_s=10.0)
        except ProtocolError as exc:
            if exc.code not in (ErrorCode.TIMEOUT, ErrorCode.BACKEND_UNREACHABLE):
                log.warning("shutdown request failed: %s", exc)
