"""One function per request type. Each validates against the shot's state and replies (or
queues work that replies); schema validation already happened in the protocol layer.

Where each runs (app.py): ping, cancel, close_shot and shutdown on the I/O thread (they cost
nothing); everything that reads files or decodes pixels on the request pool (`server.offload`);
everything that touches a tracker on the GPU worker (`server.on_worker`).
"""

from __future__ import annotations

import hmac
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import numpy as np

from sam2matting.backend.imageio.decode import decode_image
from sam2matting.backend.imageio.reading import read_regular_file, with_timeout
from sam2matting.backend.server import jobs
from sam2matting.backend.server.describe import describe_reply
from sam2matting.backend.shots.records import ShotSettings
from sam2matting.backend.tracking.base import Prompt
from sam2matting.protocol import limits
from sam2matting.protocol.envelope import Message
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import to_ranges as frame_ranges

if TYPE_CHECKING:
    from sam2matting.backend.server.app import BackendServer, Reply

PROBE_PREFIX = "sam2matting-probe"


def ping(server: BackendServer, msg: Message) -> None:
    server.reply(
        msg,
        (
            "ping_reply",
            {
                "server_time": time.time(),
                "uptime_s": time.time() - server.started,
                "jobs_running": server.worker.running(),
            },
            (),
        ),
    )


def describe(server: BackendServer, msg: Message) -> None:
    def work() -> None:
        probe = msg.content.get("fs_probe")
        content = describe_reply(server, shares_filesystem=_probe_matches(probe))
        server.reply(msg, ("describe_reply", content, ()))

    server.offload(msg, work)


def _probe_matches(probe: Optional[Dict[str, str]]) -> bool:
    """The client wrote a random token to a file: can we read the same token there?

    Only a probe file is read: a regular file of at most `PROBE_MAX_BYTES` whose name, or whose
    folder's name, starts with 'sam2matting-probe' (so the probe cannot confirm what other
    files hold), without following a symlink, with a timeout (a FIFO or a stalled mount).
    """
    if not probe:
        return False
    path = Path(probe["path"])
    if not path.is_absolute() or not (
        path.name.startswith(PROBE_PREFIX) or path.parent.name.startswith(PROBE_PREFIX)
    ):
        return False
    try:
        data = with_timeout(
            lambda: read_regular_file(path, limits.PROBE_MAX_BYTES + 1, "probe file", follow=False),
            str(path),
            float(limits.PATH_TIMEOUT_S),
        )
    except ProtocolError:
        return False
    if len(data) > limits.PROBE_MAX_BYTES:
        return False
    token = data.decode("ascii", "replace").strip().encode("ascii", "replace")
    return hmac.compare_digest(token, probe["token"].encode("ascii", "replace"))


def open_shot(server: BackendServer, msg: Message) -> None:
    c = msg.content
    settings = ShotSettings(
        shot_id=c["shot_id"],
        width=c["width"],
        height=c["height"],
        first_frame=c["first_frame"],
        last_frame=c["last_frame"],
        pixel_aspect=c["pixel_aspect"],
        colourspace=c["colourspace"],
        tracker=c["tracker"],
        engine=c["engine"],
        params={"tracker": c["tracker_params"], "engine": c["engine_params"]},
    )

    def work() -> None:
        shot, restored = server.open_shot(settings, c.get("cache_dir"))
        server.reply(msg, ("open_shot_reply", dict(shot.state(), restored=restored), ()))

    server.offload(msg, work)


def put_frames(server: BackendServer, msg: Message) -> None:
    shot = server.shot(msg.content["shot_id"])

    def store() -> None:  # every frame checked first, then all stored or none
        store = shot.store
        prepared = []
        for entry in msg.content["frames"]:
            image = entry["image"]
            if image is not None:
                data = bytes(msg.buffers[image["buffer"]])
                prepared.append(store.prepare_image(entry["frame"], data, image))
            else:
                prepared.append(
                    store.prepare_path(entry["frame"], entry["path"], entry["colourspace"])
                )
        replaced = any(store.has(frame) for frame, _, _ in prepared)
        stale: Dict[int, List[int]] = {}

        def mattes_stale() -> None:  # in the same change: the plate and the stale marks
            stale.update(shot.plate_replaced())

        store.store(prepared, then=mattes_stale if replaced else None)
        if replaced:  # the tracker memory holds the old pixels (the worker owns it)
            server.worker.submit(shot.release, shot.shot_id)
        content = {
            "shot_id": shot.shot_id,
            "stored": [frame for frame, _, _ in prepared],
            "invalidated": frame_ranges({f for frames in stale.values() for f in frames}),
        }
        server.reply(msg, ("put_frames_reply", content, ()))

    server.offload(msg, store, sum(memoryview(b).nbytes for b in msg.buffers))


