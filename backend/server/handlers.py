"""One function per request type. Each validates against the shot's state and replies (or
queues work that replies); schema validation already happened in the protocol layer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import numpy as np

from sam2matting.backend.imageio.decode import decode_image
from sam2matting.backend.server import jobs
from sam2matting.backend.server.describe import describe_reply
from sam2matting.backend.shots.records import ShotSettings
from sam2matting.backend.tracking.base import Prompt
from sam2matting.protocol.envelope import Message
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import to_ranges as frame_ranges

if TYPE_CHECKING:
    from sam2matting.backend.server.app import BackendServer, Reply
    from sam2matting.backend.server.shot import Shot


def ping(server: BackendServer, msg: Message) -> None:
    server.reply(msg, ("ping_reply", {
        "server_time": time.time(),
        "uptime_s": time.time() - server.started,
        "jobs_running": server.worker.running(),
    }, ()))  # fmt: skip


def describe(server: BackendServer, msg: Message) -> None:
    probe = msg.content.get("fs_probe")
    content = describe_reply(server, shares_filesystem=_probe_matches(probe))
    server.reply(msg, ("describe_reply", content, ()))


def _probe_matches(probe: Optional[Dict[str, str]]) -> bool:
    """The client wrote a random token to a file: can we read the same token there?"""
    if not probe:
        return False
    path = Path(probe["path"])
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            return fh.read(256).decode("ascii", "replace").strip() == probe["token"]
    except OSError:
        return False


def open_shot(server: BackendServer, msg: Message) -> None:
    c = msg.content
    settings = ShotSettings(
        shot_id=c["shot_id"], width=c["width"], height=c["height"],
        first_frame=c["first_frame"], last_frame=c["last_frame"],
        pixel_aspect=c["pixel_aspect"], colourspace=c["colourspace"],
        tracker=c["tracker"], engine=c["engine"],
        params={"tracker": c["tracker_params"], "engine": c["engine_params"]},
    )  # fmt: skip
    shot, restored = server.open_shot(settings, c.get("cache_dir"))
    server.reply(msg, ("open_shot_reply", dict(shot.state(), restored=restored), ()))


def put_frames(server: BackendServer, msg: Message) -> None:
    shot = server.shot(msg.content["shot_id"])

    def store() -> None:
        stored = []
        replaced = [e["frame"] for e in msg.content["frames"] if shot.store.has(e["frame"])]
        for entry in msg.content["frames"]:
            image = entry["image"]
            if image is not None:
                shot.store.put_image(entry["frame"], bytes(msg.buffers[image["buffer"]]), image)
            else:
                shot.store.put_path(entry["frame"], entry["path"], entry["colourspace"])
            stored.append(entry["frame"])
        stale = _plate_replaced(server, shot) if replaced else {}
        content = {
            "shot_id": shot.shot_id, "stored": stored,
            "invalidated": frame_ranges({f for frames in stale.values() for f in frames}),
        }  # fmt: skip
        server.reply(msg, ("put_frames_reply", content, ()))

    # Decoding a 4K EXR takes a while: off the I/O thread, so pings keep flowing.
    server.decoders.submit(server.answer, msg, store)


def _plate_replaced(server: BackendServer, shot: Shot) -> Dict[int, List[int]]:
    """New pixels for stored frames (a changed plate re-sent): every matte is stale, and the
    tracker memory, built from the old pixels, goes (on the GPU worker, which owns it)."""
    stale = shot.plate_replaced()
    server.worker.submit(shot.release, shot.shot_id)
    return stale


def add_prompt(server: BackendServer, msg: Message) -> None:
    c = msg.content
    shot = server.shot(c["shot_id"])
    shot.index(c["frame"])
    prompt = Prompt(
        points=tuple((x, y) for x, y in c["points"]),
        labels=tuple(c["labels"]),
        box=None if c["box"] is None else tuple(c["box"]),
        mask=None if c["mask"] is None else _mask(shot.settings, c["mask"], msg),
        clear_old=c["clear_old"],
    )
    obj = c["object"]

    def work() -> Reply:
        path, stale = shot.add_prompt(c["frame"], obj["id"], obj["name"], prompt)
        content, buffers = server.matte_delivery(c["matte"], path)
        content.update(
            shot_id=shot.shot_id, frame=c["frame"], object_id=obj["id"],
            revision=shot.journal.revision, invalidated=frame_ranges(stale),
        )  # fmt: skip
        return "add_prompt_reply", content, buffers

    server.on_worker(msg, shot, work)


def _mask(settings: ShotSettings, desc: Dict[str, Any], msg: Message) -> np.ndarray:
    """A mask prompt buffer (rendered roto) -> (H, W) bool at plate size."""
    data = bytes(msg.buffers[desc["buffer"]])
    if desc["encoding"] == "raw":
        plane = _raw_mask_plane(data, desc)
    else:
        image = decode_image(data, desc["encoding"])
        plane = image.alpha if image.alpha is not None else image.rgb[..., 0]
    if plane.shape != (settings.height, settings.width):
        raise ProtocolError(
            ErrorCode.FRAME_SIZE_MISMATCH,
            f"mask is {plane.shape[1]}x{plane.shape[0]}, the shot is "
            f"{settings.width}x{settings.height}",
        )
    return np.asarray(plane > 0.5)


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
        server.worker.cancel(shot_id=shot.shot_id)
        shot.remove_object(obj_id)
        content = {"shot_id": shot.shot_id, "object_id": obj_id, "revision": shot.journal.revision}
        return "remove_object_reply", content, ()

    server.on_worker(msg, shot, work)


def remove_prompt(server: BackendServer, msg: Message) -> None:
    """1.1: forget one prompt; mattes stay (stale), only remove_object deletes them."""
    c = msg.content
    shot = server.shot(c["shot_id"])
    shot.index(c["frame"])

    def work() -> Reply:
        stale = shot.remove_prompt(c["frame"], c["object_id"])
        content = {
            "shot_id": shot.shot_id, "object_id": c["object_id"], "frame": c["frame"],
            "revision": shot.journal.revision, "invalidated": frame_ranges(stale),
        }  # fmt: skip
        return "remove_prompt_reply", content, ()

    server.on_worker(msg, shot, work)


def propagate(server: BackendServer, msg: Message) -> None:
    c = msg.content
    shot = server.shot(c["shot_id"])
    segments = jobs.plan(shot, c["start_frame"], c["direction"], c["first_frame"], c["last_frame"])
    job = jobs.PropagationJob(shot, segments, c["objects"], msg, server.job_frame)
    server.reply(msg, ("propagate_reply", {
        "job_id": job.job_id, "shot_id": shot.shot_id,
        "frames_planned": job.total, "unchanged": job.unchanged(),
    }, ()))  # fmt: skip
    server.start_job(job)


def cancel(server: BackendServer, msg: Message) -> None:
    cancelled = server.worker.cancel(msg.content["job_id"], msg.content["shot_id"])
    if msg.content["job_id"] and not cancelled:
        raise ProtocolError(ErrorCode.UNKNOWN_JOB, f"no running job {msg.content['job_id']}")
    server.reply(msg, ("cancel_reply", {"cancelled": cancelled}, ()))


def get_matte(server: BackendServer, msg: Message) -> None:
    shot = server.shot(msg.content["shot_id"])
    frame = msg.content["frame"]
    shot.index(frame)
    if not shot.cache.has(frame):
        raise ProtocolError(
            ErrorCode.FRAME_MISSING, f"no matte for frame {frame} yet",
            hint="Track over this frame first.", details={"frame": frame},
        )  # fmt: skip
    content, buffers = server.matte_delivery(msg.content["matte"], shot.cache.path(frame))
    objects = sorted(shot.cache.read_objects(frame))
    content.update(shot_id=shot.shot_id, frame=frame, objects=objects)
    server.reply(msg, ("get_matte_reply", content, buffers))


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
