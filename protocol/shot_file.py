"""The shot file (Nuke -> farm) and the version rule of every JSON document in a shot's cache.

Both writers (the node's export, `host_plugin/.../shot_file.py`, and the backend journal's
`export_shot_file`) check their output against `SHOT_FILE`, and every reader (`render`,
`ShotJournal.load_shot_file`) checks its input with `check_shot_file`, so a file one side
writes is one the other side reads. docs/CACHE_LAYOUT.md describes it for people:

    {"format": "sam2matting-shot", "version": "1.0",
     "shot": {shot_id, width, height, first_frame, last_frame, pixel_aspect, colourspace,
              tracker, engine, params: {"tracker": {...}, "engine": {...}}},
     "revision": N, "objects": [{"id", "name"}],
     "prompts": [{seq, frame, object_id, points, labels, box, clear_old, timestamp, mask_png}]}

Coordinates are top-left plate pixels; a mask prompt travels inline as base64 PNG; no path of
the machine that wrote it, no cache state. Standard library only.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from .cache_layout import SCHEMA_VERSION, SHOT_FILE_FORMAT
from .errors import ErrorCode, ProtocolError
from .messages import BOX, FRAME, ID, OBJECT, OBJECT_ID, PARAMS, POINT
from .schema import (
    Bool,
    Field,
    Float,
    Int,
    ListOf,
    Nullable,
    Record,
    Str,
    opt,
    ordered,
    same_length,
)

# The options of the shot's tracker and engine, as open_shot's tracker_params / engine_params.
SHOT_PARAMS = Record({"tracker": opt(PARAMS, {}), "engine": opt(PARAMS, {})})

SETTINGS = Record(
    {
        "shot_id": Field(ID),
        "width": Field(Int(1, 65_536)),
        "height": Field(Int(1, 65_536)),
        "first_frame": Field(FRAME),
        "last_frame": Field(FRAME),
        "pixel_aspect": opt(Float(0.01, 100.0), 1.0),
        "colourspace": opt(Str(max_len=128), "scene_linear"),
        "tracker": opt(Str(max_len=64), "auto"),
        "engine": opt(Str(max_len=64), "auto"),
        "params": opt(SHOT_PARAMS, {}),
    },
    checks=[ordered("first_frame", "last_frame")],
)

PROMPT = Record(
    {
        "seq": Field(Int(0)),
        "frame": Field(FRAME),
        "object_id": Field(OBJECT_ID),
        "points": opt(ListOf(POINT, 0, 256), []),
        "labels": opt(ListOf(Int(0, 1), 0, 256), []),
        "box": opt(Nullable(BOX)),
        "clear_old": opt(Bool(), True),
        "timestamp": opt(Str(max_len=64), ""),
        "mask_png": opt(Nullable(Str(max_len=1 << 28))),  # base64 PNG, plate-sized
    },
    checks=[same_length("points", "labels")],
)

SHOT_FILE = Record(
    {
        "format": Field(Str(choices=(SHOT_FILE_FORMAT,))),
        "version": Field(Str(max_len=16)),
        "shot": Field(SETTINGS),
        "revision": opt(Int(0), 0),
        "objects": Field(ListOf(OBJECT, 0, 10_000)),
        "prompts": Field(ListOf(PROMPT, 0, 100_000)),
    }
)


def check_version(data: Mapping[str, Any], expected_format: str, source: str) -> None:
    """Refuse a document of another format or of an unknown major version, with a hint.

    A reader takes every minor version of its major (`SCHEMA_VERSION` is major.minor).
    """
    found = data.get("format")
    if found != expected_format:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD,
            f"{source} is not a {expected_format} file (format: {found!r})",
            details={"path": source},
        )
    version = str(data.get("version", ""))
    major = SCHEMA_VERSION.split(".", 1)[0]
    if version.split(".", 1)[0] != major:
        raise ProtocolError(
            ErrorCode.VERSION_MISMATCH,
            f"{source} has schema version {version or 'none'}; this side reads {major}.x",
            hint=(
                "The file was written by another major version of SAM2Matting: update the "
                "backend (or the plugin), or re-create the shot under a new id."
            ),
            details={"path": source, "version": version},
        )


def check_shot_file(data: Mapping[str, Any], source: str) -> Dict[str, Any]:
    """The shot file checked against `SHOT_FILE`, defaults filled in (a normalised copy).

    Fields a newer minor version added are dropped; anything else unknown is an error.

    Raises:
        ProtocolError: INVALID_FIELD naming the field (and the file), VERSION_MISMATCH.
    """
    check_version(data, SHOT_FILE_FORMAT, source)
    newer_minor = str(data.get("version")) != SCHEMA_VERSION
    try:
        checked: Dict[str, Any] = SHOT_FILE.check(dict(data), "shot_file", lenient=newer_minor)
    except ProtocolError as exc:
        raise ProtocolError(
            exc.code,
            f"{source}: {exc.message}",
            hint="Export the shot file again from the SAM2Matte node (Export shot file...).",
            details={**exc.details, "path": source},
        ) from exc
    return checked
