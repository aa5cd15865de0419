"""`plate/refs.json`: which file holds each frame's pixels, and how to read them.

Each frame is either a file the backend stored under plate/ (inline pixels from the host) or a
path to the studio's own file. The whole index is rewritten atomically once per put request
(however many frames it carries): a few hundred kilobytes for a 2,000-frame shot, small next to
the pixels of one frame.

Version 2 added raw buffers stored as sent (`encoding: "raw"` with their dtype, shape and
channels); version-1 indexes (every inline frame re-encoded as EXR) read unchanged.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sam2matting.protocol.atomic import atomic_write_bytes
from sam2matting.protocol.cache_layout import DAMAGED_PLATE_PREFIX
from sam2matting.protocol.cache_layout import PLATE_REFS_FILE as REFS_FILE
from sam2matting.protocol.cache_layout import PLATE_REFS_FORMAT as REFS_FORMAT
from sam2matting.protocol.cache_layout import PLATE_REFS_VERSION as REFS_VERSION
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameEntry:
    """Where one frame's pixels are and how to read them."""

    file: Optional[str] = None  # a file name under plate/ (inline pixels)
    path: Optional[str] = None  # an absolute, resolved path (a reference)
    # None: sRGB for integer images, the shot's colourspace for float ones.
    colourspace: Optional[str] = None
    origin: str = "top_left"  # "bottom_left": the stored image's first row is the bottom one
    encoding: Optional[str] = None  # None: tell from the file's signature
    # A raw buffer stored as the host sent it (encoding "raw", version 2): how to read it.
    dtype: Optional[str] = None
    shape: Optional[Tuple[int, ...]] = None
    channels: Optional[Tuple[str, ...]] = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FrameEntry:
        fields = ("file", "path", "colourspace", "origin", "encoding", "dtype")
        values: Dict[str, Any] = {k: data[k] for k in fields if k in data}
        if data.get("shape") is not None:
            values["shape"] = tuple(int(n) for n in data["shape"])
        if data.get("channels") is not None:
            values["channels"] = tuple(str(c) for c in data["channels"])
        entry = cls(**values)
        if (entry.file is None) == (entry.path is None):
            raise ValueError(f"a frame entry needs exactly one of file and path: {dict(data)}")
        if entry.file is not None and Path(entry.file).name != entry.file:
            raise ValueError(f"stored file names are plain names, not {entry.file!r}")
        if entry.encoding == "raw" and (entry.file is None or not entry.dtype or not entry.shape):
            raise ValueError(f"a raw frame needs its stored file, dtype and shape: {dict(data)}")
        return entry

    def to_json(self) -> Dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        for key in ("shape", "channels"):
            if key in data:
                data[key] = list(data[key])
        return data


class PlateIndex:
    """Loads and saves `refs.json` for one plate folder."""

    def __init__(self, plate_dir: Path, width: int, height: int) -> None:
        self.path = plate_dir / REFS_FILE
        self.width, self.height = width, height
        self.warnings: List[Dict[str, Any]] = []  # what load() set aside, for the client

    def load(self) -> Dict[int, FrameEntry]:
        """The saved entries (empty for a new shot); removes stored files nothing refers to.

        A damaged or missing index with plate files beside it is never a reason to delete
        them: the index and the files are moved aside together (`damaged-<time>/`) and a
        warning says which frames must be sent again.

        Raises:
            ProtocolError: SHOT_MISMATCH when the folder holds a plate of another size or a
                newer index format.
        """
        if not self.path.is_file():
            entries: Dict[int, FrameEntry] = {}
            if self._stored_files():
                self._set_aside("plate/refs.json is missing but plate files exist")
        else:
            data = self._read()
            entries = {} if data is None else self._parse(data)
        self._remove_orphans(entries)
        return entries

    def save(self, entries: Mapping[int, FrameEntry]) -> None:
        data = {
            "format": REFS_FORMAT,
            "version": REFS_VERSION,
            "width": self.width,
            "height": self.height,
            "frames": {str(f): entries[f].to_json() for f in sorted(entries)},
        }
        atomic_write_bytes(self.path, json.dumps(data, indent=1).encode("utf-8"))

    def _read(self) -> Optional[Dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            self._set_aside(f"plate/refs.json is unreadable ({err})")
            return None
        if not isinstance(data, dict):
            self._set_aside("plate/refs.json is not a JSON object")
            return None
        return data

    def _set_aside(self, why: str) -> None:
        """Move the index and every stored frame into a `damaged-<time>` folder; start empty.

        Writes are atomic, so this is damage from outside (disk fault, an edit); the host
        re-sends the frames, and nothing the artist sent is deleted.
        """
        aside = self.path.parent / (DAMAGED_PLATE_PREFIX + time.strftime("%Y%m%d-%H%M%S"))
        aside.mkdir(exist_ok=True)
        files = self._stored_files()
        if self.path.is_file():
            files.append(self.path)
        for path in files:
            target = aside / path.name
            path.replace(target)
        log.error("%s; %d files moved to %s, the plate starts empty", why, len(files), aside)
        self.warnings.append(
            {
                "code": ErrorCode.DAMAGED_STATE.value,
                "message": f"{why}: the {len(files)} stored plate files were moved aside and "
                "must be sent again",
                "path": str(aside),
            }
        )

    def _stored_files(self) -> List[Path]:
        return [p for p in self.path.parent.glob("plate.*") if p.is_file()]

    def _parse(self, data: Dict[str, Any]) -> Dict[int, FrameEntry]:
        version = data.get("version")
        if data.get("format") != REFS_FORMAT or not isinstance(version, int):
            self._set_aside("plate/refs.json is not a plate index (damaged)")
            return {}
        if version > REFS_VERSION:
            raise ProtocolError(
                ErrorCode.SHOT_MISMATCH,
                f"{self.path} was written by a newer backend (version {data.get('version')})",
                hint="Update the backend, or use a new shot id or cache folder.",
            )
        if (data.get("width"), data.get("height")) != (self.width, self.height):
            raise ProtocolError(
                ErrorCode.SHOT_MISMATCH,
                f"the cached plate at {self.path.parent} is {data.get('width')}x"
                f"{data.get('height')}, not {self.width}x{self.height}",
                details={"path": str(self.path.parent)},
            )
        entries: Dict[int, FrameEntry] = {}
        frames = data.get("frames", {})
        if not isinstance(frames, dict):
            self._set_aside("plate/refs.json has no frames table")
            return {}
        for key, value in frames.items():
            try:
                entries[int(key)] = FrameEntry.from_json(value)
            except (ValueError, TypeError) as err:
                log.warning("%s: ignoring frame %s: %s", self.path, key, err)
                self.warnings.append(
                    {
                        "code": ErrorCode.DAMAGED_STATE.value,
                        "message": f"plate/refs.json: frame {key} is unreadable ({err}); "
                        "send it again",
                        "path": str(self.path),
                    }
                )
        return entries

    def _remove_orphans(self, entries: Mapping[int, FrameEntry]) -> None:
        """Delete stored frames no entry names (a crash between writing a frame and the index)."""
        named = {e.file for e in entries.values() if e.file is not None}
        for candidate in self.path.parent.glob("plate.*"):
            if candidate.name not in named and candidate.is_file():
                candidate.unlink(missing_ok=True)
                log.info("removed unreferenced plate file %s", candidate)
