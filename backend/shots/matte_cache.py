"""The shot's mattes: one float32 EXR per frame, the file sequence Nuke's Read node shows.

`<shot>/matte/matte.<frame>.exr` holds `A`, the combined matte (the maximum over every object),
and `obj<id>.A` per object. Nuke reads a `layer.channel` EXR name as a layer: `A` lands in
rgba.alpha and each `obj<id>.A` becomes the alpha of an `obj<id>` layer. Layers are named by the
stable object id, not the artist's name (names change and may hold characters channel names
cannot); the id -> name map is in the `sam2matting/objects` metadata. The display window is the
plate's format; the data window is the box around non-zero alpha, which Nuke reads as the bbox.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple, Union

import numpy as np

from sam2matting.protocol.atomic import clean_stale_temp_files
from sam2matting.protocol.cache_layout import (
    COMBINED_CHANNEL as COMBINED,
)
from sam2matting.protocol.cache_layout import (
    DAMAGED_DIR,
    MATTE_DIR,
    META_PREFIX,
    matte_file,
    matte_sequence,
    object_channel,
)
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import padding

from ..imageio.compression import check_compression
from ..imageio.exr import Window, read_exr, read_exr_metadata, write_exr
from .undo import BACKUP_SUFFIX, FileChanges

log = logging.getLogger(__name__)

REVISIONS_KEY = META_PREFIX + "revisions"  # JSON {"<id>": journal revision of that channel}
_OBJECT_CHANNEL = re.compile(r"^obj(\d+)\.A$")
_FILE_NAME = re.compile(r"^matte\.(-?\d+)\.exr$")


class DamagedMatteError(ProtocolError):
    """A matte file exists but cannot be read (disk fault, outside edit)."""

    def __init__(self, frame: int, path: Path, why: str) -> None:
        super().__init__(
            ErrorCode.DAMAGED_STATE,
            f"the cached matte of frame {frame} ({path}) is damaged: {why}",
            details={"frame": frame, "path": str(path)},
        )
        self.frame = frame


@dataclass
class MatteHeader:
    """What a matte file holds, read from its header alone."""

    objects: Set[int]
    # object id -> journal revision that produced its channel; None for files written before
    # protocol 1.1 (which recorded one revision per file)
    revisions: Optional[Dict[int, int]] = None
    names: Dict[int, str] = field(default_factory=dict)


class MatteCache:
    """Reads and writes a shot's matte sequence. Thread-safe; every write is atomic."""

    def __init__(
        self,
        root: Union[Path, str],
        shot_id: str,
        first_frame: int,
        last_frame: int,
        compression: str = "zip",
    ) -> None:
        """Open (or create) `<root>/matte/`, removing temp files an interrupted write left."""
        if last_frame < first_frame:
            raise ValueError(f"bad frame range {first_frame}-{last_frame}")
        self.shot_id = shot_id
        self.first_frame, self.last_frame = first_frame, last_frame
        self.compression = check_compression(compression)
        self.dir = Path(root) / MATTE_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        clean_stale_temp_files(self.dir)
        self.padding = padding(first_frame, last_frame)
        self._lock = threading.RLock()  # a transaction holds it around its writes

    @property
    def pattern(self) -> str:
        """The sequence for Nuke's Read node: '/cache/shot/matte/matte.####.exr'."""
        return str(self.dir / matte_sequence(self.first_frame, self.last_frame))

    def path(self, frame: int) -> Path:
        return self.dir / matte_file(frame, self.padding)

    # ------------------------------------------------------------ writing

    def write(
        self,
        frame: int,
        alphas: Mapping[int, np.ndarray],
        names: Mapping[int, str],
        metadata: Optional[Mapping[str, str]] = None,
        revisions: Optional[Mapping[int, int]] = None,
    ) -> Path:
        """Write (or merge into) one frame's matte file.

        Objects already in the file and not in `alphas` are kept, so re-tracking one object
        leaves the others alone; `A` is recomputed over all of them.

        Args:
            alphas: object id -> (H, W) alpha in [0, 1] (clipped; NaN becomes 0).
            names: object id -> name, for the objects metadata (merged with the file's).
            metadata: more attributes (tracker, engine, revision ...), stored with the
                `sam2matting/` prefix.
            revisions: object id -> the journal revision that produced its alpha (kept per
                object, so that a restarted backend can tell each channel's origin).

        Raises:
            DamagedMatteError: the existing file cannot be read to merge into (nothing changed).
        """
        self._check_frame(frame)
        if not alphas:
            raise ValueError("write() needs at least one object's alpha")
        with self._lock:
            objects, known_names, known_revisions = self._load_objects(frame)
            for obj_id, alpha in alphas.items():
                objects[int(obj_id)] = _clean_alpha(alpha)
            known_names.update({int(k): str(v) for k, v in names.items()})
            known_revisions.update({int(k): int(v) for k, v in (revisions or {}).items()})
            self._write_objects(frame, objects, known_names, metadata or {}, known_revisions)
        return self.path(frame)

    @contextmanager
    def transaction(self) -> Iterator[CacheTransaction]:
        """File changes that are undone if anything raises before the block ends.

        Hold this outside the journal's transaction (lock order: cache, then journal), so the
        journal commits first and the backups are dropped only after it did.
        """
        with self._lock:
            changes = FileChanges()
            try:
                yield CacheTransaction(self, changes)
            except BaseException:
                changes.rollback()
                raise
            changes.commit()

    def invalidate(
        self, frames: Iterable[int], obj_ids: Optional[Iterable[int]] = None
    ) -> List[int]:
        """Drop whole matte files, or only some objects' channels.

        A file left with no object is deleted. Returns the frames whose files changed, ascending.
        """
        drop = None if obj_ids is None else {int(i) for i in obj_ids}
        changed: List[int] = []
        with self._lock:
            for frame in sorted(set(frames)):
                if self._invalidate_frame(frame, drop):
                    changed.append(frame)
        return changed

    # ------------------------------------------------------------ reading

    def read(self, frame: int) -> Dict[str, np.ndarray]:
        """Every channel of a frame's matte file: 'A' and 'obj<id>.A' as (H, W) float32.

        Raises:
            FRAME_MISSING (no file), DamagedMatteError (unreadable).
        """
        path = self._existing(frame)
        try:
            return read_exr(path).channels
        except ProtocolError as exc:
            raise DamagedMatteError(frame, path, exc.message) from exc

    def read_objects(self, frame: int) -> Dict[int, np.ndarray]:
        """Object id -> (H, W) alpha for one frame."""
        return self._objects_of(self.read(frame))

    def metadata(self, frame: int) -> Dict[str, str]:
        """The file's `sam2matting/...` attributes, keys as written (with the prefix)."""
        path = self._existing(frame)
        return {k: v for k, v in read_exr_metadata(path).items() if k.startswith(META_PREFIX)}

    def frames(self) -> List[int]:
        """Frames that have a matte file, as numbers in ascending order."""
        found = []
        for entry in self.dir.iterdir():
            match = _FILE_NAME.match(entry.name)
            if match is not None:
                found.append(int(match.group(1)))
        return sorted(found)

    def has(self, frame: int) -> bool:
        return self.path(frame).is_file()

    def header(self, frame: int) -> MatteHeader:
        """Objects and per-object revisions of a frame's file, from its header only.

        Raises:
            FRAME_MISSING (no file), DamagedMatteError (unreadable header).
        """
        return read_header(self._existing(frame), frame)

    def quarantine(self, frame: int) -> Optional[Path]:
        """Move a damaged file to matte/damaged/ (kept for inspection); where it went."""
        path = self.path(frame)
        if not path.is_file():
            return None
        aside = self.dir / DAMAGED_DIR
        aside.mkdir(exist_ok=True)
        target = aside / f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}"
        path.replace(target)
        log.error("matte of frame %d is damaged; moved to %s", frame, target)
        return target

    def leftover_backups(self) -> List[Path]:
        """Backups an interrupted transaction left (see undo.py)."""
        return sorted(self.dir.glob(f".matte.*{BACKUP_SUFFIX}"))

    # ------------------------------------------------------------ internals

    def _load_objects(
        self, frame: int
    ) -> Tuple[Dict[int, np.ndarray], Dict[int, str], Dict[int, int]]:
        path = self.path(frame)
        if not path.is_file():
            return {}, {}, {}
        try:
            image = read_exr(path)
        except ProtocolError as exc:
            raise DamagedMatteError(frame, path, exc.message) from exc
        revisions = _revisions_of(image.metadata) or {}
        return self._objects_of(image.channels), _names_of(image.metadata), revisions

    def _write_objects(
        self,
        frame: int,
        objects: Mapping[int, np.ndarray],
        names: Mapping[int, str],
        extra: Mapping[str, str],
        revisions: Mapping[int, int],
    ) -> None:
        shapes = {a.shape for a in objects.values()}
        if len(shapes) != 1:
            raise ValueError(f"frame {frame}: object mattes of different sizes {sorted(shapes)}")
        ids = sorted(objects)
        combined = np.maximum.reduce([objects[i] for i in ids])
        height, width = combined.shape
        # Only the box around non-zero alpha is stored (the EXR data window; Nuke's bbox):
        # less to compress and to read, and a tight bbox speeds up the comp downstream.
        box = _nonzero_box(combined)
        rows, cols = slice(box.ymin, box.ymax + 1), slice(box.xmin, box.xmax + 1)
        channels = {COMBINED: combined[rows, cols]}
        channels.update({object_channel(i): objects[i][rows, cols] for i in ids})
        meta = {_prefixed(k): str(v) for k, v in extra.items()}
        meta[META_PREFIX + "shot"] = self.shot_id
        meta[META_PREFIX + "frame"] = str(frame)
        meta[META_PREFIX + "objects"] = json.dumps({str(i): names.get(i, f"obj{i}") for i in ids})
        if any(i in revisions for i in ids):
            meta[REVISIONS_KEY] = json.dumps({str(i): revisions[i] for i in ids if i in revisions})
        else:
            meta.pop(REVISIONS_KEY, None)
        write_exr(
            self.path(frame),
            channels,
            compression=self.compression,
            metadata=meta,
            data_window=box,
            display_window=Window.of_size(width, height),
        )

    def _invalidate_frame(self, frame: int, drop: Optional[Set[int]]) -> bool:
        path = self.path(frame)
        if not path.is_file():
            return False
        if drop is None:
            path.unlink(missing_ok=True)
            return True
        try:
            image = read_exr(path)
        except ProtocolError as exc:
            raise DamagedMatteError(frame, path, exc.message) from exc
        objects = self._objects_of(image.channels)
        if not drop & set(objects):
            return False
        kept = {i: a for i, a in objects.items() if i not in drop}
        if not kept:
            path.unlink(missing_ok=True)
            return True
        extra = {k: v for k, v in image.metadata.items() if k.startswith(META_PREFIX)}
        revisions = _revisions_of(image.metadata) or {}
        self._write_objects(frame, kept, _names_of(image.metadata), extra, revisions)
        return True

    @staticmethod
    def _objects_of(channels: Mapping[str, np.ndarray]) -> Dict[int, np.ndarray]:
        objects: Dict[int, np.ndarray] = {}
        for name, plane in channels.items():
            match = _OBJECT_CHANNEL.match(name)
            if match is not None:
                objects[int(match.group(1))] = plane
        return objects

    def _existing(self, frame: int) -> Path:
        path = self.path(frame)
        if not path.is_file():
            raise ProtocolError(
                ErrorCode.FRAME_MISSING,
                f"frame {frame} of shot {self.shot_id} has no matte",
                hint="Track the shot over this frame first.",
                details={"frame": frame},
            )
        return path

    def _check_frame(self, frame: int) -> None:
        if not self.first_frame <= frame <= self.last_frame:
            raise ProtocolError(
                ErrorCode.FRAME_OUT_OF_RANGE,
                f"frame {frame} is outside the shot's range {self.first_frame}-{self.last_frame}",
                details={"frame": frame},
            )


