"""Atomic file writes: a temp file in the target's folder, fsync, then rename over the target.

The one way every writer in the repository replaces a file (mattes, journals, shot files, the
connection file, hash caches, the installer's init.py block, training outputs). Standard library
only: the Nuke plugin and the installer use it too.

A reader (Nuke, a restarted backend) sees either the old file or the new one, never a partial
file. Temp files are named `.<target name>.<random>.tmp` so that their owners can find and clean
the ones a crash left behind (`clean_stale_temp_files`). A full disk is `ProtocolError(DISK_FULL)`
and leaves no temp file.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

from .errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
# Errors that mean "no room": a full disk or an exhausted quota.
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# On Windows a rename over a file another process has open fails for a moment (a Nuke Read,
# an anti-virus scan): retry briefly before giving up.
_REPLACE_RETRIES = 5 if sys.platform == "win32" else 1
_REPLACE_RETRY_DELAY_S = 0.05
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate newlines


def atomic_write_bytes(path: Union[str, Path], data: bytes, mode: Optional[int] = None) -> None:
    """Write `data` to `path` atomically.

    `mode`: the file's permission bits (e.g. 0o600 for a secret, never readable by others, not
    even for a moment); default: 0o666 less the umask, as for any new file.

    Raises:
        ProtocolError: DISK_FULL when the disk or quota is full (the temp file is removed).
        OSError: any other I/O failure, with the target path in the message.
    """
    target = Path(path)
    fd, tmp = _create_temp(target, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            if mode is not None:
                tmp.chmod(mode)  # exactly `mode`, whatever the umask took away
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _replace(tmp, target)
    except OSError as err:
        _remove_quietly(tmp)
        raise _translate(err, target) from err
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_dir(target.parent)


def atomic_write_text(path: Union[str, Path], text: str, mode: Optional[int] = None) -> None:
    """`atomic_write_bytes` of `text` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_json(
    path: Union[str, Path],
    data: Any,
    indent: int = 2,
    sort_keys: bool = False,
    mode: Optional[int] = None,
) -> None:
    """`data` as JSON (UTF-8, a final newline), written atomically."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"), mode)


def clean_stale_temp_files(folder: Path, max_age_s: float = 300.0) -> List[Path]:
    """Delete temp files older than `max_age_s` that an interrupted write left in `folder`.

    Younger ones may belong to a write in progress (another process on the same cache).
    """
    removed: List[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for entry in folder.glob(f".*{TEMP_SUFFIX}"):
        try:
            if now - entry.stat().st_mtime < max_age_s:
                continue
            entry.unlink()
        except FileNotFoundError:  # another cleaner or the writer got there first
            continue
        removed.append(entry)
        log.info("removed stale temp file %s", entry)
    return removed


def _create_temp(target: Path, mode: int) -> Tuple[int, Path]:
    """A new, exclusive temp file beside `target`, created with `mode` (less the umask).

    Made with os.open rather than tempfile.mkstemp because mkstemp creates files readable by
    the owner only, and mattes are read by Nuke and farm jobs that may run as other users.
    """
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, mode)
        except FileExistsError:
            continue
        except OSError as err:
            raise _translate(err, target) from err
        return fd, tmp
    raise FileExistsError(errno.EEXIST, f"cannot create a temp file beside {target}")


def _replace(tmp: Path, target: Path) -> None:
    for attempt in range(_REPLACE_RETRIES):
        try:
            tmp.replace(target)
        except PermissionError:
            if attempt + 1 == _REPLACE_RETRIES:
                raise
            time.sleep(_REPLACE_RETRY_DELAY_S)
        else:
            return


def _translate(err: OSError, target: Path) -> BaseException:
    if err.errno in _NO_SPACE:
        return ProtocolError(
            ErrorCode.DISK_FULL,
            f"no space left to write {target}",
            details={"path": str(target), "errno": err.errno},
        )
    # Keep the exception's type (PermissionError, ...) but name the file the caller asked for,
    # not the temp file.
    return type(err)(err.errno, f"cannot write {target}: {err.strerror or err}", str(target))


def _remove_quietly(tmp: Path) -> None:
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    except OSError as err:  # the original error matters more; say that cleanup failed too
        log.warning("could not remove temp file %s: %s", tmp, err)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open folders for fsync."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