def add_prompt(server: BackendServer, msg: Message) -> None:
    c = msg.content
    shot = server.shot(c["shot_id"])
    shot.index(c["frame"])
    obj = c["object"]

    def prepare() -> None:  # on the pool: decoding a mask may take a while
        prompt = Prompt(
            points=tuple((x, y) for x, y in c["points"]),
            labels=tuple(c["labels"]),
            box=None if c["box"] is None else tuple(c["box"]),
            mask=None if c["mask"] is None else _mask(shot.settings, c["mask"], msg),
            clear_old=c["clear_old"],
        )

        def work() -> Reply:
            path, stale = shot.add_prompt(c["frame"], obj["id"], obj["name"], prompt)
            content, buffers = server.matte_delivery(c["matte"], path)
            content.update(
                shot_id=shot.shot_id,
                frame=c["frame"],
                object_id=obj["id"],
                revision=shot.journal.revision,
                invalidated=frame_ranges(stale),
            )
            return "add_prompt_reply", content, buffers

        server.on_worker(msg, shot, work, changes=True)

    server.offload(msg, prepare, sum(memoryview(b).nbytes for b in msg.buffers))


def _mask(settings: ShotSettings, desc: Dict[str, Any], msg: Message) -> np.ndarray:
    """A mask prompt buffer (rendered roto) -> (H, W) bool at plate size.

    The size is checked before any pixel is converted; NaN and empty masks are refused (an
    empty mask would tell the tracker the object is not on the frame at all).
    """
    data = bytes(msg.buffers[desc["buffer"]])
    expected = (settings.width, settings.height)
    if desc["encoding"] == "raw":
        height, width = desc["shape"][:2]
        if (width, height) != expected:
            raise _mask_size(width, height, settings)
        plane = _raw_mask_plane(data, desc)
    else:
        image = decode_image(data, desc["encoding"], expected=expected)
        plane = image.alpha if image.alpha is not None else image.rgb[..., 0]
    if plane.shape != (settings.height, settings.width):
        raise _mask_size(plane.shape[1], plane.shape[0], settings)
    if np.isnan(plane).any():
        raise ProtocolError(
            ErrorCode.INVALID_FIELD,
            "the mask prompt contains NaN values",
            hint="Send a mask with values between 0 and 1.",
            details={"field": "content.mask"},
        )
    mask = np.asarray(plane > 0.5)
    if not mask.any():
        raise ProtocolError(
            ErrorCode.NO_PROMPT,
            "the mask prompt is empty (no pixel above 0.5)",
            hint="Draw the roto over the object, or prompt with points or a box instead.",
            details={"field": "content.mask"},
        )
    return mask


def _mask_size(width: int, height: int, settings: ShotSettings) -> ProtocolError:
    return ProtocolError(
        ErrorCode.FRAME_SIZE_MISMATCH,
        f"mask is {width}x{height}, the shot is {settings.width}x{settings.height}",
    )


def _raw_mask_plane(data: bytes, desc: Dict[str, Any]) -> np.ndarray:
    """The mask channel of a raw buffer: the one named A/alpha, else the first; in [0, 1]."""
    shape = desc["shape"]
    channels = shape[2] if len(shape) == 3 else 1
    dtype = np.dtype(desc["dtype"]).newbyteorder("<")
    pixels = np.frombuffer(data, dtype=dtype).reshape(shape[0], shape[1], channels)
    names = [n.split(".")[-1].lower() for n in (desc["channels"] or [])]
    pick = next((i for i, n in enumerate(names) if n in ("a", "alpha")), 0)
    plane = pixels[..., pick].astype(np.float32)
    if dtype.kind == "u":
        plane /= float(np.iinfo(dtype).max)
    return plane[::-1] if desc["origin"] == "bottom_left" else plane


