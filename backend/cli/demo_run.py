"""The demo's conversation with the backend: describe, open, frames, prompt, propagate, mattes."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from sam2matting.backend.cli.demo_shot import OBJECT_ID, OBJECT_NAME, PLATE_COLOURSPACE, DemoShot
from sam2matting.backend.render.client import matte_source, put_frames, run_propagation
from sam2matting.backend.render.progress import ProgressBar
from sam2matting.protocol.atomic import atomic_write_bytes
from sam2matting.protocol.client import Client
from sam2matting.protocol.envelope import Message
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import SequencePattern

log = logging.getLogger(__name__)

SHOT_ID = "sam2matting_demo"


@dataclass(frozen=True)
class DemoResult:
    tracker: str
    engine: str
    device: str
    shared: bool  # frames and mattes travelled as paths
    frames_per_second: float  # tracking + matting, as the backend timed the job
    matte: SequencePattern  # the mattes, copied out of the backend's cache
    prompt: str  # "roto" or "clicks"


def track_shot(
    client: Client,
    shot: DemoShot,
    tracker: Optional[str],
    engine: Optional[str],
    prompt: str = "roto",
) -> DemoResult:
    """Run the shot through the backend; every frame's matte lands in DIR/matte/.

    Raises:
        ProtocolError: whatever the backend refused (a missing model, a bad frame ...).
    """
    info = client.describe()
    shared = bool(info["shares_filesystem"])
    state = _open_shot(client, shot, tracker, engine)
    with ProgressBar(len(shot.frames), "sending frames") as progress:
        frames = {f: shot.plate.path(f) for f in shot.frames}
        refused = put_frames(client, SHOT_ID, frames, shared, PLATE_COLOURSPACE, progress)
    if refused:
        frame, exc = next(iter(refused.items()))
        raise ProtocolError(exc.code, f"frame {frame} was refused: {exc.message}", exc.hint)
    _prompt(client, shot, prompt)
    matte = SequencePattern.parse(str(shot.folder / "matte" / "matte.####.exr"))
    done = _propagate(client, shot, matte, shared)
    return DemoResult(
        tracker=state["tracker"],
        engine=state["engine"],
        device=_device(info["device"]),
        shared=shared,
        frames_per_second=done["frames_done"] / max(float(done["elapsed_s"]), 1e-6),
        matte=matte,
        prompt=prompt,
    )


def _open_shot(
    client: Client, shot: DemoShot, tracker: Optional[str], engine: Optional[str]
) -> Dict[str, Any]:
    content = {
        "shot_id": SHOT_ID,
        "width": shot.width,
        "height": shot.height,
        "first_frame": shot.frames[0],
        "last_frame": shot.frames[-1],
        "colourspace": PLATE_COLOURSPACE,
        "tracker": tracker or "auto",
        "engine": engine or "auto",
    }
    state: Dict[str, Any] = client.request("open_shot_request", content).content
    print(f"backend: tracker {state['tracker']}, engine {state['engine']}", file=sys.stderr)
    return state


def _prompt(client: Client, shot: DemoShot, kind: str) -> None:
    """A roto (the solid part of the true alpha, as a raw 8-bit mask) or a box and a click."""
    content: Dict[str, Any] = {
        "shot_id": SHOT_ID,
        "frame": shot.frames[0],
        "object": {"id": OBJECT_ID, "name": OBJECT_NAME},
        "matte": "none",
    }
    buffers = []
    if kind == "roto":
        mask = (shot.truth_alpha(shot.frames[0]) > 0.5).astype(np.uint8) * 255
        content["mask"] = {
            "buffer": 0,
            "encoding": "raw",
            "dtype": "uint8",
            "shape": [shot.height, shot.width],
            "channels": ["A"],
            "colourspace": "raw",
            "origin": "top_left",
        }
        buffers.append(mask.tobytes())
    else:
        content.update(points=[list(shot.point)], labels=[1], box=list(shot.box))
    client.request("add_prompt_request", content, buffers)


def _propagate(
    client: Client, shot: DemoShot, matte: SequencePattern, shared: bool
) -> Dict[str, Any]:
    matte.folder.mkdir(parents=True, exist_ok=True)
    for frame in shot.frames:
        matte.path(frame).unlink(missing_ok=True)  # a matte left by an earlier demo
    request = {
        "shot_id": SHOT_ID,
        "start_frame": shot.frames[0],
        "direction": "forward",
        "matte": "path" if shared else "exr",
    }

    def copy_out(frame: int, event: Message) -> None:
        source = matte_source(event)
        data = source.read_bytes() if isinstance(source, Path) else source
        atomic_write_bytes(matte.path(frame), data)

    with ProgressBar(len(shot.frames), "tracking and matting") as progress:
        done = run_propagation(client, request, copy_out, progress)
    missing = [f for f in shot.frames if not matte.path(f).is_file()]
    if missing:
        raise ProtocolError(ErrorCode.INTERNAL, f"the backend sent no matte for frames {missing}")
    return done


def _device(device: Dict[str, Any]) -> str:
    name = device.get("name") or ""
    return f"{device['type']} ({name})" if name else str(device["type"])
