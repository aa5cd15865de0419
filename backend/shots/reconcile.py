"""Make a shot's matte cache agree with its journal when the shot opens.

The journal is the authority. A process killed in the middle of a change, a disk fault or an
outside edit can leave the cache disagreeing with it; opening the shot repairs that before any
request sees the state:

1. backups a killed transaction left (`undo.py`): of the file and its backup, the one
   that agrees with the journal stays;
2. files whose header cannot be read are moved to `matte/damaged/` and their frames marked
   stale (a warning names them);
3. channels of objects the journal does not have are removed from the files;
4. a frame the journal marks valid for an object whose file lacks that object's channel, or
   holds it from another revision, is marked stale (it is re-made by tracking again).

Each repair is logged; what the client should know comes back as warnings
(open_shot_reply.warnings). Nothing is repaired, and shot.json is not rewritten, when the two
already agree.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from sam2matting.protocol.cache_layout import PROMPTS_DIR
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .journal import ShotJournal
from .matte_cache import DamagedMatteError, MatteCache, MatteHeader, read_header
from .prompt_masks import read_mask
from .undo import target_of

log = logging.getLogger(__name__)

Warning = Dict[str, Any]


def reconcile(journal: ShotJournal, cache: MatteCache) -> List[Warning]:
    """Repair the cache (and the journal's valid frames) to agree; returns warnings."""
    warnings: List[Warning] = []
    _resolve_backups(journal, cache)
    headers: Dict[int, MatteHeader] = {}
    damaged: List[int] = []
    for frame in cache.frames():
        try:
            headers[frame] = cache.header(frame)
        except DamagedMatteError as exc:
            damaged.append(frame)
            warnings.append(_warning(exc.message, exc.details.get("path")))
    stale = _stale(journal, headers)
    orphans = {f: h.objects - set(journal.objects) for f, h in headers.items()}
    orphans = {f: ids for f, ids in orphans.items() if ids}
    if damaged or stale or orphans:
        _repair(journal, cache, damaged, stale, orphans)
    warnings += _damaged_masks(journal)
    return warnings


def disagreements(journal: ShotJournal, cache: MatteCache) -> List[str]:
    """What differs between journal and cache (empty when they agree): the chaos suite's
    invariant, and what `reconcile` repairs."""
    problems: List[str] = []
    headers: Dict[int, MatteHeader] = {}
    for frame in cache.frames():
        try:
            headers[frame] = cache.header(frame)
        except DamagedMatteError as exc:
            problems.append(exc.message)
    for obj, frame in _stale(journal, headers):
        problems.append(f"object {obj} frame {frame}: valid in the journal, not in the file")
    for frame, header in headers.items():
        extra = header.objects - set(journal.objects)
        if extra:
            problems.append(f"frame {frame}: channels of unknown objects {sorted(extra)}")
    problems += [f"left-over backup {p.name}" for p in cache.leftover_backups()]
    return problems


def _stale(journal: ShotJournal, headers: Dict[int, MatteHeader]) -> Set[Tuple[int, int]]:
    """(object, frame) pairs the journal marks valid that the files do not back up."""
    stale: Set[Tuple[int, int]] = set()
    for obj in journal.objects:
        for frame, revision in journal.valid_revisions(obj).items():
            if not _backs(headers.get(frame), obj, revision):
                stale.add((obj, frame))
    return stale


def _backs(header: Optional[MatteHeader], obj: int, revision: int) -> bool:
    if header is None or obj not in header.objects:
        return False
    # Files from before protocol 1.1 carry no per-object revisions: trust the journal.
    return header.revisions is None or header.revisions.get(obj) == revision


def _agrees(journal: ShotJournal, header: Optional[MatteHeader], frame: int) -> bool:
    for obj in journal.objects:
        revision = journal.valid_revisions(obj).get(frame)
        if revision is not None and not _backs(header, obj, revision):
            return False
    return header is None or not header.objects - set(journal.objects)


def _resolve_backups(journal: ShotJournal, cache: MatteCache) -> None:
    for backup in cache.leftover_backups():
        target = target_of(backup)
        frame = _frame_of(cache, target)
        if frame is None:
            backup.unlink(missing_ok=True)
            continue
        current = _header_or_none(cache, frame)
        if target.is_file() and current is None:
            keep_backup = True  # the file is unreadable: the backup is the better guess
        else:
            keep_backup = not _agrees(journal, current, frame) and _backup_agrees(
                journal, backup, frame
            )
        if keep_backup and not (target.exists() and backup.samefile(target)):
            backup.replace(target)
            log.warning("restored %s from the backup an interrupted change left", target.name)
        else:
            backup.unlink(missing_ok=True)  # also a hard link to the file itself


def _backup_agrees(journal: ShotJournal, backup: Path, frame: int) -> bool:
    try:
        return _agrees(journal, read_header(backup, frame), frame)
    except DamagedMatteError:
        return False


def _header_or_none(cache: MatteCache, frame: int) -> Optional[MatteHeader]:
    if not cache.has(frame):
        return None
    try:
        return cache.header(frame)
    except DamagedMatteError:
        return None


def _frame_of(cache: MatteCache, target: Path) -> Optional[int]:
    """The frame a matte file name holds, if it is one of this cache's names."""
    parts = target.name.split(".")
    if len(parts) != 3 or parts[0] != "matte" or parts[2] != "exr":
        return None
    try:
        frame = int(parts[1])
    except ValueError:
        return None
    return frame if cache.path(frame).name == target.name else None


def _repair(
    journal: ShotJournal,
    cache: MatteCache,
    damaged: List[int],
    stale: Set[Tuple[int, int]],
    orphans: Dict[int, Set[int]],
) -> None:
    with cache.transaction() as files, journal.transaction():
        for obj in journal.objects:
            frames = [f for o, f in stale if o == obj] + damaged
            if frames:
                journal.invalidate(obj, frames)
        for frame, ids in orphans.items():
            files.drop_objects(frame, ids)
    for frame in damaged:
        cache.quarantine(frame)
    log.warning(
        "shot %s: cache repaired to agree with the journal (%d damaged files set aside, "
        "%d stale object frames, %d files with removed objects)",
        journal.settings.shot_id,
        len(damaged),
        len(stale),
        len(orphans),
    )


def _damaged_masks(journal: ShotJournal) -> List[Warning]:
    warnings: List[Warning] = []
    for record in journal.prompts:
        if record.mask is None:
            continue
        path = journal.root / PROMPTS_DIR / record.mask
        try:
            read_mask(path)
        except ProtocolError:
            warnings.append(
                _warning(
                    f"the mask of prompt {record.seq} (object {record.object_id}, frame "
                    f"{record.frame}) is damaged; the prompt is used without its mask until you "
                    "give it again",
                    str(path),
                )
            )
    return warnings


def _warning(message: str, path: Optional[str]) -> Warning:
    return {"code": ErrorCode.DAMAGED_STATE.value, "message": message[:8192], "path": path}
