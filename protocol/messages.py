"""Every message type of protocol v1 (1.0 and the 1.1 additions) and the schema of its content.

PROTOCOL.md documents each of these with an example; tests/protocol/test_spec.py checks that the
document and this module agree (types, fields, error codes, version).
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

from . import limits
from .errors import ErrorCode, ProtocolError
from .schema import (
    Bool,
    Field,
    Float,
    Int,
    ListOf,
    Map,
    Nullable,
    Record,
    Scalar,
    Spec,
    Str,
    invalid,
    one_of,
    opt,
    ordered,
    same_length,
)
from .version import VERSION_PATTERN

# ---------------------------------------------------------------- building blocks
# Every bound comes from limits.py (the one table PROTOCOL.md shows).

FRAME = Int(-limits.MAX_FRAME, limits.MAX_FRAME)
ID = Str(max_len=limits.ID_MAX_LEN, min_len=1, pattern=limits.ID_PATTERN)
OBJECT_ID = Int(1, limits.MAX_OBJECT_ID)
PATH = Str(max_len=limits.MAX_PATH_LEN, min_len=1)
COORD = Float(-limits.MAX_COORD, limits.MAX_COORD)
POINT = ListOf(COORD, 2, 2)
BOX = ListOf(COORD, 4, 4)
RANGES = ListOf(ListOf(FRAME, 2, 2), 0, limits.MAX_RANGES)
PARAMS = Map(Scalar())
MAX_BUFFERS = limits.MAX_BUFFERS
DTYPE_SIZES = {"uint8": 1, "uint16": 2, "float16": 2, "float32": 4}

ENCODINGS = ("raw", "exr", "png", "jpeg", "tiff")
DIRECTIONS = ("forward", "backward", "both")
DELIVERIES = ("path", "exr", "none")


def _raw_needs_layout(record: Dict[str, Any], path: str) -> None:
    if record["encoding"] != "raw":
        return
    if record["dtype"] is None or record["shape"] is None:
        raise invalid(path, "raw buffers need dtype and shape")
    shape = record["shape"]
    channels = shape[2] if len(shape) == 3 else 1
    if record["channels"] is not None and len(record["channels"]) != channels:
        raise invalid(
            f"{path}.channels", f"{len(record['channels'])} names for {channels} channels"
        )


# A pixel buffer travelling as a raw ZeroMQ frame (never base64 in JSON). `buffer` indexes the
# message's buffer list. Colourspace and origin are explicit, never implied.
IMAGE = Record(
    {
        "buffer": Field(Int(0, MAX_BUFFERS - 1)),
        "encoding": Field(Str(choices=ENCODINGS)),
        "dtype": opt(Nullable(Str(choices=tuple(DTYPE_SIZES)))),
        # [height, width] or [height, width, channels]
        "shape": opt(Nullable(ListOf(Int(1, limits.MAX_IMAGE_SIDE), 2, 3))),
        "channels": opt(Nullable(ListOf(Str(max_len=64, min_len=1), 1, 64))),
        # null: sRGB for integer images, the shot's colourspace for float ones
        "colourspace": opt(Nullable(Str(max_len=128))),
        "origin": opt(Str(choices=("top_left", "bottom_left")), "top_left"),
    },
    checks=[_raw_needs_layout],
)

PARAM = Record(
    {
        "name": Field(Str(max_len=64, min_len=1)),
        "type": Field(Str(choices=("int", "float", "bool", "choice", "str"))),
        "default": Field(Scalar()),
        "help": Field(Str(max_len=1024)),
        "choices": opt(ListOf(Str(max_len=128), 0, 256), []),
        "min": opt(Nullable(Float(-1e18, 1e18))),
        "max": opt(Nullable(Float(-1e18, 1e18))),
    }
)

CAPABILITY = Record(
    {
        "name": Field(Str(max_len=64, min_len=1)),
        "label": Field(Str(max_len=256)),
        "available": Field(Bool()),
        "reason": opt(Nullable(Str(max_len=2048))),
        "fallback": opt(Bool(), False),
        "params": opt(ListOf(PARAM, 0, 64), []),
    }
)

OBJECT = Record(
    {"id": Field(OBJECT_ID), "name": Field(Str(max_len=limits.NAME_MAX_LEN, min_len=1))}
)

PROMPT_SUMMARY = Record(
    {
        "seq": Field(Int(0)),
        "frame": Field(FRAME),
        "object_id": Field(OBJECT_ID),
        "points": Field(ListOf(POINT, 0, limits.MAX_POINTS)),
        "labels": Field(ListOf(Int(0, 1), 0, limits.MAX_POINTS)),
        "box": opt(Nullable(BOX)),
        "has_mask": opt(Bool(), False),
    }
)

SHOT_STATE = {
    "shot_id": Field(ID),
    "revision": Field(Int(0)),
    "objects": Field(ListOf(OBJECT, 0, limits.MAX_OBJECTS)),
    "prompts": Field(ListOf(PROMPT_SUMMARY, 0, 100_000)),
    "frames_stored": Field(RANGES),
    "frames_matted": Field(RANGES),
    "cache_dir": Field(PATH),
    "matte_pattern": Field(PATH),  # e.g. /cache/shot/matte/matte.####.exr
    "tracker": Field(Str(max_len=64)),
    "engine": Field(Str(max_len=64)),
}

FRAME_ENTRY = Record(
    {
        "frame": Field(FRAME),
        "image": opt(Nullable(IMAGE)),
        "path": opt(Nullable(PATH)),
        "colourspace": opt(Nullable(Str(max_len=128))),
    },
    checks=[one_of("image", "path")],
)


def _has_prompt(record: Dict[str, Any], path: str) -> None:
    if not record["points"] and record["box"] is None and record["mask"] is None:
        raise ProtocolError(ErrorCode.NO_PROMPT, f"{path}: a prompt needs points, a box or a mask")


def _box_ordered(record: Dict[str, Any], path: str) -> None:
    box = record.get("box")
    if box is not None and (box[2] <= box[0] or box[3] <= box[1]):
        raise invalid(f"{path}.box", "expected [x0, y0, x1, y1] with x1 > x0 and y1 > y0")


# ---------------------------------------------------------------- message content schemas

CONTENT: Dict[str, Spec] = {
    "describe_request": Record(
        {
            # The client writes a random token to a file; a backend that can read it shares the
            # client's filesystem, so frames and mattes can travel as paths instead of bytes.
            "fs_probe": opt(Nullable(Record({"path": Field(PATH), "token": Field(Str(128, 16))}))),
            "client_version": opt(Nullable(Str(max_len=64))),
        }
    ),
    "describe_reply": Record(
        {
            "package_version": Field(Str(max_len=64)),
            "protocol_version": Field(Str(max_len=16)),
            "server_id": Field(Str(max_len=128)),
            "hostname": Field(Str(max_len=256)),
            "shares_filesystem": Field(Bool()),
            "device": Field(
                Record(
                    {
                        "type": Field(Str(choices=("cuda", "cpu", "mps"))),
                        "name": Field(Str(max_len=256)),
                        "memory_total_bytes": opt(Nullable(Int(0, 2**62))),
                        "memory_free_bytes": opt(Nullable(Int(0, 2**62))),
                        "note": opt(Nullable(Str(max_len=1024))),
                    }
                )
            ),
            "trackers": Field(ListOf(CAPABILITY, 0, 64)),
            "engines": Field(ListOf(CAPABILITY, 0, 64)),
            "limits": Field(Map(Int(0, 2**62))),
            "shots": opt(ListOf(ID, 0, 1000), []),
        }
    ),
    "open_shot_request": Record(
        {
            "shot_id": Field(ID),
            "width": Field(Int(1, limits.MAX_IMAGE_SIDE)),
            "height": Field(Int(1, limits.MAX_IMAGE_SIDE)),
            "pixel_aspect": opt(Float(0.01, 100.0), 1.0),
            "first_frame": Field(FRAME),
            "last_frame": Field(FRAME),
            "colourspace": opt(Str(max_len=128), "scene_linear"),
            "tracker": opt(Str(max_len=64), "auto"),
            "engine": opt(Str(max_len=64), "auto"),
            "tracker_params": opt(PARAMS, {}),
            "engine_params": opt(PARAMS, {}),
            "cache_dir": opt(Nullable(PATH)),  # 1.1: where the client wants the shot's folder
        },
        checks=[ordered("first_frame", "last_frame")],
    ),
    "open_shot_reply": Record(dict(SHOT_STATE, restored=Field(Bool()))),
    "put_frames_request": Record(
        {"shot_id": Field(ID), "frames": Field(ListOf(FRAME_ENTRY, 1, limits.MAX_FRAMES_PER_PUT))}
    ),
    "put_frames_reply": Record(
        {"shot_id": Field(ID), "stored": Field(ListOf(FRAME, 0, limits.MAX_FRAMES_PER_PUT))}
    ),
    "add_prompt_request": Record(
        {
            "shot_id": Field(ID),
            "frame": Field(FRAME),
            "object": Field(OBJECT),
            "points": opt(ListOf(POINT, 0, limits.MAX_POINTS), []),
            "labels": opt(ListOf(Int(0, 1), 0, limits.MAX_POINTS), []),
            "box": opt(Nullable(BOX)),
            "mask": opt(Nullable(IMAGE)),
            "clear_old": opt(Bool(), True),
            "matte": opt(Str(choices=DELIVERIES), "path"),
        },
        checks=[same_length("points", "labels"), _box_ordered, _has_prompt],
    ),
    "add_prompt_reply": Record(
        {
            "shot_id": Field(ID),
            "frame": Field(FRAME),
            "object_id": Field(OBJECT_ID),
            "revision": Field(Int(0)),
            "invalidated": Field(RANGES),  # frames whose mattes are now stale (re-track them)
            "matte_path": opt(Nullable(PATH)),
            "matte": opt(Nullable(IMAGE)),
        }
    ),
    "remove_object_request": Record({"shot_id": Field(ID), "object_id": Field(OBJECT_ID)}),
    "remove_object_reply": Record(
        {"shot_id": Field(ID), "object_id": Field(OBJECT_ID), "revision": Field(Int(0))}
    ),
    "propagate_request": Record(
        {
            "shot_id": Field(ID),
            "start_frame": opt(Nullable(FRAME)),  # default: the latest prompted frame
            "direction": opt(Str(choices=DIRECTIONS), "both"),
            "first_frame": opt(Nullable(FRAME)),  # sub-range; default: the whole shot
            "last_frame": opt(Nullable(FRAME)),
            # default: all objects
            "objects": opt(Nullable(ListOf(OBJECT_ID, 1, limits.MAX_OBJECTS))),
            "matte": opt(Str(choices=DELIVERIES), "path"),
        },
        checks=[ordered("first_frame", "last_frame")],
    ),
    "propagate_reply": Record(
        {
            "job_id": Field(ID),
            "shot_id": Field(ID),
            "frames_planned": Field(Int(0)),
            "unchanged": Field(RANGES),  # frames this job will not touch
        }
    ),
    "progress": Record(
        {
            "job_id": Field(ID),
            "shot_id": Field(ID),
            "frame": Field(FRAME),
            "done": Field(Int(0)),
            "total": Field(Int(0)),
            "objects": Field(ListOf(OBJECT_ID, 0, limits.MAX_OBJECTS)),
            "matte_path": opt(Nullable(PATH)),
            "matte": opt(Nullable(IMAGE)),
            "frames_per_second": opt(Nullable(Float(0, 1e6))),
        }
    ),
    "done": Record(
        {
            "job_id": Field(ID),
            "shot_id": Field(ID),
            "frames_done": Field(Int(0)),
            "elapsed_s": Field(Float(0, 1e9)),
        }
    ),
    "cancelled": Record(
        {
            "job_id": Field(ID),
            "shot_id": Field(ID),
            "frames_done": Field(Int(0)),
            "elapsed_s": Field(Float(0, 1e9)),
        }
    ),
    "error": Record(
        {
            "code": Field(Str(max_len=64)),
            "message": Field(Str(max_len=8192)),
            "hint": Field(Str(max_len=2048)),
            "details": opt(Map(Scalar()), {}),
        }
    ),
    "cancel_request": Record(
        {"job_id": opt(Nullable(ID)), "shot_id": opt(Nullable(ID))},
        checks=[one_of("job_id", "shot_id")],
    ),
    "cancel_reply": Record({"cancelled": Field(ListOf(ID, 0, 1000))}),
    "get_matte_request": Record(
        {
            "shot_id": Field(ID),
            "frame": Field(FRAME),
            "matte": opt(Str(choices=("path", "exr")), "path"),
        }
    ),
    "get_matte_reply": Record(
        {
            "shot_id": Field(ID),
            "frame": Field(FRAME),
            "objects": Field(ListOf(OBJECT_ID, 0, limits.MAX_OBJECTS)),
            "matte_path": opt(Nullable(PATH)),
            "matte": opt(Nullable(IMAGE)),
        }
    ),
    "close_shot_request": Record({"shot_id": Field(ID), "delete_cache": opt(Bool(), False)}),
    "close_shot_reply": Record({"shot_id": Field(ID)}),
    "ping_request": Record({}),
    "ping_reply": Record(
        {
            "server_time": Field(Float(0, 1e12)),
            "uptime_s": Field(Float(0, 1e12)),
            "jobs_running": Field(Int(0)),
        }
    ),
    "shutdown_request": Record({}),
    "shutdown_reply": Record({}),
}

# ---------------------------------------------------------------- 1.1: prompt edits
# Edits are prompts, not deletions. A prompt can be removed without deleting any matte; the
# mattes whose track ran through a changed or removed prompt stay in the cache, marked stale,
# until a propagation replaces them. Only remove_object deletes mattes. (Kept in its own section:
# other 1.1 additions live in theirs.)

STALE = Record({"object_id": Field(OBJECT_ID), "ranges": Field(RANGES)})


def _extend(msg_type: str, **fields: Field) -> None:
    """Add optional fields to an existing message (a minor version may only add optional ones)."""
    old = CONTENT[msg_type]
    assert isinstance(old, Record)
    assert all(not f.required for f in fields.values())
    CONTENT[msg_type] = Record({**old.fields, **fields}, old.checks)


# Per object, the frames whose cached matte predates a prompt change (re-track them).
_extend("open_shot_reply", frames_stale=opt(ListOf(STALE, 0, 1000), []))
# Frames whose mattes went stale because plate frames already stored were replaced.
_extend("put_frames_reply", invalidated=opt(RANGES, []))
CONTENT["remove_prompt_request"] = Record(
    {"shot_id": Field(ID), "object_id": Field(OBJECT_ID), "frame": Field(FRAME)}
)
CONTENT["remove_prompt_reply"] = Record(
    {
        "shot_id": Field(ID),
        "object_id": Field(OBJECT_ID),
        "frame": Field(FRAME),
        "revision": Field(Int(0)),
        "invalidated": Field(RANGES),  # frames of this object whose mattes are now stale
    }
)

# Requests and the reply type each one gets on success (failure: an `error` message).
REQUESTS: Dict[str, str] = {
    name: name[: -len("_request")] + "_reply" for name in CONTENT if name.endswith("_request")
}
# Events a job streams after its request's reply; the last is one of JOB_END.
EVENTS = ("progress",)
JOB_END = ("done", "cancelled", "error")
MESSAGE_TYPES = tuple(CONTENT)

HEADER = Record(
    {
        "msg_id": Field(Str(max_len=64, min_len=8, pattern=r"[0-9a-f\-]+")),
        "msg_type": Field(Str(max_len=64, min_len=1, pattern=r"[a-z_]+")),
        "protocol_version": Field(Str(max_len=16, pattern=VERSION_PATTERN)),
        "date": Field(Float(0, 1e11)),  # sender's clock, seconds since the Unix epoch (UTC)
        "client_id": Field(Str(max_len=128, min_len=1, pattern=r"[A-Za-z0-9_.:\-]+")),
    }
)
METADATA = Map(Scalar(), max_items=limits.MAX_METADATA_ITEMS)


def validate_content(msg_type: str, content: Any, lenient: bool = False) -> Dict[str, Any]:
    spec = CONTENT.get(msg_type)
    if spec is None:
        raise ProtocolError(
            ErrorCode.UNKNOWN_MESSAGE_TYPE,
            f"unknown message type {msg_type!r}",
            details={"msg_type": msg_type},
        )
    result: Dict[str, Any] = spec.check(content, "content", lenient)
    return result


def image_descriptors(content: Any) -> List[Dict[str, Any]]:
    """Every pixel-buffer descriptor in a validated content tree (the dicts with 'buffer')."""
    found: List[Dict[str, Any]] = []
    stack: List[Any] = [content]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "buffer" in node and "encoding" in node:
                found.append(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def check_buffers(content: Dict[str, Any], sizes: Sequence[int]) -> None:
    """Each buffer is described exactly once, and raw buffers have exactly their declared size."""
    descs = image_descriptors(content)
    used = sorted(d["buffer"] for d in descs)
    if used != list(range(len(sizes))):
        raise invalid(
            "content",
            f"{len(sizes)} buffers sent but descriptors reference {used}: "
            "each buffer must be described exactly once",
        )
    for desc in descs:
        if desc["encoding"] != "raw":
            continue
        expected = DTYPE_SIZES[desc["dtype"]]
        for dim in desc["shape"]:
            expected *= dim
        got = sizes[desc["buffer"]]
        if got != expected:
            raise invalid(
                f"content.buffer[{desc['buffer']}]",
                f"{got} bytes, but dtype {desc['dtype']} and shape {desc['shape']} need {expected}",
            )


# ---------------------------------------------------------------- 1.1: reliability additions
# Additive (optional fields with defaults, stricter bounds from limits.py): a 1.0 peer ignores
# the new fields (a newer minor may add them) and keeps working. Kept in its own section so that
# other 1.1 additions merge beside it; PROTOCOL.md's version history lists them all.

CANCEL_REASONS = (
    "requested",
    "replaced",
    "object_removed",
    "shot_closed",
    "reconfigured",
    "shutdown",
)

WARNING = Record(
    {
        "code": Field(Str(max_len=64)),  # an error code (ErrorCode) naming what happened
        "message": Field(Str(max_len=8192)),
        "path": opt(Nullable(PATH)),
    }
)


def _shot_size_bounded(record: Dict[str, Any], path: str) -> None:
    frames = record["last_frame"] - record["first_frame"] + 1
    if frames > limits.MAX_SHOT_FRAMES:
        raise invalid(
            f"{path}.last_frame",
            f"{frames} frames; a shot holds at most {limits.MAX_SHOT_FRAMES} (split it)",
        )
    if record["width"] * record["height"] > limits.MAX_PIXELS:
        raise invalid(
            f"{path}.width",
            f"{record['width']}x{record['height']} exceeds {limits.MAX_PIXELS} pixels",
        )


def _add_check(msg_type: str, check: Any) -> None:
    """A stricter bound on an existing message (limits.py), checked after its fields."""
    record = CONTENT[msg_type]
    assert isinstance(record, Record)
    record.checks = (*record.checks, check)


_extend(
    "describe_reply",
    # Folders plate paths (put_frames path) may be under, after resolving symlinks; [] means
    # pixels must travel inline.
    allowed_roots=opt(ListOf(PATH, 0, 64), []),
)
_add_check("open_shot_request", _shot_size_bounded)
# What the backend repaired or set aside while opening the shot (damaged files, ...).
_extend("open_shot_reply", warnings=opt(ListOf(WARNING, 0, 64), []))
_extend(
    "cancelled",
    reason=opt(Str(choices=CANCEL_REASONS), "requested"),
    replaced_by=opt(Nullable(ID)),  # reason "replaced": the job that took over
)
