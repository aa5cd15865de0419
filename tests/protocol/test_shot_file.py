"""The shot file's schema, shared by the node's export, the journal's export and `render`."""

from __future__ import annotations

import copy

import pytest

from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.shot_file import check_shot_file

GOOD = {
    "format": "sam2matting-shot",
    "version": "1.0",
    "shot": {
        "shot_id": "sh010",
        "width": 64,
        "height": 48,
        "first_frame": 1001,
        "last_frame": 1010,
        "params": {"engine": {"max_width": 12.0}},
    },
    "revision": 3,
    "objects": [{"id": 1, "name": "hero"}],
    "prompts": [
        {
            "seq": 0,
            "frame": 1001,
            "object_id": 1,
            "points": [[10.0, 12.5]],
            "labels": [1],
            "box": None,
            "clear_old": True,
            "timestamp": "",
            "mask_png": None,
        }
    ],
}


def _with(path, value):
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def test_a_good_file_gets_its_defaults():
    checked = check_shot_file(GOOD, "sh010.json")
    shot = checked["shot"]
    assert (shot["pixel_aspect"], shot["colourspace"]) == (1.0, "scene_linear")
    assert (shot["tracker"], shot["engine"]) == ("auto", "auto")
    assert shot["params"] == {"tracker": {}, "engine": {"max_width": 12.0}}


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("shot", "width"), 0, "shot_file.shot.width"),
        (("shot", "last_frame"), 1000, "shot_file.shot.last_frame"),
        (("shot", "params"), {"erode": 2}, "shot_file.shot.params.erode"),
        (("shot", "params"), {"engine": {"max_width": [1]}}, "shot_file.shot.params.engine"),
        (("prompts", 0, "labels"), [1, 0], "shot_file.prompts[0].labels"),
        (("prompts", 0, "object_id"), 0, "shot_file.prompts[0].object_id"),
        (("objects", 0, "colour"), "red", "shot_file.objects[0].colour"),
    ],
)
def test_bad_fields_are_named(path, value, field):
    with pytest.raises(ProtocolError) as err:
        check_shot_file(_with(path, value), "sh010.json")
    assert err.value.code is ErrorCode.INVALID_FIELD
    assert err.value.details["field"].startswith(field)
    assert "sh010.json" in err.value.message
    assert "Export" in err.value.hint


def test_versions_minor_newer_is_read_major_other_is_refused():
    newer = _with(("version",), "1.3")
    newer["shot"]["future_option"] = True  # what 1.3 may add is dropped, not refused
    assert "future_option" not in check_shot_file(newer, "f")["shot"]
    with pytest.raises(ProtocolError) as err:
        check_shot_file(_with(("version",), "2.0"), "f")
    assert err.value.code is ErrorCode.VERSION_MISMATCH
    with pytest.raises(ProtocolError) as err:
        check_shot_file(_with(("format",), "sam2matting-journal"), "f")
    assert err.value.code is ErrorCode.INVALID_FIELD
