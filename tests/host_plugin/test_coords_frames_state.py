"""Pure parts: coordinates (Nuke bottom-left -> protocol top-left), frame ranges, node state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sam2matting_nuke import coords, frames, state

from sam2matting.protocol.messages import ID

# ------------------------------------------------------------------ coordinates

HD = coords.Format.full(1920, 1080)
LETTERBOX = coords.Format(2048, 1556, 0, 140, 2048, 1416)  # image area 2048x1276, 140 up
ANAMORPHIC = coords.Format.full(1828, 1556, pixel_aspect=2.0)


def test_point_flips_y_about_the_format_height():
    assert coords.to_top_left(HD, (100.0, 1080.0)) == (100.0, 0.0)
    assert coords.to_top_left(HD, (100.0, 0.0)) == (100.0, 1080.0)
    assert coords.to_top_left(HD, (960.5, 540.25)) == (960.5, 539.75)


def test_format_offset_is_removed_and_the_box_top_is_row_zero():
    assert (LETTERBOX.plate_width, LETTERBOX.plate_height) == (2048, 1276)
    assert coords.to_top_left(LETTERBOX, (10.0, 1416.0)) == (10.0, 0.0)
    assert coords.to_top_left(LETTERBOX, (10.0, 140.0)) == (10.0, 1276.0)
    shifted = coords.Format(100, 50, 20, 10, 80, 40)
    assert coords.to_top_left(shifted, (20.0, 40.0)) == (0.0, 0.0)
    assert coords.to_top_left(shifted, (80.0, 10.0)) == (60.0, 30.0)


def test_pixel_aspect_leaves_pixel_columns_alone():
    # XY knobs hold pixel columns: the centre of a 2:1 anamorphic plate is x = 914 (not 457
    # and not 1828), and it is sent as such; pixel_aspect travels with the shot instead.
    assert coords.to_top_left(ANAMORPHIC, (914.0, 778.0)) == (914.0, 778.0)
    assert coords.display_to_pixel_x(ANAMORPHIC, 1828.0) == 914.0
    assert ANAMORPHIC.plate_width == 1828


def test_box_swaps_y_and_is_normalised():
    assert coords.box_to_top_left(HD, (10, 20, 110, 220)) == [10.0, 860.0, 110.0, 1060.0]
    assert coords.box_to_top_left(HD, (110, 220, 10, 20)) == [10.0, 860.0, 110.0, 1060.0]
    assert coords.box_to_top_left(LETTERBOX, (0, 140, 2048, 1416)) == [0.0, 0.0, 2048.0, 1276.0]


def test_inside_uses_the_image_area():
    assert coords.inside(LETTERBOX, (5, 700))
    assert not coords.inside(LETTERBOX, (5, 100))


FORMATS = st.builds(
    lambda w, h, x, y, pa: coords.Format(w + x, h + y, x, y, w + x, h + y, pa),
    st.integers(1, 8192),
    st.integers(1, 8192),
    st.integers(0, 200),
    st.integers(0, 200),
    st.sampled_from([1.0, 2.0, 1.33, 0.9]),
)
COORD = st.floats(-5000, 10000, allow_nan=False)


@given(FORMATS, COORD, COORD)
def test_point_round_trip(fmt, x, y):
    back = coords.from_top_left(fmt, coords.to_top_left(fmt, (x, y)))
    assert back == pytest.approx((x, y), abs=1e-6)


@given(FORMATS, COORD, COORD, COORD, COORD)
def test_box_round_trip_is_ordered(fmt, a, b, c, d):
    tl = coords.box_to_top_left(fmt, (a, b, c, d))
    assert tl[0] <= tl[2]
    assert tl[1] <= tl[3]
    nuke_box = coords.box_from_top_left(fmt, tl)
    assert nuke_box == pytest.approx([min(a, c), min(b, d), max(a, c), max(b, d)], abs=1e-6)


# ------------------------------------------------------------------ frames


@given(st.lists(st.integers(-50, 3000), max_size=60))
def test_ranges_round_trip(values):
    ranges = frames.to_ranges(values)
    assert frames.from_ranges(ranges) == sorted(set(values))
    assert all(a <= b for a, b in ranges)
    assert all(r1[1] + 1 < r2[0] for r1, r2 in zip(ranges, ranges[1:]))


def test_covered_frames_in_processing_order():
    assert frames.covered("forward", 1003, 1001, 1005) == [1003, 1004, 1005]
    assert frames.covered("backward", 1003, 1001, 1005) == [1003, 1002, 1001]
    assert frames.covered("both", 1003, 1001, 1005) == [1003, 1004, 1005, 1002, 1001]
    with pytest.raises(ValueError, match="outside the range"):
        frames.covered("both", 1000, 1001, 1005)
    with pytest.raises(ValueError, match="direction"):
        frames.covered("sideways", 1003, 1001, 1005)


def test_missing_and_chunks():
    assert frames.missing([1, 2, 3, 7, 8], [[2, 3], [8, 9]]) == [1, 7]
    pieces = frames.chunks(list(range(1001, 1141)))
    assert [len(p) for p in pieces] == [64, 64, 12]
    assert pieces[1][0] == 1065
    assert frames.describe_ranges([[1, 3], [5, 5]]) == "1-3, 5"


def test_cache_file_names_follow_the_cache_layout():
    assert frames.padding(1001, 1240) == 4
    assert frames.padding(-5, 99999) == 5
    pattern = frames.matte_pattern("/c/sh010", 1001, 1240)
    assert pattern == "/c/sh010/matte/matte.####.exr"
    assert frames.frame_file(pattern, 1043) == "/c/sh010/matte/matte.1043.exr"
    assert frames.frame_file("/c/m.####.exr", -5) == "/c/m.-005.exr"
    assert frames.frame_file("/c/m.%05d.exr", 42) == "/c/m.00042.exr"


# ------------------------------------------------------------------ node state


def make_state() -> state.NodeState:
    s = state.NodeState(shot_id="comp_SAM2Matte1_abc123", first_frame=1001, last_frame=1100)
    s.add_object("hero")
    s.add_object("dog")
    s.set_prompt(state.Prompt(1, 1010, [(10.5, 20.0)], [1], [1.0, 2.0, 30.0, 40.0]))
    s.set_prompt(state.Prompt(2, 1042, [], [], None, mask=True))
    return s


def test_state_json_round_trip():
    original = make_state()
    original.shot = state.Shot(48, 32, 1001, 1100, 2.0, [0, 0, 48, 32])
    back = state.NodeState.loads(original.dumps())
    assert back == original
    assert back.to_json()["format"] == "sam2matting-nuke-node"
    assert back.to_json()["version"] == 2
    assert back.prompts[0].slots == ["pos1"]


def test_state_from_a_newer_plugin_or_damaged_is_refused_with_a_reason():
    data = make_state().to_json()
    data["version"] = 3
    with pytest.raises(state.StateError, match="update the plugin"):
        state.NodeState.from_json(data)
    with pytest.raises(state.StateError, match="not JSON"):
        state.NodeState.loads("{oops")
    data["version"] = 2
    del data["prompts"][0]["frame"]
    with pytest.raises(state.StateError, match="damaged"):
        state.NodeState.from_json(data)


def test_a_version_1_state_is_read_and_upgraded():
    """What the first plugin saved: no slots, no drafts, a direction and editor flags."""
    v1 = {
        "format": "sam2matting-nuke-node",
        "version": 1,
        "shot_id": "s_1",
        "cache_dir": "/c",
        "objects": [{"id": 1, "name": "hero"}],
        "current_object": 1,
        "next_seq": 2,
        "matte_pattern": "",
        "shot": None,
        "tracker": "auto",
        "engine": "auto",
        "first_frame": 1001,
        "last_frame": 1050,
        "direction": "forward",
        "output": "both",
        "revision": 3,
        "editor_frame": 1010,
        "editor_dirty": True,
        "prompts": [
            {
                "object_id": 1,
                "frame": 1010,
                "points": [[1, 2], [3, 4], [5, 6]],
                "labels": [1, 0, 1],
                "box": None,
                "mask": False,
                "seq": 1,
            }
        ],
    }
    loaded = state.NodeState.from_json(v1)
    assert loaded.prompts[0].slots == ["pos1", "neg1", "pos2"]
    assert loaded.drafts == []
    assert loaded.object(1).grow == 0.0
    assert state.NodeState.loads(loaded.dumps()) == loaded


def test_objects_and_prompts():
    s = make_state()
    assert [o.id for o in s.objects] == [1, 2]
    assert s.current_object == 2
    with pytest.raises(ValueError, match="already an object"):
        s.add_object("HERO")
    s.set_prompt(state.Prompt(1, 1010, [(1.0, 1.0)], [0]))  # replaces hero's prompt on 1010
    assert [(p.object_id, p.frame, p.seq) for p in s.prompts] == [(2, 1042, 1), (1, 1010, 2)]
    assert s.latest_prompt().frame == 1010
    assert s.remove_object(1) == 1
    assert [o.name for o in s.objects] == ["dog"]
    s.rename_object(2, "  cat ")
    assert s.object(2).name == "cat"


@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("hero", "hero"),
        ("alpha", "obj3_alpha"),
        ("2nd guy", "obj_2nd_guy"),
        ("!!!", "obj3"),
        ("héro-1", "h_ro_1"),
        ("rgba", "obj3_rgba"),
    ],
)
def test_layer_names_are_valid_nuke_layers(name, layer):
    assert state.layer_name(name, 3) == layer


def test_layer_names_stay_unique():
    s = state.NodeState(shot_id="s")
    s.add_object("a b")
    s.add_object("a-b")
    assert s.layer_names() == {1: "a_b", 2: "a_b_2"}


@given(
    st.text(max_size=80), st.text(max_size=80), st.text("0123456789abcdef", min_size=6, max_size=6)
)
def test_shot_ids_are_valid_on_the_wire(script, node_name, token):
    shot_id = state.new_shot_id(script, node_name, token)
    assert ID.check(shot_id, "shot_id") == shot_id
    assert shot_id.endswith(token)


def test_shot_id_from_the_script_name():
    assert state.new_shot_id("/jobs/sh010/comp_v003.nk", "SAM2Matte1", "a1b2c3") == (
        "comp_v003_SAM2Matte1_a1b2c3"
    )
