"""Building SAM2.1 in one place; loading official-layout checkpoints strictly (random weights)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Tuple

import pytest
import torch
from sam2.sam2_video_predictor import SAM2VideoPredictor

from sam2matting.backend.model_files import SAM2MATTING_HEADS, ModelFile
from sam2matting.backend.tracking.checkpoints import HEAD_PREFIXES
from sam2matting.backend.tracking.sam2_model import (
    SAM2Tracker,
    build_sam2_video_model,
    check_image_size,
    load_sam2_tracker,
    load_strict,
)
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .conftest import TEST_IMAGE_SIZE, sha256_of

CPU = torch.device("cpu")


def _same_weights(model: torch.nn.Module, state: dict) -> bool:
    own = model.state_dict()
    return own.keys() == state.keys() and all(torch.equal(own[k], state[k]) for k in state)


@pytest.mark.parametrize("size", [32, 100, 200, 1000])
def test_image_size_must_suit_hiera(size: int) -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        check_image_size(size)


def test_model_is_sams_own_class_with_safe_options(tiny_model: SAM2VideoPredictor) -> None:
    assert type(tiny_model) is SAM2VideoPredictor
    assert tiny_model.image_size == TEST_IMAGE_SIZE
    assert not tiny_model.training
    # re-prompts must stick; the option that reaches a missing sam2 method stays off
    assert tiny_model.add_all_frames_to_correct_as_cond is True
    assert tiny_model.clear_non_cond_mem_around_input is False
    assert tiny_model.binarize_mask_from_pts_for_mem_enc is True


def test_official_checkpoint_loads_strictly(
    tiny_checkpoint: Tuple[Path, ModelFile], tiny_state_dict: dict
) -> None:
    path, entry = tiny_checkpoint
    tracker = load_sam2_tracker(entry.name, path.parent, CPU, model_file=entry)
    assert isinstance(tracker, SAM2Tracker)
    assert tracker.image_size == 1024  # the config's own size when not overridden
    assert tracker.device == CPU
    assert _same_weights(tracker.model, tiny_state_dict)


def test_wrong_hash_is_refused_before_loading(tiny_checkpoint: Tuple[Path, ModelFile]) -> None:
    path, entry = tiny_checkpoint
    other = replace(entry, sha256="ab" * 32)
    with pytest.raises(ProtocolError) as err:
        load_sam2_tracker(entry.name, path.parent, CPU, model_file=other)
    assert err.value.code is ErrorCode.CHECKPOINT_INVALID
    assert "--models tiny" in err.value.hint


def test_sam2matting_file_with_head_keys_loads_the_tracker(
    tmp_path: Path, shared_data: Path, tiny_state_dict: dict
) -> None:
    reference = shared_data.parent / "reference" / "sam2matting_heads_state_dict.json"
    if not reference.is_file():
        pytest.skip(f"{reference} not found")
    heads = {k: torch.zeros(shape) for k, shape in json.loads(reference.read_text()).items()}
    official = SAM2MATTING_HEADS["sam2matting-tiny"]
    path = tmp_path / official.filename
    torch.save({"model": {**tiny_state_dict, **heads}}, path)
    entry = replace(official, size=path.stat().st_size, sha256=sha256_of(path))

    tracker = load_sam2_tracker("sam2.1-tiny", tmp_path, CPU, model_file=entry)
    assert _same_weights(tracker.model, tiny_state_dict)
    assert not any(k.startswith(HEAD_PREFIXES) for k in tracker.model.state_dict())


@pytest.mark.parametrize("damage", ["missing", "unexpected", "shape"])
def test_checkpoint_that_does_not_fit_is_refused(
    tiny_model: SAM2VideoPredictor, damage: str
) -> None:
    # the model's own weights, damaged one way: loading them back changes nothing else
    state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    key = "sam_mask_decoder.iou_prediction_head.layers.0.weight"
    if damage == "missing":
        del state[key]
    elif damage == "unexpected":
        state["refiner.extra.weight"] = torch.zeros(1)
    else:
        state[key] = torch.zeros(3, 3)
    with pytest.raises(ProtocolError) as err:
        load_strict(tiny_model, state)
    assert err.value.code is ErrorCode.CHECKPOINT_INVALID
    assert (key if damage != "unexpected" else "refiner.extra.weight") in err.value.message


def test_random_init_needs_no_file_and_builds_at_any_supported_size() -> None:
    model = build_sam2_video_model("configs/sam2.1/sam2.1_hiera_t.yaml", None, CPU, 96)
    assert model.image_size == 96
    with torch.inference_mode():
        out = model.forward_image(torch.zeros(1, 3, 96, 96))
    shapes = [tuple(t.shape) for t in out["backbone_fpn"]]
    assert shapes == [(1, 32, 24, 24), (1, 64, 12, 12), (1, 256, 6, 6)]
