"""Chaos tooling: injected faults, invariants on a shot's files, and a backend in a child process.

Everything runs on loopback. Invariants read the cache folder directly (the journal with
`ShotJournal.load`, the mattes with real EXR reads), so they check what a restarted backend
would find, not what the running one believes.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set

from sam2matting.backend.imageio.exr import read_exr
from sam2matting.backend.shots.journal import ShotJournal
from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import read_connection_file

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- disk full


class DiskFull:
    """Makes the n-th fsync of a regular file fail with ENOSPC (what a full disk reports).

    Every file the backend keeps is written to a temp file, fsynced, then renamed (atomic.py);
    failing the fsync is failing that write, before the rename, exactly as a full disk does.
    """

    def __init__(self) -> None:
        self.fail_at: Optional[int] = None
        self.calls = 0
        self.injected = 0
        self.triggered = False  # whether the last `failing` block reached its n-th write
        self._real = os.fsync

    def fsync(self, fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            self.calls += 1
            if self.fail_at is not None and self.calls == self.fail_at:
                self.injected += 1
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
        self._real(fd)

    @contextmanager
    def failing(self, nth: Optional[int]) -> Iterator[DiskFull]:
        """Within the block, the n-th file write fails (None: count writes, fail none)."""
        self.fail_at, self.calls, self.triggered = nth, 0, False
        try:
            yield self
        finally:
            self.triggered = nth is not None and self.calls >= nth
            self.fail_at = None


# ---------------------------------------------------------------- shot files


def snapshot(root: Path) -> Dict[str, bytes]:
    """Every state file of a shot folder by relative path (temp and set-aside files excluded)."""
    out: Dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or path.name.startswith(".") or "damaged" in rel:
            continue
        out[rel] = path.read_bytes()
    return out


def journal_of(root: Path) -> ShotJournal:
    return ShotJournal.load(root)


def matte_objects(path: Path) -> Dict[int, Any]:
    """Object id -> alpha plane of a matte file (a full read: damage shows here)."""
    channels = read_exr(path).channels
    return {
        int(k[3:-2]): v for k, v in channels.items() if k.startswith("obj") and k.endswith(".A")
    }


def consistency_problems(root: Path) -> List[str]:
    """What is wrong between a shot's journal and its mattes, as a restarted backend sees them.

    - the journal loads;
    - every frame it marks valid for an object has a fully readable matte with that object's
      channel (produced at that revision when the file records it);
    - no matte holds a channel of an object the journal does not know;
    - no undo backup is left behind.
    """
    problems: List[str] = []
    journal = journal_of(root)
    matte_dir = root / "matte"
    files = {int(p.name.split(".")[1]): p for p in matte_dir.glob("matte.*.exr")}
    revisions: Dict[int, Dict[int, int]] = {}
    for frame, path in files.items():
        try:
            meta = read_exr(path).metadata
            objects = set(matte_objects(path))
        except Exception as exc:  # noqa: BLE001 - any read failure is the finding
            problems.append(f"frame {frame}: unreadable matte ({exc})")
            continue
        extra = objects - set(journal.objects)
        if extra:
            problems.append(f"frame {frame}: channels of unknown objects {sorted(extra)}")
        recorded = meta.get("sam2matting/revisions")
        revisions[frame] = (
            {int(k): int(v) for k, v in json.loads(recorded).items()} if recorded else {}
        )
        for obj in journal.objects:
            if obj in objects:
                revisions[frame].setdefault(obj, -1)
    for obj in journal.objects:
        for frame in journal.valid_frames(obj):
            if frame not in files or obj not in revisions.get(frame, {}):
                problems.append(f"object {obj} frame {frame}: valid but no matte channel")
    leftovers = [p.name for p in matte_dir.glob(".*.bak")]
    if leftovers:
        problems.append(f"left-over backups {leftovers}")
    return problems


def tracker_disagreement(shot: Any) -> Optional[str]:
    """None when the live tracker holds exactly the journal's prompted frames per object.

    Reads the session through the tracker interface only (`conditioning_frames`), so it checks
    any backend version: tracker = journal.
    """
    session = getattr(shot, "_session", None)
    if session is None:
        return None
    first = shot.settings.first_frame
    want: Dict[int, Set[int]] = {}
    for record in shot.journal.prompts:
        want.setdefault(record.object_id, set()).add(record.frame - first)
    for obj in set(want) | set(shot.journal.objects) | {1, 2, 3}:
        got = set(session.conditioning_frames(obj))
        if got != want.get(obj, set()):
            journal = sorted(want.get(obj, set()))
            return f"object {obj}: tracker conditions on {sorted(got)}, journal {journal}"
    return None


# ---------------------------------------------------------------- a raw ZeroMQ peer


def zmtp_unfinished_message(host: str, port: int, parts: List[bytes]) -> int:
    """Speak ZMTP 3.0 (NULL mechanism) by hand and send `parts` as the first parts of a message
    whose last part never comes; returns the bytes the backend accepted.

    A ZeroMQ socket cannot do this (it sends whole messages only); an attacker's program can,
    and libzmq holds every part until the message is complete.
    """
    import socket
    import struct

    sent = 0
    with socket.create_connection((host, port), timeout=5) as sock:
        greeting = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0")
        sock.sendall(greeting + b"\0" + b"\0" * 31)
        name, value = b"Socket-Type", b"DEALER"
        body = b"\x05READY" + bytes([len(name)]) + name + struct.pack(">I", len(value)) + value
        try:
            sock.sendall(b"\x04" + bytes([len(body)]) + body)
            for part in parts:  # MORE | LONG: another part follows, 8-byte size
                sock.sendall(b"\x03" + struct.pack(">Q", len(part)))
                sock.sendall(part)
                sent += len(part)
        except OSError:  # the backend hung up on us: it would not take the data
            return sent
        time.sleep(3)  # hold the connection open, the message unfinished
    return sent


# ---------------------------------------------------------------- a backend in a child process


class ChildServer:
    """`sam2matting serve` in its own process (so it can be killed with SIGKILL)."""

    def __init__(
        self, home: Path, extra: Optional[List[str]] = None, kill_at: Optional[str] = None
    ) -> None:
        self.home = home
        self.kill_at = kill_at  # "fsync:N" / "replace:N": die at that write (crashing_serve.py)
        self.conn = home / "connection.json"
        self.cache = home / "cache"
        self.extra = list(extra or [])
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, timeout_s: float = 120.0) -> Client:
        if self.conn.exists():
            self.conn.unlink()  # wait for this start's file, not the last one's
        module = "tests.chaos.crashing_serve" if self.kill_at else "sam2matting.backend.cli.main"
        args = [
            sys.executable,
            "-m",
            module,
            "serve",
            "--connection-file",
            str(self.conn),
            "--cache-root",
            str(self.cache),
            "--models-dir",
            str(self.home / "models"),
            "--tracker",
            "flow",
            "--device",
            "cpu",
            "--log-file",
            str(self.home / "backend.log"),
            "--config",
            str(self.home / "none.json"),
            *self.extra,
        ]
        path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(REPO)) if p)
        env = dict(os.environ, SAM2MATTING_HOME=str(self.home), PYTHONPATH=path)
        if self.kill_at:
            env["SAM2MATTING_CHAOS_KILL_AT"] = self.kill_at
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"backend exited with {self.proc.returncode}: {err}")
            if self.conn.is_file():
                try:
                    client = Client(read_connection_file(self.conn), timeout_s=8, heartbeat_s=0.5)
                    client.ping(timeout_s=5)
                except Exception:  # noqa: BLE001 - not up yet
                    time.sleep(0.2)
                    continue
                return client
            time.sleep(0.1)
        raise RuntimeError("backend did not start in time")

    def kill(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._close_pipes()

    @property
    def died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._close_pipes()
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid
