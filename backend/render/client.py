"""Driving a backend through the protocol client, as `render` and `demo` both do.

Frames travel by path when `describe` says the backend shares this machine's filesystem (it
reads them itself, under its allowed roots), else inline as the file's bytes; mattes come back
the same way (`matte_path`, or the EXR bytes as a buffer).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Union

from sam2matting.backend.render.progress import ProgressBar
from sam2matting.protocol.client import Client
from sam2matting.protocol.envelope import Message
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

ENCODINGS = {
    ".exr": "exr",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
}
# Errors that belong to one frame's file; anything else stops the command.
FRAME_ERRORS = (ErrorCode.BAD_IMAGE, ErrorCode.FRAME_SIZE_MISMATCH)
PUT_TIMEOUT_S = 120.0  # decoding one inline 4K EXR takes a fraction of that
IDLE_TIMEOUT_S = 600.0  # no progress for this long while the backend answers pings: give up

FrameHandler = Callable[[int, Message], None]


def put_frames(
    client: Client,
    shot_id: str,
    frames: Mapping[int, Path],
    shared: bool,
    colourspace: Optional[str] = None,
    progress: Optional[ProgressBar] = None,
) -> Dict[int, ProtocolError]:
    """Send plate frames one per request; returns the frames the backend refused, and why.

    Raises:
        ProtocolError: anything that is not about one frame's file (a path outside the
            backend's allowed roots, an unknown colourspace, a backend that stopped).
    """
    refused: Dict[int, ProtocolError] = {}
    for frame, path in sorted(frames.items()):
        try:
            _put_frame(client, shot_id, frame, path, shared, colourspace)
        except ProtocolError as exc:
            if exc.code not in FRAME_ERRORS:
                raise
            log.debug("frame %d refused: %s", frame, exc)
            refused[frame] = exc
        except OSError as exc:  # inline: the file vanished or is unreadable here
            refused[frame] = ProtocolError(ErrorCode.BAD_IMAGE, f"cannot read {path}: {exc}")
        if progress is not None:
            progress.update()
    return refused


def _put_frame(
    client: Client, shot_id: str, frame: int, path: Path, shared: bool, colourspace: Optional[str]
) -> None:
    buffers = []
    entry: Dict[str, Any] = {"frame": frame, "image": None, "path": None, "colourspace": None}
    if shared:
        entry.update(path=str(path.resolve()), colourspace=colourspace)
    else:
        encoding = ENCODINGS.get(path.suffix.lower())
        if encoding is None:
            raise ProtocolError(ErrorCode.BAD_IMAGE, f"{path}: unknown image type {path.suffix}")
        entry["image"] = {
            "buffer": 0,
            "encoding": encoding,
            "colourspace": colourspace,
            "origin": "top_left",
        }
        buffers.append(path.read_bytes())
    content = {"shot_id": shot_id, "frames": [entry]}
    client.request("put_frames_request", content, buffers, timeout_s=PUT_TIMEOUT_S)


def matte_source(event: Message) -> Union[Path, bytes]:
    """Where a progress event's matte is: its cache path, or the EXR bytes it carries."""
    content = event.content
    if content.get("matte_path"):
        return Path(content["matte_path"])
    image = content.get("matte")
    if image is not None:
        return bytes(event.buffers[image["buffer"]])
    raise ProtocolError(ErrorCode.INTERNAL, f"frame {content['frame']}: progress without a matte")


def run_propagation(
    client: Client,
    request: Mapping[str, Any],
    on_frame: FrameHandler,
    progress: Optional[ProgressBar] = None,
) -> Dict[str, Any]:
    """Run one propagate job to its end, handing each frame's progress event to `on_frame`.

    Returns the `done` content. Ctrl-C cancels the job on the backend before it propagates.

    Raises:
        ProtocolError: the job's `error` end, or a backend that stopped answering.
    """
    job = client.propagate(**request)
    try:
        for event in job.events(idle_timeout_s=IDLE_TIMEOUT_S):
            on_frame(int(event.content["frame"]), event)
            if progress is not None:
                progress.update()
    except KeyboardInterrupt:
        with contextlib.suppress(ProtocolError):
            job.cancel()
        raise
    assert job.end is not None  # events() returns only after done or cancelled
    if job.end.msg_type == "cancelled":
        raise ProtocolError(ErrorCode.SHUTTING_DOWN, f"job {job.job_id} was cancelled")
    return dict(job.end.content)