def read_header(path: Union[Path, bytes], frame: int) -> MatteHeader:
    """A matte file's objects and per-object revisions, from its header only.

    Raises:
        DamagedMatteError: the header cannot be read or is not a matte's.
    """
    where = path if isinstance(path, Path) else Path("<matte bytes>")
    try:
        meta = read_exr_metadata(path)
    except ProtocolError as exc:
        raise DamagedMatteError(frame, where, exc.message) from exc
    if META_PREFIX + "objects" not in meta:
        raise DamagedMatteError(frame, where, "no sam2matting/objects attribute")
    names = _names_of(meta)
    return MatteHeader(set(names), _revisions_of(meta), names)


def _nonzero_box(alpha: np.ndarray) -> Window:
    """The smallest window holding every non-zero pixel (one pixel if there is none)."""
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return Window(0, 0, 0, 0)  # EXR data windows cannot be empty
    cols = np.flatnonzero(alpha.any(axis=0))
    return Window(int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1]))


def _clean_alpha(alpha: np.ndarray) -> np.ndarray:
    array = np.asarray(alpha, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"an alpha is (H, W), not {array.shape}")
    # clip maps +-inf to 1/0; NaN survives clip and is zeroed after (cheaper than nan_to_num,
    # which scans for infinities too: this runs on every frame of every object).
    clean = np.clip(array, 0.0, 1.0)
    clean[np.isnan(clean)] = 0.0
    return clean


