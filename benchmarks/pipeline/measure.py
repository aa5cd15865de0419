"""The four ways one shot is run, each returning frames per second over the same frames.

* `bare_sam2`: sam2's own `SAM2VideoPredictor` alone: `init_state` on a JPEG folder (every frame
  decoded and resized beforehand, in device memory), then `propagate_in_video` (bf16 autocast on
  CUDA, as sam2's README runs it). The reference for SAM2.1 trackers.
* `bare_session`: the project's tracker session alone, frames decoded beforehand (the reference
  for the flow tracker, which sam2 does not have).
* `in_process`: the same session plus the matting engine's two phases, exactly as the server's
  shot runs them (`matting/phases.py`), frames decoded beforehand, nothing written: the compute.
* `full`: the real server over loopback: plates read by path from EXR, tracked, matted, written
  as float EXR, the progress event received (`backend.Server.propagate`).

Every run skips its first frames (the prompted frame, and warm-up on CUDA) and reports the rate
over the rest, from per-frame completion times.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch

from benchmarks.pipeline.plates import Frames
from sam2matting.backend.matting import phases
from sam2matting.backend.matting.base import MattingEngine
from sam2matting.backend.tracking.base import Prompt, Tracker

# bound at import: `backend.input_size` patches the module's name for the server's loading code
from sam2matting.backend.tracking.sam2_model import build_sam2_video_model


def rate(stamps: Sequence[float], skip: int) -> float:
    """Frames per second between completion time `stamps[skip]` and the last one."""
    if len(stamps) - 1 <= skip:
        return float("nan")
    return (len(stamps) - 1 - skip) / max(stamps[-1] - stamps[skip], 1e-9)


def skip_for(frames: int) -> int:
    """Frames left out of a rate: the prompted one, and about an eighth for warm-up."""
    return max(1, frames // 8)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_session(tracker: Tracker, frames: Frames, prompt: Prompt, device: torch.device) -> float:
    """The project's tracker session alone over frames decoded beforehand."""
    session = tracker.open_session(frames)
    session.add_prompt(0, 1, prompt)
    stamps: List[float] = []
    for _ in session.propagate(0, frames.num_frames - 1, [1]):
        _sync(device)
        stamps.append(time.perf_counter())
    session.close()
    return rate(stamps, skip_for(frames.num_frames))


def warm_up(
    tracker: Tracker, engine: MattingEngine, frames: Frames, prompt: Prompt, device: torch.device
) -> None:
    """Two frames through session and engine before timing anything (numba compiles pymatting's
    kernels on first use; torch picks its kernels)."""
    in_process(tracker, engine, Frames(frames.images[:2]), prompt, device)


def in_process(
    tracker: Tracker, engine: MattingEngine, frames: Frames, prompt: Prompt, device: torch.device
) -> float:
    """Session + engine as the server's shot runs them, frames decoded beforehand, no files."""
    session = tracker.open_session(frames)
    session.add_prompt(0, 1, prompt)
    stamps: List[float] = []
    for tracked in session.propagate(0, frames.num_frames - 1, [1]):
        rgb = frames.rgb(tracked.index).to(device, non_blocking=True)
        priors = phases.track_phase(engine, rgb, tracked, [1], frames.size)
        phases.native_phase(engine, rgb, priors)  # ends on the host: synchronised
        stamps.append(time.perf_counter())
    session.close()
    return rate(stamps, skip_for(frames.num_frames))


def bare_sam2(
    config: str,
    jpegs: Path,
    box: Sequence[float],
    device: torch.device,
    input_size: Optional[int],
) -> float:
    """sam2's own video predictor (random weights) over a JPEG folder."""
    torch.manual_seed(0)
    predictor = build_sam2_video_model(config, None, device, input_size)
    stamps: List[float] = []
    cast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with torch.inference_mode(), cast:
        state = predictor.init_state(str(jpegs))
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, box=np.asarray(box))
        for _ in predictor.propagate_in_video(state):
            _sync(device)
            stamps.append(time.perf_counter())
    frames = len(stamps)
    del predictor, state
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rate(stamps, skip_for(frames))
