"""Provenance: the pixels a prompt used are the pixels it keeps. A mask prompt sends its own
snapshot of input 2 (rewiring input 2 changes nothing sent); Check inputs finds a changed Roto or
plate and Re-send changed sends it again (mattes turn stale, none is deleted); a changed plate
stops a track instead of tracking on stale frames."""

from __future__ import annotations

import nuke
import pytest
from nuke import _exr
from sam2matting_nuke import provenance

from . import plates
from .helpers import controller, new_node, place_point, square_centre, wait
from .scripted_backend import ScriptedBackend

W, H = plates.WIDTH, plates.HEIGHT


@pytest.fixture
def backend(home, tmp_path):
    with ScriptedBackend(tmp_path / "cache") as running:
        yield running


def _exr_with(planes, **attributes):
    return _exr.encode(W, H, planes, _exr.HALF, _exr.ZIPS, attributes=attributes or None)


def test_the_digest_covers_pixels_not_metadata(tmp_path):
    planes = plates.planes(1001)
    a, b, c = tmp_path / "a.exr", tmp_path / "b.exr", tmp_path / "c.exr"
    a.write_bytes(_exr_with(planes))
    b.write_bytes(_exr_with(planes, comments="rendered again at another time"))
    other = dict(planes, R=[v + 0.25 for v in planes["R"]])
    c.write_bytes(_exr_with(other))
    assert a.read_bytes() != b.read_bytes()
    assert provenance.exr_digest(a) == provenance.exr_digest(b)
    assert provenance.exr_digest(a) != provenance.exr_digest(c)
    flat = tmp_path / "flat.exr"  # incompressible blocks are stored raw
    flat.write_bytes(_exr.encode(W, H, {"A": [0.0] * (W * H)}, _exr.HALF, _exr.ZIPS))
    assert len(provenance.exr_digest(flat)) == 64
    (tmp_path / "x.exr").write_bytes(b"not an exr")
    with pytest.raises(provenance.DigestError):
        provenance.exr_digest(tmp_path / "x.exr")


def roto(tmp_path, name: str, box, frame: int = 1001):
    plates.write_mask(tmp_path / name / f"{name}.{frame}.exr", box)
    return nuke.nodes.Read(file=str(tmp_path / name / f"{name}.####.exr"), first=frame, last=frame)


def mask_prompts(backend):
    return [r for r in backend.of_type("add_prompt_request") if r["content"]["mask"]]


def mask_area(request):
    return sum(_exr.decode(request["buffers"][0]).display_plane("A"))


def test_a_mask_prompt_keeps_the_pixels_it_used(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    node.setInput(1, roto(tmp_path, "roto", (5, 6, 20, 30)))
    nuke._fake.set_frame(1001)
    nuke._fake.artist_sets(node, "use_mask", True)
    nuke._fake.press(node, "set_prompt")
    wait(node)
    first = mask_prompts(backend)
    assert [mask_area(r) for r in first] == [15 * 24]
    assert controller(node).state().prompts[0].mask_digest

    # Rewiring input 2 (another object's Roto) replays nothing: the prompt keeps its pixels.
    # knobChanged's dummy knob for it (named 'inputChange': unverified) only puts up a hint.
    nuke._fake.artist_connects(node, 1, roto(tmp_path, "other", (30, 2, 40, 10)))
    assert node["inputs_info"].value() == "an input was reconnected: press Check inputs"
    assert "input_change_knob" in nuke._fake.unverified_touched()
    nuke._fake.press(node, "track")
    wait(node)
    assert len(mask_prompts(backend)) == 1
    assert node["status"].value().startswith("tracked 3 frames")

    # Check inputs sees the change and says what to do; Re-send sends the new pixels.
    nuke._fake.press(node, "check_inputs")
    wait(node)
    assert "input 2 changed on frame 1001 (object1's mask prompt)" in node["inputs_info"].value()
    assert node["status"].value() == "inputs changed: press Re-send changed"
    nuke._fake.press(node, "resend")
    wait(node)
    resent = mask_prompts(backend)
    assert [mask_area(r) for r in resent] == [15 * 24, 10 * 8]
    assert node["stale_info"].value().startswith("object1: 1002-1003")  # kept, stale
    nuke._fake.press(node, "check_inputs")
    wait(node)
    assert node["inputs_info"].value().startswith("2 checked: the plate and the mask prompts match")


def test_a_changed_plate_stops_the_track_until_it_is_sent_again(backend, tmp_path):
    node, read = new_node(tmp_path, 1001, 1004)
    nuke._fake.set_frame(1002)
    place_point(node, "pos1", *square_centre(1002))
    nuke._fake.press(node, "set_prompt")
    wait(node)
    nuke._fake.press(node, "track")
    wait(node)
    tracks = len(backend.of_type("propagate_request"))
    # A new plate version lands on disk (same format): the square elsewhere on 1002.
    changed = dict(plates.planes(1002), R=[0.5] * (W * H))
    (tmp_path / "plate" / "plate.1002.exr").write_bytes(_exr_with(changed))
    read["reload"].execute()
    nuke._fake.press(node, "track")
    wait(node)
    assert node["status"].value().startswith("not tracked: the plate changed")
    assert "the plate changed (frame 1002)" in node["inputs_info"].value()
    assert len(backend.of_type("propagate_request")) == tracks  # nothing tracked on stale pixels
    before = len(backend.of_type("put_frames_request"))
    nuke._fake.press(node, "resend")
    wait(node)
    puts = backend.of_type("put_frames_request")[before:]
    resent = [e["frame"] for r in puts for e in r["content"]["frames"]]
    assert resent == [1001, 1002, 1003, 1004]
    assert node["stale_info"].value().startswith("object1: 1001-1004")  # kept, all stale
    nuke._fake.press(node, "track")
    wait(node)
    assert node["status"].value().startswith("tracked 4 frames")
    assert node["stale_info"].value() == "none"