def _prefixed(key: str) -> str:
    return key if key.startswith(META_PREFIX) else META_PREFIX + key


def _names_of(metadata: Mapping[str, str]) -> Dict[int, str]:
    text = metadata.get(META_PREFIX + "objects")
    if not text:
        return {}
    try:
        return {int(k): str(v) for k, v in json.loads(text).items()}
    except (ValueError, AttributeError) as err:
        log.warning("unreadable objects metadata %r: %s", text, err)
        return {}


def _revisions_of(metadata: Mapping[str, str]) -> Optional[Dict[int, int]]:
    text = metadata.get(REVISIONS_KEY)
    if not text:
        return None
    try:
        return {int(k): int(v) for k, v in json.loads(text).items()}
    except (ValueError, AttributeError, TypeError) as err:
        log.warning("unreadable revisions metadata %r: %s", text, err)
        return None


class CacheTransaction:
    """The file changes of one `MatteCache.transaction()` (each undone on failure)."""

    def __init__(self, cache: MatteCache, changes: FileChanges) -> None:
        self._cache = cache
        self._changes = changes

    def write(
        self,
        frame: int,
        alphas: Mapping[int, np.ndarray],
        names: Mapping[int, str],
        metadata: Optional[Mapping[str, str]] = None,
        revisions: Optional[Mapping[int, int]] = None,
    ) -> Path:
        target = self._cache.path(frame)
        self._changes.touching(target)
        return self._cache.write(frame, alphas, names, metadata, revisions)

    def drop_objects(self, frame: int, obj_ids: Iterable[int]) -> bool:
        """Remove these objects' channels (the file, when none is left); True if it changed."""
        target = self._cache.path(frame)
        self._changes.touching(target)
        return bool(self._cache.invalidate([frame], obj_ids))

    def delete(self, frame: int) -> None:
        target = self._cache.path(frame)
        self._changes.touching(target)
        target.unlink(missing_ok=True)
