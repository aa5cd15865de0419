"""What the plugin sends and when: plate frames (full resolution, in chunks, by path or inline),
prompts (points, boxes, masks from input 2), syncing after edits, and knob changes that never
render or talk to the backend themselves."""

from __future__ import annotations

from pathlib import Path

import nuke
import pytest
from nuke import _exr
from sam2matting_nuke import plate_send

from . import plates
from .helpers import (
    controller,
    new_node,
    nuke_xy,
    place_point,
    prompt_on,
    square_centre,
    through_a_node,
    wait,
)
from .scripted_backend import ScriptedBackend


@pytest.fixture
def backend(home, tmp_path):
    with ScriptedBackend(tmp_path / "cache") as running:
        yield running


def sent_frames(backend):
    return [
        [e["frame"] for e in r["content"]["frames"]] for r in backend.of_type("put_frames_request")
    ]


def test_plate_goes_out_in_chunks_of_at_most_64(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1070)
    prompt_on(node, 1001)  # the first frame: Track goes forward from it
    nuke._fake.press(node, "track")
    wait(node)
    assert sent_frames(backend) == [[1001], list(range(1002, 1066)), list(range(1066, 1071))]
    assert all(
        len(r["buffers"]) == len(r["content"]["frames"])
        for r in backend.of_type("put_frames_request")
    )


def test_byte_budget_paces_the_plate(backend, tmp_path, monkeypatch):
    frame_bytes = plates.WIDTH * plates.HEIGHT * 3 * 2 + 65536
    monkeypatch.setattr(plate_send, "INLINE_BUDGET_BYTES", 3 * frame_bytes)
    node, _ = new_node(tmp_path, 1001, 1008)
    prompt_on(node, 1004)
    nuke._fake.press(node, "track")
    wait(node)
    assert [len(chunk) for chunk in sent_frames(backend)] == [1, 3, 3, 1]


def test_proxy_mode_still_sends_full_resolution(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1004)
    nuke.root()["proxy"].setValue(True)
    prompt_on(node, 1002)
    nuke._fake.press(node, "track")
    wait(node)
    assert nuke.root()["proxy"].value()  # restored
    renders = [e for e in nuke._fake.session().executes if "Write" in e["node"]]
    assert renders
    assert not any(e["proxy"] for e in renders)
    image = _exr.decode(backend.of_type("put_frames_request")[0]["buffers"][0])
    assert (image.width, image.height) == (plates.WIDTH, plates.HEIGHT)
    cx, cy = square_centre(1002)
    assert backend.of_type("add_prompt_request")[0]["content"]["points"] == [[cx, cy]]
    assert node["status"].value().startswith("tracked 4 frames")
    # Relied on: XY knob values stay full-resolution pixels in proxy mode (unverified).
    assert "xy_pixel_aspect" in nuke._fake.unverified_touched()


def test_plate_pixels_arrive_raw_and_unflipped(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1002)
    prompt_on(node, 1002)
    request = backend.of_type("put_frames_request")[0]
    entry = request["content"]["frames"][0]
    assert entry["image"]["encoding"] == "exr"
    assert entry["image"]["channels"] == ["R", "G", "B"]
    assert entry["image"]["origin"] == "top_left"
    assert entry["image"]["colourspace"] == "scene_linear"
    image = _exr.decode(request["buffers"][0])
    for x, y in [(0, 0), (7, 3), (plates.WIDTH - 1, plates.HEIGHT - 1), (11, 12)]:
        expected = plates.pixel(1002, x, y)
        got = [image.display_plane(c)[y * image.width + x] for c in "RGB"]
        assert got == pytest.approx(expected, abs=2e-3)
    write = [e for e in nuke._fake.session().executes if e["first"] == 1002]
    assert write
    assert nuke.toNode("SAM2Matte1").node("Write1") is None


def test_anamorphic_plate_keeps_pixel_columns(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1002, aspect=2.0)
    prompt_on(node, 1001)
    opened = backend.of_type("open_shot_request")[0]["content"]
    assert opened["pixel_aspect"] == 2.0
    assert opened["width"] == plates.WIDTH
    assert backend.of_type("add_prompt_request")[0]["content"]["points"] == [
        list(square_centre(1001))
    ]
    # Relied on: XY knob x values are pixel columns on an anamorphic format (unverified).
    assert "xy_pixel_aspect" in nuke._fake.unverified_touched()