def remove_object(server: BackendServer, msg: Message) -> None:
    shot = server.shot(msg.content["shot_id"])
    obj_id = msg.content["object_id"]

    def work() -> Reply:
        shot.remove_object(obj_id)
        # Only once the removal is committed: jobs tracking the object stop (a failed removal
        # leaves them running).
        server.worker.cancel(shot_id=shot.shot_id, reason="object_removed", tracking=obj_id)
        content = {"shot_id": shot.shot_id, "object_id": obj_id, "revision": shot.journal.revision}
        return "remove_object_reply", content, ()

    server.on_worker(msg, shot, work, changes=True)


def remove_prompt(server: BackendServer, msg: Message) -> None:
    """1.1: forget one prompt; mattes stay (stale), only remove_object deletes them."""
    c = msg.content
    shot = server.shot(c["shot_id"])
    shot.index(c["frame"])

    def work() -> Reply:
        stale = shot.remove_prompt(c["frame"], c["object_id"])
        content = {
            "shot_id": shot.shot_id,
            "object_id": c["object_id"],
            "frame": c["frame"],
            "revision": shot.journal.revision,
            "invalidated": frame_ranges(stale),
        }
        return "remove_prompt_reply", content, ()

    server.on_worker(msg, shot, work, changes=True)


def propagate(server: BackendServer, msg: Message) -> None:
    c = msg.content
    shot = server.shot(c["shot_id"])

    def work() -> None:  # on the pool: planning walks the range and the stored frames
        segments = jobs.plan(
            shot, c["start_frame"], c["direction"], c["first_frame"], c["last_frame"]
        )
        job = jobs.PropagationJob(shot, segments, c["objects"], msg, server.job_frame)
        server.start_job(
            job,
            lambda: server.reply(
                msg,
                (
                    "propagate_reply",
                    {
                        "job_id": job.job_id,
                        "shot_id": shot.shot_id,
                        "frames_planned": job.total,
                        "unchanged": job.unchanged(),
                    },
                    (),
                ),
            ),
        )

    server.offload(msg, work)


def cancel(server: BackendServer, msg: Message) -> None:
    cancelled = server.worker.cancel(msg.content["job_id"], msg.content["shot_id"])
    if msg.content["job_id"] and not cancelled:
        raise ProtocolError(ErrorCode.UNKNOWN_JOB, f"no running job {msg.content['job_id']}")
    server.reply(msg, ("cancel_reply", {"cancelled": cancelled}, ()))


def get_matte(server: BackendServer, msg: Message) -> None:
    shot = server.shot(msg.content["shot_id"])
    frame = msg.content["frame"]
    shot.index(frame)

    def work() -> None:  # on the pool: reads the file
        if not shot.cache.has(frame):
            raise ProtocolError(
                ErrorCode.FRAME_MISSING,
                f"no matte for frame {frame} yet",
                hint="Track over this frame first.",
                details={"frame": frame},
            )
        try:
            objects = shot.cache.read_objects(frame)  # a full read: damage shows here
            content, buffers = server.matte_delivery(msg.content["matte"], shot.cache.path(frame))
        except ProtocolError as exc:
            if exc.code is not ErrorCode.DAMAGED_STATE:
                raise
            damage = exc
            server.on_worker(msg, shot, lambda: _quarantined(shot, frame, damage))
            return
        content.update(shot_id=shot.shot_id, frame=frame, objects=sorted(objects))
        server.reply(msg, ("get_matte_reply", content, buffers))

    server.offload(msg, work)


def _quarantined(shot: Any, frame: int, exc: ProtocolError) -> Reply:
    """On the worker (it changes the shot): set the damaged file aside, then say so."""
    shot.quarantine(frame)
    raise exc


def close_shot(server: BackendServer, msg: Message) -> None:
    server.close_shot(msg.content["shot_id"], msg.content["delete_cache"])
    server.reply(msg, ("close_shot_reply", {"shot_id": msg.content["shot_id"]}, ()))


def shutdown(server: BackendServer, msg: Message) -> None:
    server.reply(msg, ("shutdown_reply", {}, ()))
    server.stop()


TABLE: Dict[str, Callable[[BackendServer, Message], None]] = {
    "ping_request": ping,
    "describe_request": describe,
    "open_shot_request": open_shot,
    "put_frames_request": put_frames,
    "add_prompt_request": add_prompt,
    "remove_object_request": remove_object,
    "remove_prompt_request": remove_prompt,
    "propagate_request": propagate,
    "cancel_request": cancel,
    "get_matte_request": get_matte,
    "close_shot_request": close_shot,
    "shutdown_request": shutdown,
}
