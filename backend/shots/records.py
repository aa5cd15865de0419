"""The plain records of a shot journal and their JSON form (schema version 1).

Kept apart from `journal.py` so that the on-disk format, its version check and its parsing
are in one place (docs/CACHE_LAYOUT.md describes the same format for people). The names and the
version rule both sides share are the protocol's (`cache_layout`, `shot_file.check_version`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, TypeVar

from sam2matting.protocol.cache_layout import JOURNAL_FORMAT, SCHEMA_VERSION, SHOT_FILE_FORMAT
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.shot_file import check_version

__all__ = [
    "JOURNAL_FORMAT",
    "SCHEMA_VERSION",
    "SHOT_FILE_FORMAT",
    "PromptRecord",
    "ShotSettings",
    "as_box",
    "check_version",
    "now_utc",
    "parse",
    "read_json",
]

T = TypeVar("T")


@dataclass(frozen=True)
class ShotSettings:
    """What a shot is: its id, format, range, colourspace and the methods that matte it."""

    shot_id: str
    width: int
    height: int
    first_frame: int
    last_frame: int
    pixel_aspect: float = 1.0
    colourspace: str = "scene_linear"
    tracker: str = "auto"
    engine: str = "auto"
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        data["params"] = dict(self.params)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShotSettings:
        settings = cls(
            shot_id=str(data["shot_id"]),
            width=int(data["width"]),
            height=int(data["height"]),
            first_frame=int(data["first_frame"]),
            last_frame=int(data["last_frame"]),
            pixel_aspect=float(data.get("pixel_aspect", 1.0)),
            colourspace=str(data.get("colourspace", "scene_linear")),
            tracker=str(data.get("tracker", "auto")),
            engine=str(data.get("engine", "auto")),
            params=dict(data.get("params") or {}),
        )
        s = settings
        if s.width <= 0 or s.height <= 0 or s.last_frame < s.first_frame:
            raise ValueError(
                f"bad shot format {settings.width}x{settings.height} or range "
                f"{settings.first_frame}-{settings.last_frame}"
            )
        return settings


@dataclass(frozen=True)
class PromptRecord:
    """One prompt as the journal keeps it (the mask as a PNG file name under prompts/)."""

    seq: int
    frame: int
    object_id: int
    points: Tuple[Tuple[float, float], ...] = ()
    labels: Tuple[int, ...] = ()
    box: Optional[Tuple[float, float, float, float]] = None
    mask: Optional[str] = None  # file name under <shot>/prompts/
    clear_old: bool = True
    timestamp: str = ""

    def to_json(self) -> Dict[str, Any]:
        return {
            "seq": self.seq,
            "frame": self.frame,
            "object_id": self.object_id,
            "points": [list(p) for p in self.points],
            "labels": list(self.labels),
            "box": None if self.box is None else list(self.box),
            "mask": self.mask,
            "clear_old": self.clear_old,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PromptRecord:
        box = data.get("box")
        mask = data.get("mask")
        record = cls(
            seq=int(data["seq"]),
            frame=int(data["frame"]),
            object_id=int(data["object_id"]),
            points=tuple((float(x), float(y)) for x, y in data.get("points", [])),
            labels=tuple(int(v) for v in data.get("labels", [])),
            box=None if box is None else as_box(box),
            mask=None if mask is None else str(mask),
            clear_old=bool(data.get("clear_old", True)),
            timestamp=str(data.get("timestamp", "")),
        )
        if len(record.points) != len(record.labels):
            raise ValueError(
                f"prompt {record.seq}: {len(record.points)} points, {len(record.labels)} labels"
            )
        return record

    def summary(self) -> Dict[str, Any]:
        """The protocol's prompt summary (PROMPT_SUMMARY in protocol/messages.py)."""
        out = self.to_json()
        del out["mask"], out["clear_old"], out["timestamp"]
        out["has_mask"] = self.mask is not None
        return out


def now_utc() -> str:
    """The time as ISO 8601 in UTC, to the millisecond, as prompts are stamped."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def parse(source: str, build: Callable[[], T]) -> T:
    """Run a parser, turning malformed content into a user-facing INVALID_FIELD error."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD,
            f"{source} is damaged or hand-edited wrongly: {type(err).__name__}: {err}",
            hint="Restore the file from a backup, or re-create the shot.",
            details={"path": source},
        ) from err


def read_json(path: Path) -> Dict[str, Any]:
    """A JSON object from a file; unreadable or not an object -> INVALID_FIELD."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD, f"cannot read {path}: {err}", details={"path": str(path)}
        ) from err
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_FIELD, f"{path}: expected a JSON object")
    return data


def as_box(values: Any) -> Tuple[float, float, float, float]:
    """Four numbers x0, y0, x1, y1 as a float tuple."""
    x0, y0, x1, y1 = (float(v) for v in values)
    return x0, y0, x1, y1
