"""sam2's inference-state dict: built without loading the video, pruned, measured and read.

The dict's keys are exactly those `SAM2VideoPredictor.init_state` makes (a test compares them with
the real init_state, so a sam2 upgrade that changes them fails loudly). Everything here reads or
trims sam2's data; it never calls sam2's private methods.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, Iterable, Optional, Set, Tuple

import torch

from sam2matting.backend.tracking.sam2_frames import LazyFrames

State = Dict[str, Any]
COND = "cond_frame_outputs"
NON_COND = "non_cond_frame_outputs"


def new_state(
    images: LazyFrames,
    video_size: Tuple[int, int],
    device: torch.device,
    offload_state_to_cpu: bool,
) -> State:
    """An empty inference state over lazy frames, as `init_state` would make it (minus the warm-up).

    `init_state` also runs the image encoder on frame 0 to warm it up; a session whose first prompt
    is on frame 500 has no use for that, so it is skipped.
    """
    width, height = video_size
    return {
        "images": images,
        "num_frames": len(images),
        # frames are produced on the compute device on demand; none are held in host memory
        "offload_video_to_cpu": False,
        "offload_state_to_cpu": offload_state_to_cpu,
        "video_height": height,
        "video_width": width,
        "device": device,
        "storage_device": torch.device("cpu") if offload_state_to_cpu else device,
        "point_inputs_per_obj": {},
        "mask_inputs_per_obj": {},
        "cached_features": {},
        "constants": {},
        "obj_id_to_idx": OrderedDict(),
        "obj_idx_to_id": OrderedDict(),
        "obj_ids": [],
        "output_dict_per_obj": {},
        "temp_output_dict_per_obj": {},
        "frames_tracked_per_obj": {},
    }


def obj_index(state: State, obj_id: int) -> Optional[int]:
    idx = state["obj_id_to_idx"].get(obj_id)
    return None if idx is None else int(idx)


def object_output(state: State, obj_idx: int, frame: int) -> Optional[Dict[str, Any]]:
    """An object's latest output on a frame, looked up as sam2's consolidation does."""
    temp = state["temp_output_dict_per_obj"][obj_idx]
    outputs = state["output_dict_per_obj"][obj_idx]
    for store in (temp[COND], temp[NON_COND], outputs[COND], outputs[NON_COND]):
        out = store.get(frame)
        if out is not None:
            return dict(out)
    return None


def conditioning_frames(state: State, obj_idx: int) -> Set[int]:
    """Frames with a prompt for this object (consolidated or waiting in the temp outputs)."""
    frames = set(state["point_inputs_per_obj"][obj_idx]) | set(
        state["mask_inputs_per_obj"][obj_idx]
    )
    frames |= set(state["output_dict_per_obj"][obj_idx][COND])
    frames |= set(state["temp_output_dict_per_obj"][obj_idx][COND])
    return {int(f) for f in frames}


def prune_non_cond(state: State, center: int, window: int) -> int:
    """Drop non-conditioning outputs farther than `window` frames from `center`; returns how many.

    SAM2 attends to the 6 previous frames' mask memories and up to 15 previous object pointers, so
    a window of 16 loses nothing for the frame being tracked; conditioning outputs are never pruned.
    """
    removed = 0
    for outputs in state["output_dict_per_obj"].values():
        non_cond = outputs[NON_COND]
        for frame in [f for f in non_cond if abs(f - center) > window]:
            del non_cond[frame]
            removed += 1
    return removed


def retained_outputs(state: State) -> int:
    """Number of non-conditioning outputs held, over all objects."""
    return sum(len(o[NON_COND]) for o in state["output_dict_per_obj"].values())


def state_bytes(state: State) -> int:
    """Bytes of tensor storage the state holds (host and device), each storage counted once."""
    seen: Set[Tuple[str, int]] = set()
    total = 0
    images = state.get("images")
    cached_frames = images.tensors() if isinstance(images, LazyFrames) else []
    for tensor in [*_tensors(state.values()), *cached_frames]:
        storage = tensor.untyped_storage()
        key = (str(tensor.device), storage.data_ptr())
        if key not in seen:
            seen.add(key)
            total += storage.nbytes()
    return total


def _tensors(values: Iterable[Any]) -> Iterable[torch.Tensor]:
    for value in values:
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, dict):
            yield from _tensors(value.values())
        elif isinstance(value, (list, tuple)):
            yield from _tensors(value)