def test_box_and_sign_of_every_point(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1002)
    nuke._fake.set_frame(1001)
    place_point(node, "pos2", 10.0, 12.0)
    place_point(node, "neg4", 40.0, 2.0)
    place_point(node, "pos1", 12.0, 14.0)
    nuke._fake.artist_sets(node, "use_box", True)
    nuke._fake.artist_sets(node, "box", [5.0, 2.0, 25.0, 30.0])  # Nuke x, y, r, t
    nuke._fake.press(node, "set_prompt")
    wait(node)
    sent = backend.of_type("add_prompt_request")[0]["content"]
    assert sent["points"] == [[12.0, 14.0], [10.0, 12.0], [40.0, 2.0]]
    assert sent["labels"] == [1, 1, 0]
    assert sent["box"] == [5.0, 2.0, 25.0, 30.0]  # y0 = 32 - 30, y1 = 32 - 2
    assert node["pos1"].visible()
    assert not node["pos3"].visible()
    assert node["box"].visible()


def test_input_2_rendered_as_a_mask_prompt(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1002)
    plates.write_mask(tmp_path / "roto" / "roto.1001.exr", (5, 6, 20, 30))
    roto = nuke.nodes.Read(file=str(tmp_path / "roto" / "roto.####.exr"), first=1001, last=1001)
    node.setInput(1, roto)
    nuke._fake.set_frame(1001)
    nuke._fake.artist_sets(node, "use_mask", True)
    nuke._fake.press(node, "set_prompt")
    wait(node)
    request = backend.of_type("add_prompt_request")[0]
    assert request["content"]["mask"]["channels"] == ["A"]
    assert request["content"]["points"] == []
    assert request["content"]["box"] is None
    mask = _exr.decode(request["buffers"][0])
    alpha = mask.display_plane("A")
    assert sum(alpha) == (20 - 5) * (30 - 6)
    assert alpha[6 * plates.WIDTH + 5] == 1.0
    assert alpha[5 * plates.WIDTH + 5] == 0.0


def test_mask_prompt_without_input_2_is_explained(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1002)
    nuke._fake.artist_sets(node, "use_mask", True)
    nuke._fake.press(node, "set_prompt")
    wait(node)
    assert (
        "uses input 2 as a mask, but input 2 is not connected" in nuke._fake.session().messages[-1]
    )
    assert node["status"].value().startswith("error:")


def test_point_outside_the_plate_is_refused(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1002)
    nuke._fake.artist_sets(node, "use_pos1", True)
    nuke._fake.artist_sets(node, "pos1", [200.0, 10.0])
    nuke._fake.press(node, "set_prompt")
    assert "outside the plate" in nuke._fake.session().messages[-1]
    assert backend.of_type("add_prompt_request") == []


def test_clear_removes_one_prompt_and_only_remove_object_deletes(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1006)
    prompt_on(node, 1001)
    nuke._fake.answer("dog")
    nuke._fake.press(node, "add_object")
    assert node["object"].value() == "dog"
    assert not node["use_pos1"].value()  # the new object has no points yet
    prompt_on(node, 1003)
    node["object"].setValue("object1")
    nuke._fake.set_frame(1001)
    nuke._fake.press(node, "load_prompt")
    assert node["use_pos1"].value()
    assert node["pos1"].value(0) == square_centre(1001)[0]
    nuke._fake.press(node, "clear_prompt")  # sent at once: a remove_prompt, nothing deleted
    wait(node)
    assert not node["use_pos1"].value()
    assert backend.of_type("remove_object_request") == []
    removed = [r["content"] for r in backend.of_type("remove_prompt_request")]
    assert removed == [{"shot_id": controller(node).state().shot_id, "object_id": 1, "frame": 1001}]
    shot = next(iter(backend.shots.values()))
    assert [(p["object_id"], p["frame"]) for p in shot.prompts] == [(2, 1003)]
    assert sorted(shot.objects) == [1, 2]  # the object stays, with its mattes

    node["object"].setValue("dog")
    nuke._fake.answer(True)
    nuke._fake.press(node, "remove_object")  # the artist's explicit removal
    assert node["object"].values() == ["object1"]
    prompt_on(node, 1005)
    assert [r["content"]["object_id"] for r in backend.of_type("remove_object_request")] == [2]
    assert sorted(shot.objects) == [1]
    assert controller(node).state().removed_objects == []


def test_a_1_0_backend_is_never_asked_to_delete_for_an_edit(home, tmp_path):
    with ScriptedBackend(tmp_path / "cache", protocol_version="1.0") as old:
        node, _ = new_node(tmp_path, 1001, 1004)
        prompt_on(node, 1001)
        nuke._fake.press(node, "clear_prompt")
        wait(node)
        assert "update the backend" in node["status"].value()
        assert old.of_type("remove_prompt_request") == []
        assert old.of_type("remove_object_request") == []


