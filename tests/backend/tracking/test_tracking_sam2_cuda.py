"""SAM2 sessions on CUDA: bf16 autocast, state offload to host RAM, cache release."""

from __future__ import annotations

from typing import Iterator

import pytest
import torch
from sam2.sam2_video_predictor import SAM2VideoPredictor

from sam2matting.backend.tracking.base import Prompt
from sam2matting.backend.tracking.sam2_model import (
    SAM2Settings,
    SAM2Tracker,
    build_sam2_video_model,
)

from .conftest import TEST_IMAGE_SIZE, TINY, SyntheticShot

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda_model() -> Iterator[SAM2VideoPredictor]:
    torch.manual_seed(0)
    cuda = torch.device("cuda")
    yield build_sam2_video_model(TINY.config or "", None, cuda, TEST_IMAGE_SIZE)
    torch.cuda.empty_cache()


@pytest.mark.parametrize("offload", [False, True])
def test_cuda_session_runs_in_bf16_and_offloads_state(
    cuda_model: SAM2VideoPredictor, offload: bool
) -> None:
    shot = SyntheticShot(20)
    tracker = SAM2Tracker(cuda_model, "sam2.1-tiny", SAM2Settings(offload_state_to_cpu=offload))
    session = tracker.open_session(shot)
    prompted = session.add_prompt(3, 1, Prompt(mask=shot.mask(3)))
    assert prompted.logits[1].device.type == "cuda"
    run = session.propagate(3, 10)
    first = next(run)
    assert not torch.is_autocast_enabled("cuda")  # the context never leaks to the caller
    frames = [first, *run]
    assert [f.index for f in frames] == list(range(3, 11))
    for frame in frames:
        assert frame.logits[1].dtype == torch.float32
        assert frame.logits[1].device.type == "cuda"
        assert frame.features is not None
        assert frame.features.fpn[0].dtype == torch.bfloat16  # computed under bf16 autocast
    stored = session.inference_state["output_dict_per_obj"][0]["non_cond_frame_outputs"][10]
    assert stored["maskmem_features"].device.type == ("cpu" if offload else "cuda")
    assert stored["pred_masks"].device.type == ("cpu" if offload else "cuda")


def test_release_caches_frees_gpu_memory(cuda_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(10)
    session = SAM2Tracker(cuda_model, "sam2.1-tiny").open_session(shot)
    session.add_prompt(0, 1, Prompt(mask=shot.mask(0)))
    list(session.propagate(0, 5))
    before = torch.cuda.memory_allocated()
    session.release_caches()
    assert torch.cuda.memory_allocated() < before
    assert [f.index for f in session.propagate(5, 7)] == [5, 6, 7]


def test_objects_prompted_on_different_frames_run_under_autocast(
    cuda_model: SAM2VideoPredictor,
) -> None:
    """On CUDA sam2's bf16 memories meet the weights under autocast: the CPU's cast stays off."""
    seen = []

    def record(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        seen.append((torch.is_autocast_enabled("cuda"), len(module._forward_pre_hooks)))

    shot = SyntheticShot(20)
    session = SAM2Tracker(cuda_model, "sam2.1-tiny").open_session(shot)
    session.add_prompt(2, 1, Prompt(mask=shot.mask(2)))
    session.add_prompt(8, 2, Prompt(points=((30.0, 24.0),), labels=(1,)))
    handle = cuda_model.memory_attention.register_forward_pre_hook(record, with_kwargs=True)
    try:
        frames = list(session.propagate(2, 12))
    finally:
        handle.remove()
    assert [f.index for f in frames] == list(range(2, 13))
    assert all(set(f.logits) == {1, 2} for f in frames)
    assert all(torch.isfinite(f.logits[2]).all() for f in frames)
    assert seen
    assert all(s == (True, 1) for s in seen)  # autocast on, and no hook but this one
