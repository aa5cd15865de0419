"""Reads of files other people name (plate paths, the fs_probe): bounded in size and in time.

A path a client sends may be a FIFO (open() waits for a writer forever), a device, a file on a
network mount that stopped answering (every system call on it hangs), or a huge file. Each read
here therefore:

- resolves the path and checks it on a helper thread, and waits for that thread at most
  `timeout_s` (a hung read costs its helper thread, never the caller's);
- opens without blocking and without following a last-component symlink swap, then refuses
  anything that is not a regular file (checked on the open descriptor, so it cannot be swapped);
- reads at most `max_bytes`.

Hung helpers are counted: once `max_stalled` are stuck, new reads are refused at once instead of
stacking up more threads (the message names the mount to look at).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, TypeVar, Union

from sam2matting.protocol import limits
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

T = TypeVar("T")
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_FLAGS |= getattr(os, "O_BINARY", 0)


class StalledReads:
    """How many helper threads are stuck in a read, process-wide."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running = 0
        self._lock = threading.Lock()

    def acquire(self, what: str) -> None:
        with self._lock:
            if self._running >= self.limit:
                raise ProtocolError(
                    ErrorCode.TIMEOUT,
                    f"{self._running} earlier reads of referenced files never finished; "
                    f"not reading {what}",
                    hint="A network mount or special file is not answering: check the plate "
                    "paths' storage, or send pixels inline; restart the backend once it is fixed.",
                    details={"path": what},
                )
            self._running += 1

    def release(self) -> None:
        with self._lock:
            self._running -= 1

    @property
    def running(self) -> int:
        with self._lock:
            return self._running


STALLED = StalledReads(limits.MAX_STALLED_READS)


def with_timeout(fn: Callable[[], T], what: str, timeout_s: float) -> T:
    """Run `fn` on a helper thread; its result, its exception, or TIMEOUT after `timeout_s`."""
    STALLED.acquire(what)
    box: Dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as is
            box["error"] = exc
        finally:
            STALLED.release()
            done.set()

    threading.Thread(target=run, name="bounded-read", daemon=True).start()
    if not done.wait(timeout_s):
        log.error("reading %s did not finish in %.0f s; giving up on it", what, timeout_s)
        raise ProtocolError(
            ErrorCode.TIMEOUT,
            f"reading {what} did not finish in {timeout_s:.0f} s",
            hint="The file is on storage that is not answering (a stalled network mount?), or "
            "is not a plain file. Check the path, or send pixels inline.",
            details={"path": what},
        )
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def read_regular_file(path: Path, max_bytes: int, what: str = "file", follow: bool = True) -> bytes:
    """The first `max_bytes` of a regular file (never blocks on FIFOs or devices).

    `follow=False` refuses a symbolic link as the last component.

    Raises:
        ProtocolError: BAD_IMAGE for a missing, special or unreadable file, or one larger than
            `max_bytes` when `max_bytes` is the file limit.
    """
    flags = _FLAGS if follow else _FLAGS | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(str(path), flags)
    except OSError as err:
        raise _bad(path, f"cannot open the {what} ({err.strerror or err})") from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _bad(path, f"the {what} is not a regular file (a FIFO, device or folder)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: plain reads from here on
        return _read_up_to(fd, max_bytes)
    finally:
        os.close(fd)


def file_size(path: Path) -> int:
    try:
        info = Path(path).stat()
    except OSError as err:
        raise _bad(path, f"cannot stat it ({err.strerror or err})") from err
    return int(info.st_size)


def read_allowed(
    path: Union[str, Path],
    roots: Sequence[Path],
    max_bytes: int = limits.MAX_FILE_BYTES,
    timeout_s: Optional[float] = None,
    whole: bool = True,
) -> Tuple[Path, bytes]:
    """Resolve `path` (absolute only), check it lies under `roots`, and read it, all bounded.

    Args:
        whole: read the whole file (refused when larger than `max_bytes`); False: read only
            its first `max_bytes` (a header).

    Returns:
        (the resolved path, the bytes).
    """
    given = Path(path)
    if not given.is_absolute():
        raise ProtocolError(
            ErrorCode.INVALID_FIELD,
            f"plate paths must be absolute, not {str(path)!r}",
            details={"path": str(path)},
        )

    def work() -> Tuple[Path, bytes]:
        resolved = check_allowed(given, roots)
        if whole:
            size = file_size(resolved)
            if size > max_bytes:
                raise _bad(resolved, f"{size} bytes exceeds the limit of {max_bytes}")
        return resolved, read_regular_file(resolved, max_bytes, "plate file")

    wait = float(limits.PATH_TIMEOUT_S) if timeout_s is None else timeout_s
    return with_timeout(work, str(path), wait)


def check_allowed(given: Path, roots: Sequence[Path]) -> Path:
    """The resolved path, if under an allowed root (resolving follows every symlink)."""
    resolved = given.resolve()
    if any(_is_relative_to(resolved, root) for root in roots):
        return resolved
    listed = ", ".join(str(r) for r in roots) or "none configured"
    raise ProtocolError(
        ErrorCode.PATH_NOT_ALLOWED,
        f"{given} (resolved: {resolved}) is outside the allowed roots ({listed})",
        details={"path": str(given), "resolved": str(resolved)},
    )


def _is_relative_to(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks = []
    left = limit
    while left > 0:
        try:
            chunk = os.read(fd, min(left, 1 << 24))
        except OSError as err:
            if err.errno == errno.EINTR:
                continue
            raise
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _bad(path: Union[str, Path], why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_IMAGE, f"{path}: {why}", details={"image": str(path)})