def test_knob_edits_never_render_and_live_preview_is_debounced(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1002)
    nuke._fake.set_frame(1001)
    nuke._fake.artist_sets(node, "live_preview", True)
    nuke._fake.artist_sets(node, "use_pos1", True)
    executes = len(nuke._fake.session().executes)
    for x in (10.0, 11.0, 12.0, 13.0):  # a drag: a burst of knob changes
        nuke._fake.artist_sets(node, "pos1", nuke_xy(x, 15.0))
    assert len(nuke._fake.session().executes) == executes  # knobChanged rendered nothing
    assert backend.of_type("add_prompt_request") == []
    ctl = controller(node)
    nuke._fake.pump(until=lambda: ctl.debouncer.pending() == 0 and ctl.activity is not None)
    wait(node)
    sent = backend.of_type("add_prompt_request")
    assert [r["content"]["points"] for r in sent] == [[[13.0, 15.0]]]  # once, the final position


def test_busy_node_refuses_a_second_job(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1010)
    prompt_on(node, 1001)
    backend.frame_s = 0.05
    nuke._fake.press(node, "track")
    nuke._fake.press(node, "retrack")
    assert "is busy (track): wait, or press Cancel" in nuke._fake.session().messages[-1]
    nuke._fake.press(node, "cancel")
    wait(node)
    assert node["status"].value().startswith("cancelled after")


def test_backend_errors_reach_the_artist(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1004)
    prompt_on(node, 1002)
    shot = next(iter(backend.shots.values()))
    shot.frames.clear()  # the backend lost its frames but says they are stored
    backend.shots[shot.id] = shot
    original = shot.state

    def lying_state(restored):
        state = original(restored)
        state["frames_stored"] = [[1001, 1004]]
        return state

    shot.state = lying_state
    nuke._fake.press(node, "track")
    wait(node)
    assert node["status"].value().startswith("error: frames [1002, 1003, 1004, 1001] were not sent")
    assert (
        "Send the frame's pixels (put_frames) before tracking" in nuke._fake.session().messages[-1]
    )


def test_changed_plate_asks_for_a_new_shot(backend, tmp_path):
    node, read = new_node(tmp_path, 1001, 1003)
    prompt_on(node, 1001)
    first_id = controller(node).state().shot_id
    bigger = tmp_path / "bigger"
    bigger.mkdir()
    for frame in (1001, 1002, 1003):
        blob = _exr.encode(64, 40, plates.planes(frame, 64, 40), _exr.HALF)
        (bigger / f"plate.{frame}.exr").write_bytes(blob)
    read["file"].setValue(str(bigger / "plate.####.exr"))
    nuke._fake.answer(True)
    nuke._fake.press(node, "track")
    wait(node)
    state = controller(node).state()
    assert state.shot_id != first_id
    assert (state.shot.width, state.shot.height) == (64, 40)
    assert backend.of_type("open_shot_request")[-1]["content"]["width"] == 64
    assert node.node("MatteCache")["file"].value().startswith(state.cache_dir)


def test_a_plate_that_fails_to_render_is_named(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1005)
    prompt_on(node, 1001)
    (tmp_path / "plate" / "plate.1003.exr").unlink()
    nuke._fake.press(node, "track")
    wait(node)
    status = node["status"].value()
    assert status.startswith("error: rendering the plate (input 1) failed on frames 1002-1005: ")
    assert "plate.1003.exr" in status
    assert backend.of_type("propagate_request") == []


@pytest.mark.parametrize("allowed", [True, False])
def test_shared_filesystem_sends_paths_or_falls_back_inline(home, tmp_path, allowed):
    """A rendered plate (input 1 is a graph) goes by path from the shot's cache folder."""
    with ScriptedBackend(
        tmp_path / "cache", shares_filesystem=True, allow_paths=allowed
    ) as backend:
        node, read = new_node(tmp_path, 1001, 1004)
        through_a_node(node, read)
        prompt_on(node, 1001)
        nuke._fake.press(node, "track")
        wait(node)
        requests = backend.of_type("put_frames_request")
    plates = Path(controller(node).state().cache_dir) / "nuke_plates"  # in the shot's cache
    by_path = [r for r in requests if r["content"]["frames"][0]["path"] is not None]
    inline = [r for r in requests if r["content"]["frames"][0]["image"] is not None]
    if allowed:
        assert inline == []
        assert [len(r["buffers"]) for r in by_path] == [0, 0]
        path = by_path[0]["content"]["frames"][0]["path"]
        assert path == (plates / "plate.1001.exr").as_posix()
        assert (plates / "plate.1004.exr").is_file()  # kept: read again by later tracks
    else:
        # One refused attempt by path, then pixels inline for it and every later chunk.
        assert len(by_path) == 1
        assert [[e["frame"] for e in r["content"]["frames"]] for r in inline] == [
            [1001],
            [1002, 1003, 1004],
        ]
        assert list(plates.iterdir()) == []
    assert node["status"].value().startswith("tracked 4 frames")
