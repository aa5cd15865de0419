"""The streaming SAM2 session on the real sam2 code path (random-init SAM2.1 tiny, 64 px, CPU)."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
from PIL import Image
from sam2.sam2_video_predictor import SAM2VideoPredictor

from sam2matting.backend.tracking.base import Prompt, TrackedFrame
from sam2matting.backend.tracking.sam2_frames import preprocess
from sam2matting.backend.tracking.sam2_model import SAM2Settings, SAM2Tracker
from sam2matting.backend.tracking.sam2_session import SAM2Session
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .conftest import TEST_IMAGE_SIZE, SyntheticShot, iou

S = TEST_IMAGE_SIZE


def _session(model: SAM2VideoPredictor, shot: SyntheticShot, **settings: object) -> SAM2Session:
    tracker = SAM2Tracker(model, "sam2.1-tiny", SAM2Settings(**settings))  # type: ignore[arg-type]
    return tracker.open_session(shot)


def _masks(frames: List[TrackedFrame], obj: int, shot: SyntheticShot) -> List[np.ndarray]:
    return [f.mask(obj, shot.size).numpy() > 0 for f in frames]


def test_state_keys_match_sam2_init_state(tiny_model: SAM2VideoPredictor, tmp_path: Path) -> None:
    """A sam2 upgrade that changes the inference state's keys must fail here, loudly."""
    shot = SyntheticShot(3, width=80, height=48)
    for i in range(3):
        rgb = (shot.rgb(i).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(rgb).save(tmp_path / f"{i:05d}.jpg", quality=98)
    reference = tiny_model.init_state(str(tmp_path))
    ours = _session(tiny_model, shot).inference_state
    assert set(ours) == set(reference)
    for key, value in reference.items():
        if key != "images":
            assert type(ours[key]) is type(value), key
    assert (ours["video_width"], ours["video_height"], ours["num_frames"]) == (80, 48, 3)
    # the lazy frames are what sam2's own loader makes from the same pixels
    for i in range(3):
        decoded = np.asarray(Image.open(tmp_path / f"{i:05d}.jpg").convert("RGB")) / 255.0
        rgb = torch.from_numpy(decoded).permute(2, 0, 1).float()
        diff = (preprocess(rgb, S, torch.device("cpu")) - reference["images"][i]).abs()
        assert diff.mean() < 0.01
        assert diff.max() < 0.05


def test_point_prompt_on_a_later_frame(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(40)
    session = _session(tiny_model, shot)
    x, y = 30.0, 20.5
    result = session.add_prompt(7, 3, Prompt(points=((x, y),), labels=(1,)))
    assert result.index == 7
    assert set(result.logits) == {3}
    assert result.logits[3].shape == (S // 4, S // 4)
    assert result.logits[3].dtype == torch.float32
    assert session.conditioning_frames() == session.conditioning_frames(3) == {7}
    # continuous plate coordinates land on sam2's pixel-index convention (it adds 0.5 itself)
    coords = session.inference_state["point_inputs_per_obj"][0][7]["point_coords"]
    expected = torch.tensor([[[x * S / 64 - 0.5, y * S / 48 - 0.5]]])
    assert torch.allclose(coords, expected, atol=1e-5)
    # only the prompted frame was decoded: nothing loads the shot whole
    assert set(shot.reads) == {7}
    # a further click adds to the frame's clicks; a box with clicks replaces them
    session.add_prompt(7, 3, Prompt(points=((5.0, 5.0),), labels=(0,), clear_old=False))
    labels = session.inference_state["point_inputs_per_obj"][0][7]["point_labels"]
    assert labels.tolist() == [[1, 0]]
    session.add_prompt(7, 3, Prompt(box=(8.0, 8.0, 40.0, 40.0), points=((5.0, 5.0),), labels=(0,)))
    labels = session.inference_state["point_inputs_per_obj"][0][7]["point_labels"]
    assert labels.tolist() == [[2, 3, 0]]


def test_features_are_the_frames_backbone_output(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(10)
    session = _session(tiny_model, shot)
    result = session.add_prompt(4, 1, Prompt(box=(10.0, 12.0, 40.0, 36.0)))
    assert result.features is not None
    image, fpn = result.features.image, result.features.fpn
    assert image.shape == (1, 3, S, S)
    assert [tuple(t.shape) for t in fpn] == [
        (1, 32, S // 4, S // 4),
        (1, 64, S // 8, S // 8),
        (1, 256, S // 16, S // 16),
    ]
    with torch.inference_mode():
        again = tiny_model.forward_image(preprocess(shot.rgb(4), S, torch.device("cpu"))[None])
    for ours, ref in zip(fpn, again["backbone_fpn"]):
        assert torch.allclose(ours, ref, atol=1e-5)
    # on a conditioning frame sam2 skips the encoder while propagating: computed for the caller
    frames = list(session.propagate(4, 6))
    assert frames[0].features is not None
    assert torch.allclose(frames[0].features.fpn[2], fpn[2], atol=1e-5)
    box_labels = session.inference_state["point_inputs_per_obj"][0][4]["point_labels"]
    assert box_labels.tolist() == [[2, 3]]


def test_mask_prompt_is_reproduced_on_its_frame(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(30)
    session = _session(tiny_model, shot)
    result = session.add_prompt(12, 1, Prompt(mask=shot.mask(12)))
    # SAM2.1 uses a mask prompt as the frame's output (use_mask_input_as_output_without_sam)
    assert iou(result.mask(1, shot.size).numpy() > 0, shot.mask(12)) > 0.8
    assert 12 in session.inference_state["mask_inputs_per_obj"][0]


def test_propagate_forward_and_backward_over_sub_ranges(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(60)
    session = _session(tiny_model, shot)
    session.add_prompt(20, 1, Prompt(mask=shot.mask(20)))
    forward = list(session.propagate(20, 26))
    backward = list(session.propagate(20, 13))
    assert [f.index for f in forward] == list(range(20, 27))
    assert [f.index for f in backward] == list(range(20, 12, -1))
    for frame in forward + backward:
        assert frame.logits[1].shape == (S // 4, S // 4)
        assert torch.isfinite(frame.logits[1]).all()
    tracked = session.inference_state["frames_tracked_per_obj"][0]
    assert set(tracked) == set(range(13, 27))
    assert tracked[15] == {"reverse": True}
    assert tracked[25] == {"reverse": False}
    assert set(shot.reads) <= set(range(13, 27))
    # a single-frame range yields that frame
    assert [f.index for f in session.propagate(40, 40)] == [40]


def test_reprompt_on_a_tracked_frame_sticks(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(30)
    session = _session(tiny_model, shot)
    session.add_prompt(2, 1, Prompt(mask=shot.mask(2)))
    before = {f.index: f.logits[1] for f in session.propagate(2, 12)}

    correction = np.zeros(shot.size[::-1], bool)
    correction[5:20, 40:60] = True
    prompted = session.add_prompt(8, 1, Prompt(mask=correction))
    assert session.conditioning_frames(1) == {2, 8}

    after = {f.index: f.logits[1] for f in session.propagate(8, 12)}
    assert 8 in session.inference_state["output_dict_per_obj"][0]["cond_frame_outputs"]
    assert torch.equal(after[8], prompted.logits[1])  # kept, not recomputed
    for index in range(9, 13):  # recomputed from the correction
        assert not torch.allclose(after[index], before[index])
    # and it survives a later pass over it from the first prompt
    again = {f.index: f.logits[1] for f in session.propagate(2, 10)}
    assert torch.equal(again[8], prompted.logits[1])


def test_two_objects_and_remove_object(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(30)
    session = _session(tiny_model, shot)
    left = np.zeros(shot.size[::-1], bool)
    left[10:30, 4:20] = True
    right = np.zeros(shot.size[::-1], bool)
    right[10:30, 40:60] = True
    session.add_prompt(5, 1, Prompt(mask=left))
    both = session.add_prompt(5, 2, Prompt(mask=right))
    assert set(both.logits) == {1, 2}
    assert iou(both.mask(1, shot.size).numpy() > 0, left) > 0.8
    assert iou(both.mask(2, shot.size).numpy() > 0, right) > 0.8
    session.add_prompt(9, 2, Prompt(points=((50.0, 20.0),), labels=(1,)))
    assert session.conditioning_frames(1) == {5}
    assert session.conditioning_frames(2) == {5, 9}
    assert session.conditioning_frames() == {5, 9}

    frames = list(session.propagate(5, 10))
    assert all(set(f.logits) == {1, 2} for f in frames)

    session.remove_object(1)
    assert session.object_ids == [2]
    assert session.conditioning_frames(1) == set()
    frames = list(session.propagate(5, 10))
    assert all(set(f.logits) == {2} for f in frames)
    with pytest.raises(ProtocolError) as err:
        session.remove_object(1)
    assert err.value.code is ErrorCode.UNKNOWN_OBJECT
    session.remove_object(2)
    with pytest.raises(ProtocolError) as err:
        list(session.propagate(0, 3))
    assert err.value.code is ErrorCode.NO_PROMPT


def test_cancelled_propagation_leaves_a_usable_session(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(40)
    session = _session(tiny_model, shot)
    session.add_prompt(0, 1, Prompt(mask=shot.mask(0)))
    run = session.propagate(0, 30)
    assert [f.index for f in islice(run, 4)] == [0, 1, 2, 3]
    run.close()  # the caller stops between frames (cancel, pre-emption)
    assert set(session.inference_state["frames_tracked_per_obj"][0]) == {0, 1, 2, 3}
    assert max(shot.reads) <= 4
    assert [f.index for f in session.propagate(3, 6)] == [3, 4, 5, 6]


def test_release_caches_keeps_tracking_memory(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(20)
    session = _session(tiny_model, shot)
    session.add_prompt(0, 1, Prompt(mask=shot.mask(0)))
    list(session.propagate(0, 5))
    held = session.memory_bytes()
    retained = session.retained_outputs()
    session.release_caches()
    assert session.memory_bytes() < held
    assert session.inference_state["cached_features"] == {}
    assert session.retained_outputs() == retained
    assert [f.index for f in session.propagate(5, 7)] == [5, 6, 7]
    session.close()
    assert session.object_ids == []
    assert session.retained_outputs() == 0


@pytest.mark.parametrize(
    ("prompt", "code"),
    [
        (Prompt(), ErrorCode.NO_PROMPT),
        (Prompt(points=((1.0, 2.0),), labels=(0,)), ErrorCode.NO_PROMPT),
        (Prompt(points=((1.0, 2.0),), labels=(1, 0)), ErrorCode.INVALID_FIELD),
        (Prompt(points=((1.0, 2.0),), labels=(2,)), ErrorCode.INVALID_FIELD),
        (Prompt(points=((float("nan"), 2.0),), labels=(1,)), ErrorCode.INVALID_FIELD),
        (Prompt(box=(10.0, 10.0, 5.0, 20.0)), ErrorCode.INVALID_FIELD),
        (Prompt(box=(1.0, 1.0, 5.0, 5.0), clear_old=False), ErrorCode.INVALID_FIELD),
        (Prompt(mask=np.ones((10, 10), bool)), ErrorCode.FRAME_SIZE_MISMATCH),
        (
            Prompt(mask=np.ones((48, 64), bool), points=((1.0, 1.0),), labels=(1,)),
            ErrorCode.INVALID_FIELD,
        ),
    ],
)
def test_bad_prompts_are_refused_with_a_code(
    tiny_model: SAM2VideoPredictor, prompt: Prompt, code: ErrorCode
) -> None:
    session = _session(tiny_model, SyntheticShot(5))
    with pytest.raises(ProtocolError) as err:
        session.add_prompt(1, 1, prompt)
    assert err.value.code is code
    assert session.object_ids == []  # nothing half-added


def test_a_missing_frame_leaves_no_half_added_object(tiny_model: SAM2VideoPredictor) -> None:
    class MissingFrames(SyntheticShot):
        def rgb(self, index: int) -> torch.Tensor:
            if index == 3:
                raise ProtocolError(ErrorCode.FRAME_MISSING, "frame 3 not sent")
            return super().rgb(index)

    session = _session(tiny_model, MissingFrames(8))
    session.add_prompt(1, 1, Prompt(points=((10.0, 10.0),), labels=(1,)))
    with pytest.raises(ProtocolError) as err:
        session.add_prompt(3, 2, Prompt(points=((10.0, 10.0),), labels=(1,)))
    assert err.value.code is ErrorCode.FRAME_MISSING
    assert session.object_ids == [1]
    assert [f.index for f in session.propagate(1, 2)] == [1, 2]


def test_frame_indices_are_checked(tiny_model: SAM2VideoPredictor) -> None:
    session = _session(tiny_model, SyntheticShot(5))
    with pytest.raises(ProtocolError) as err:
        session.add_prompt(5, 1, Prompt(points=((1.0, 1.0),), labels=(1,)))
    assert err.value.code is ErrorCode.FRAME_OUT_OF_RANGE
    session.add_prompt(0, 1, Prompt(points=((1.0, 1.0),), labels=(1,)))
    with pytest.raises(ProtocolError) as err:
        session.propagate(0, 9)
    assert err.value.code is ErrorCode.FRAME_OUT_OF_RANGE
