"""Field validation: the decoder names the exact field that is wrong."""

from __future__ import annotations

import pytest

from sam2matting.protocol import messages
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .examples import EXAMPLES


def check(msg_type, **changes):
    content = dict(EXAMPLES[msg_type][0])
    content.update(changes)
    return messages.validate_content(msg_type, content)


@pytest.mark.parametrize(
    ("msg_type", "changes", "field"),
    [
        ("open_shot_request", {"width": 0}, "content.width"),
        ("open_shot_request", {"width": True}, "content.width"),
        ("open_shot_request", {"shot_id": "../etc"}, "content.shot_id"),
        ("open_shot_request", {"first_frame": 1010, "last_frame": 1001}, "content.last_frame"),
        ("open_shot_request", {"pixel_aspect": float("nan")}, "content.pixel_aspect"),
        ("add_prompt_request", {"labels": [1, 0]}, "content.labels"),
        ("add_prompt_request", {"points": [[1.0]], "labels": [1]}, "content.points[0]"),
        ("add_prompt_request", {"box": [3.0, 0.0, 1.0, 2.0]}, "content.box"),
        ("add_prompt_request", {"object": {"id": 0, "name": "x"}}, "content.object.id"),
        ("propagate_request", {"direction": "sideways"}, "content.direction"),
        ("cancel_request", {"job_id": None, "shot_id": None}, "content"),
        ("open_shot_request", {"engine_params": {"band": [1, 2]}}, "content.engine_params.band"),
        ("put_frames_request", {"frames": []}, "content.frames"),
    ],
)
def test_invalid_fields_are_named(msg_type, changes, field):
    with pytest.raises(ProtocolError) as err:
        check(msg_type, **changes)
    assert err.value.code is ErrorCode.INVALID_FIELD
    assert err.value.details["field"] == field


def test_prompt_without_anything_is_no_prompt():
    with pytest.raises(ProtocolError) as err:
        check("add_prompt_request", points=[], labels=[], box=None, mask=None)
    assert err.value.code is ErrorCode.NO_PROMPT


def test_defaults_are_filled():
    got = messages.validate_content("propagate_request", {"shot_id": "a"})
    assert got["direction"] == "both"
    assert got["start_frame"] is None
    assert got["matte"] == "path"


def test_frame_with_both_image_and_path_is_refused():
    frames = [
        {
            "frame": 1,
            "path": "/x.exr",
            "image": EXAMPLES["put_frames_request"][0]["frames"][0]["image"],
        }
    ]
    with pytest.raises(ProtocolError):
        check("put_frames_request", frames=frames)
