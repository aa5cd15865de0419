"""`plate/refs.json`: which file holds each frame's pixels, and how to read them.

Each frame is either a file the backend stored under plate/ (inline pixels from the host) or a
path to the studio's own file. The whole index is rewritten atomically on every put: a few
hundred kilobytes for a 2,000-frame shot, small next to the pixels of one frame.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from sam2matting.protocol.atomic import atomic_write_bytes
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FrameEntry:
        fields = ("file", "path", "colourspace", "origin", "encoding")
        entry = cls(**{k: data[k] for k in fields if k in data})
        if (entry.file is None) == (entry.path is None):
            raise ValueError(f"a frame entry needs exactly one of file and path: {dict(data)}")
        if entry.file is not None and Path(entry.file).name != entry.file:
            raise ValueError(f"stored file names are plain names, not {entry.file!r}")
        return entry

    def to_json(self) -> Dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class PlateIndex:
    """Loads and saves `refs.json` for one plate folder."""

    def __init__(self, plate_dir: Path, width: int, height: int) -> None:
        self.path = plate_dir / REFS_FILE
        self.width, self.height = width, height

    def load(self) -> Dict[int, FrameEntry]:
        """The saved entries (empty for a new shot); removes stored files nothing refers to.

        Raises:
            ProtocolError: SHOT_MISMATCH when the folder holds a plate of another size or a
                newer index format.
        """
        if not self.path.is_file():
            entries: Dict[int, FrameEntry] = {}
        else:
            entries = self._parse(self._read())
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

    def _read(self) -> Dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as err:
            return self._set_aside(str(err))
        if not isinstance(data, dict):
            return self._set_aside("not a JSON object")
        return data

    def _set_aside(self, why: str) -> Dict[str, Any]:
        # Writes are atomic, so this is damage from outside; the host re-sends the frames.
        aside = self.path.with_suffix(".json.damaged")
        self.path.replace(aside)
        log.error("%s is unreadable (%s); moved to %s, plate starts empty", self.path, why, aside)
        return {}

    def _parse(self, data: Dict[str, Any]) -> Dict[int, FrameEntry]:
        if not data:
            return {}
        if data.get("format") != REFS_FORMAT or int(data.get("version", 0)) > REFS_VERSION:
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
        for key, value in dict(data.get("frames", {})).items():
            try:
                entries[int(key)] = FrameEntry.from_json(value)
            except (ValueError, TypeError) as err:
                log.warning("%s: ignoring frame %s: %s", self.path, key, err)
        return entries

    def _remove_orphans(self, entries: Mapping[int, FrameEntry]) -> None:
        """Delete stored frames no entry names (a crash between writing a frame and the index)."""
        named = {e.file for e in entries.values() if e.file is not None}
        for candidate in self.path.parent.glob("plate.*"):
            if candidate.name not in named and candidate.is_file():
                candidate.unlink(missing_ok=True)
                log.info("removed unreferenced plate file %s", candidate)
