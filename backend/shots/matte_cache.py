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
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Set, Tuple, Union

import numpy as np

from sam2matting.protocol.atomic import clean_stale_temp_files
from sam2matting.protocol.cache_layout import (
    COMBINED_CHANNEL as COMBINED,
)
from sam2matting.protocol.cache_layout import (
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

log = logging.getLogger(__name__)

_OBJECT_CHANNEL = re.compile(r"^obj(\d+)\.A$")
_FILE_NAME = re.compile(r"^matte\.(-?\d+)\.exr$")


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
        self._lock = threading.Lock()

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
    ) -> Path:
        """Write (or merge into) one frame's matte file.

        Objects already in the file and not in `alphas` are kept, so re-tracking one object
        leaves the others alone; `A` is recomputed over all of them.

        Args:
            alphas: object id -> (H, W) alpha in [0, 1] (clipped; NaN becomes 0).
            names: object id -> name, for the objects metadata (merged with the file's).
            metadata: more attributes (tracker, engine, revision ...), stored with the
                `sam2matting/` prefix.
        """
        self._check_frame(frame)
        if not alphas:
            raise ValueError("write() needs at least one object's alpha")
        with self._lock:
            objects, known_names = self._load_objects(frame)
            for obj_id, alpha in alphas.items():
                objects[int(obj_id)] = _clean_alpha(alpha)
            known_names.update({int(k): str(v) for k, v in names.items()})
            self._write_objects(frame, objects, known_names, metadata or {})
        return self.path(frame)

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
        """Every channel of a frame's matte file: 'A' and 'obj<id>.A' as (H, W) float32."""
        path = self._existing(frame)
        return read_exr(path).channels

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

    # ------------------------------------------------------------ internals

    def _load_objects(self, frame: int) -> Tuple[Dict[int, np.ndarray], Dict[int, str]]:
        path = self.path(frame)
        if not path.is_file():
            return {}, {}
        image = read_exr(path)
        return self._objects_of(image.channels), _names_of(image.metadata)

    def _write_objects(
        self,
        frame: int,
        objects: Mapping[int, np.ndarray],
        names: Mapping[int, str],
        extra: Mapping[str, str],
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
        write_exr(
            self.path(frame), channels, compression=self.compression, metadata=meta,
            data_window=box, display_window=Window.of_size(width, height),
        )  # fmt: skip

    def _invalidate_frame(self, frame: int, drop: Optional[Set[int]]) -> bool:
        path = self.path(frame)
        if not path.is_file():
            return False
        if drop is None:
            path.unlink(missing_ok=True)
            return True
        image = read_exr(path)
        objects = self._objects_of(image.channels)
        if not drop & set(objects):
            return False
        kept = {i: a for i, a in objects.items() if i not in drop}
        if not kept:
            path.unlink(missing_ok=True)
            return True
        extra = {k: v for k, v in image.metadata.items() if k.startswith(META_PREFIX)}
        self._write_objects(frame, kept, _names_of(image.metadata), extra)
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
