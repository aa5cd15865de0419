"""SAM2 sessions on the CPU where an object is tracked before its prompt (real sam2, 64 px, CPU).

sam2 stores mask memories as bf16; without autocast an object with no object pointer yet (its
prompts all lie ahead of the frame tracked) fed them to float32 weights and failed with "mat1 and
mat2 must have the same dtype" (sam2_memory_dtype.py). Objects prompted on different frames, a
pass that starts before a prompt or runs backward towards it, objects added, removed or
re-prompted between passes: each path is run here, with the dtype seen where they meet.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Tuple

import numpy as np
import pytest
import torch
from sam2.sam2_video_predictor import SAM2VideoPredictor

from sam2matting.backend.tracking.base import Prompt, TrackedFrame
from sam2matting.backend.tracking.sam2_memory_dtype import attention_module, memory_in_weight_dtype
from sam2matting.backend.tracking.sam2_model import SAM2Tracker
from sam2matting.backend.tracking.sam2_session import SAM2Session

from .conftest import TEST_IMAGE_SIZE, SyntheticShot

S = TEST_IMAGE_SIZE


def _session(model: SAM2VideoPredictor, shot: SyntheticShot) -> SAM2Session:
    return SAM2Tracker(model, "sam2.1-tiny").open_session(shot)


def _block(shot: SyntheticShot, x0: int, x1: int) -> Prompt:
    mask = np.zeros(shot.size[::-1], bool)
    mask[10:30, x0:x1] = True
    return Prompt(mask=mask)


def _tracked_pair(model: SAM2VideoPredictor) -> Tuple[SyntheticShot, SAM2Session]:
    """Two objects prompted on frame 2 and tracked to frame 12."""
    shot = SyntheticShot(20)
    session = _session(model, shot)
    session.add_prompt(2, 1, _block(shot, 4, 20))
    session.add_prompt(2, 2, _block(shot, 40, 60))
    list(session.propagate(2, 12))
    return shot, session


def _check(frames: List[TrackedFrame], indices: List[int], objects: List[int]) -> None:
    assert [f.index for f in frames] == indices
    for frame in frames:
        assert sorted(frame.logits) == objects
        for logits in frame.logits.values():
            assert logits.shape == (S // 4, S // 4)
            assert logits.dtype == torch.float32
            assert torch.isfinite(logits).all()


@pytest.fixture
def memory_dtypes(tiny_model: SAM2VideoPredictor) -> Iterator[List[torch.dtype]]:
    """The dtype of every memory sam2 hands to memory attention, as it arrives there."""
    seen: List[torch.dtype] = []

    def record(_module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        seen.append(kwargs["memory"].dtype if "memory" in kwargs else args[1].dtype)

    # registered first, so it sees the memory before the session's cast (hooks run in order)
    handle = tiny_model.memory_attention.register_forward_pre_hook(record, with_kwargs=True)
    yield seen
    handle.remove()


def test_objects_prompted_on_different_frames(
    tiny_model: SAM2VideoPredictor, memory_dtypes: List[torch.dtype]
) -> None:
    shot = SyntheticShot(20)
    session = _session(tiny_model, shot)
    session.add_prompt(2, 1, _block(shot, 4, 20))
    prompted = session.add_prompt(8, 2, _block(shot, 40, 60))
    frames = list(session.propagate(2, 12))
    _check(frames, list(range(2, 13)), [1, 2])
    # object 2 was tracked on frames 2-7 from its prompt ahead: sam2 gave memory attention bf16
    assert torch.bfloat16 in memory_dtypes
    assert torch.equal(frames[6].logits[2], prompted.logits[2])  # its prompt is kept
    # the stored memories stay bf16, as sam2 makes them (half the bytes of float32)
    stored = session.inference_state["output_dict_per_obj"][1]["non_cond_frame_outputs"][5]
    assert stored["maskmem_features"].dtype == torch.bfloat16
    # and backward over both prompts
    _check(list(session.propagate(12, 0)), list(range(12, -1, -1)), [1, 2])


@pytest.mark.parametrize(("start", "stop"), [(2, 10), (12, 4)], ids=["forward", "backward"])
def test_one_object_tracked_towards_its_prompt(
    tiny_model: SAM2VideoPredictor, start: int, stop: int
) -> None:
    shot = SyntheticShot(20)
    session = _session(tiny_model, shot)
    prompted = session.add_prompt(7, 1, _block(shot, 4, 20))
    step = 1 if stop > start else -1
    frames = list(session.propagate(start, stop))
    _check(frames, list(range(start, stop + step, step)), [1])
    assert torch.equal(frames[abs(7 - start)].logits[1], prompted.logits[1])


def test_object_added_after_a_propagation(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(20)
    session = _session(tiny_model, shot)
    session.add_prompt(2, 1, _block(shot, 4, 20))
    first = {f.index: f.logits[1] for f in session.propagate(2, 12)}
    session.add_prompt(8, 2, _block(shot, 40, 60))
    frames = list(session.propagate(2, 12))
    _check(frames, list(range(2, 13)), [1, 2])
    # SAM2 tracks each object from its own memory: object 1 does not change
    for frame in frames:
        assert torch.equal(frame.logits[1], first[frame.index])


def test_reprompt_after_a_propagation_then_backward(tiny_model: SAM2VideoPredictor) -> None:
    _, session = _tracked_pair(tiny_model)
    # a click on a tracked frame for object 2 only: it becomes conditioning there
    session.add_prompt(8, 2, Prompt(points=((50.0, 20.0),), labels=(1,)))
    assert session.conditioning_frames(2) == {2, 8}
    _check(list(session.propagate(2, 12)), list(range(2, 13)), [1, 2])
    _check(list(session.propagate(12, 0)), list(range(12, -1, -1)), [1, 2])


def test_object_removed_then_another_added_ahead(tiny_model: SAM2VideoPredictor) -> None:
    shot, session = _tracked_pair(tiny_model)
    session.remove_object(1)
    _check(list(session.propagate(2, 12)), list(range(2, 13)), [2])
    session.add_prompt(10, 3, _block(shot, 20, 40))
    _check(list(session.propagate(12, 0)), list(range(12, -1, -1)), [2, 3])


def test_cast_gives_what_sams_own_promotion_gave(tiny_model: SAM2VideoPredictor) -> None:
    """Where sam2's concatenation promoted the bf16 memories (an object with a pointer), the
    session's results equal sam2's own propagation with no context at all, to the bit."""
    shot = SyntheticShot(16)
    ours, raw = _session(tiny_model, shot), _session(tiny_model, shot)
    for session in (ours, raw):
        session.add_prompt(3, 1, _block(shot, 4, 20))
        session.add_prompt(3, 2, Prompt(points=((50.0, 20.0),), labels=(1,)))
    tracked: Dict[int, torch.Tensor] = {}
    for frame in ours.propagate(3, 12):
        tracked[frame.index] = torch.stack([frame.logits[1], frame.logits[2]])
    steps = tiny_model.propagate_in_video(raw.inference_state, 3, 9)
    for index, _, masks in steps:  # sam2's masks at plate size: compare its stored logits
        stored = [
            raw.inference_state["output_dict_per_obj"][i]["non_cond_frame_outputs"].get(index)
            or raw.inference_state["output_dict_per_obj"][i]["cond_frame_outputs"][index]
            for i in (0, 1)
        ]
        expected = torch.stack([out["pred_masks"][0, 0] for out in stored])
        assert torch.equal(tracked[index], expected), index
        assert masks.dtype == torch.float32
    assert sorted(tracked) == list(range(3, 13))


def test_memory_cast_is_scoped_and_takes_positional_memory(
    tiny_model: SAM2VideoPredictor,
) -> None:
    attention = attention_module(tiny_model)
    torch.manual_seed(2)
    curr = torch.randn(S * S // 256, 1, 256)
    pos = torch.randn_like(curr)
    memory = torch.randn(2 * S * S // 256, 1, 64).to(torch.bfloat16)
    memory_pos = torch.randn(2 * S * S // 256, 1, 64)
    with torch.inference_mode():
        with pytest.raises(RuntimeError, match="same dtype"):  # what sam2 hit without the cast
            attention(curr, memory, pos, memory_pos)
        expected = attention(curr, memory.float(), pos, memory_pos)
        with memory_in_weight_dtype(tiny_model):
            positional = attention(curr, memory, pos, memory_pos)
            keyword = attention(curr=curr, memory=memory, curr_pos=pos, memory_pos=memory_pos)
    assert torch.equal(positional, expected)
    assert torch.equal(keyword, expected)
    assert not attention._forward_pre_hooks  # gone once the block ends


def test_a_model_without_memory_attention_is_refused_clearly() -> None:
    with pytest.raises(RuntimeError, match=r"no memory_attention module .* pinned in pyproject"):
        attention_module(torch.nn.Linear(2, 2))

    class Renamed(torch.nn.Module):  # a sam2 whose memory attention renamed its argument
        def __init__(self) -> None:
            super().__init__()
            self.memory_attention = torch.nn.Identity()

    with pytest.raises(RuntimeError, match="taking a 'memory' argument"):
        attention_module(Renamed())
