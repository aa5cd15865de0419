"""File changes that can be undone until the change commits (mattes, plate files, refs.json).

A change to the shot is all-or-nothing across tracker, journal and cache (docs/CACHE_LAYOUT.md,
"Atomicity"). The journal write is the commit point; every matte file a change replaces or
deletes before that point keeps a backup beside it, a hard link to the old file (no disk space
needed, so the undo works on a full disk; a copy where the filesystem has no hard links):

    with cache.transaction() as files, journal.transaction() as revision:
        files.write(frame, ...)          # the old file is kept as .matte.<frame>.exr.<id>.bak
        journal.mark_valid(...)          # the commit: shot.json replaced atomically
    # journal saved -> backups deleted; anything raised -> every file put back as it was

A process killed between the two leaves backups; `Shot` resolves them when the shot opens
again, keeping whichever of file and backup agrees with the journal (`reconcile.py`).
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Tuple

log = logging.getLogger(__name__)

BACKUP_SUFFIX = ".bak"


def backup_name(target: Path) -> Path:
    return target.parent / f".{target.name}.{secrets.token_hex(4)}{BACKUP_SUFFIX}"


def target_of(backup: Path) -> Path:
    """`.matte.1001.exr.1a2b3c4d.bak` -> `matte.1001.exr`."""
    name = backup.name[1:].rsplit(".", 2)[0]
    return backup.parent / name


def make_backup(target: Path) -> Optional[Path]:
    """A second name for the current file (None when there is none yet)."""
    if not target.is_file():
        return None
    backup = backup_name(target)
    try:
        os.link(target, backup)
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        shutil.copy2(target, backup)  # no hard links here (FAT, some SMB shares)
    return backup


class FileChanges:
    """The files one transaction touched, with what to put back."""

    def __init__(self) -> None:
        # target -> backup of its state before the transaction (None: it did not exist)
        self._before: Dict[Path, Optional[Path]] = {}
        self._order: List[Path] = []

    def touching(self, target: Path) -> None:
        """Call before replacing or deleting `target` (only its first state is kept)."""
        if target in self._before:
            return
        self._before[target] = make_backup(target)
        self._order.append(target)

    def discard_last(self, target: Path) -> None:
        """The change to `target` failed before touching it: drop its backup now."""
        backup = self._before.pop(target, None)
        if target in self._order:
            self._order.remove(target)
        if backup is not None:
            backup.unlink(missing_ok=True)

    def commit(self) -> None:
        for backup in self._before.values():
            if backup is not None:
                backup.unlink(missing_ok=True)
        self._before.clear()
        self._order.clear()

    def rollback(self) -> List[Tuple[Path, str]]:
        """Put every touched file back; returns (file, why) for any that could not be."""
        failed: List[Tuple[Path, str]] = []
        for target in reversed(self._order):
            backup = self._before[target]
            try:
                if backup is None:
                    target.unlink(missing_ok=True)
                elif target.exists() and backup.samefile(target):
                    backup.unlink()  # never replaced (rename() of a hard link is a no-op)
                else:
                    backup.replace(target)  # a rename: works on a full disk
            except OSError as err:  # left for the recovery when the shot opens again
                log.exception("could not restore %s from %s", target, backup)
                failed.append((target, str(err)))
        self._before.clear()
        self._order.clear()
        return failed


def roll_back_leftovers(folder: Path) -> List[Path]:
    """Undo what an interrupted change left in `folder` (its commit never finished): each
    backup goes back over its file. For folders whose commit point is a file in the same
    folder (plate/: refs.json); the matte cache decides per file instead (reconcile.py)."""
    restored: List[Path] = []
    for backup in sorted(folder.glob(f".*{BACKUP_SUFFIX}")):
        target = target_of(backup)
        if target.exists() and backup.samefile(target):
            backup.unlink()
            continue
        backup.replace(target)
        restored.append(target)
        log.warning("rolled back %s: an interrupted change left its backup", target)
    return restored
