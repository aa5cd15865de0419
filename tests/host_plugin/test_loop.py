"""The correction loop's manners: live-preview failures on the status line (no dialog flood), no
undo steps and no 'modified' from watching a track, plate preparation in small main-thread
steps under a progress bar, In-Out re-tracking, unplaced points never sent, and the Nuke
behaviours the plugin relies on (the fake's UNVERIFIED registry)."""

from __future__ import annotations

import nuke
import pytest
from nuke import _facts
from sam2matting_nuke import callbacks, graph, knobs, plate_send

from . import plates
from .helpers import (
    TRACK_TOUCHES,
    WHY_UNAVOIDABLE,
    add_point,
    controller,
    new_node,
    nuke_xy,
    place_point,
    prompt_on,
    square_centre,
    wait,
)
from .scripted_backend import ScriptedBackend


@pytest.fixture
def backend(home, tmp_path):
    with ScriptedBackend(tmp_path / "cache") as running:
        yield running


def test_live_preview_failures_go_to_the_status_line_not_dialogs(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)  # no backend running
    nuke._fake.set_frame(1001)
    nuke._fake.artist_sets(node, "live_preview", True)
    ctl = controller(node)
    for x in (10.0, 20.0):  # two pauses in a drag
        place_point(node, "pos1", x, 15.0)
        nuke._fake.pump(until=lambda: ctl.debouncer.pending() == 0 and ctl.activity is not None)
        wait(node)
        assert node["status"].value().startswith("error: no connection file")
    assert nuke._fake.session().messages == []
    nuke._fake.press(node, "set_prompt")  # an explicit button still explains in a dialog
    wait(node)
    assert len(nuke._fake.session().messages) == 1


def test_watching_a_track_adds_no_undo_steps_and_leaves_the_script_unmodified(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1010)
    prompt_on(node, 1005)
    nuke._fake.press(node, "track")
    wait(node)
    nuke.scriptSaveAs(str(tmp_path / "comp.nk"))
    assert not nuke.root().modified()
    steps = nuke._fake.undo_steps()
    nuke._fake.press(node, "track")
    wait(node)
    assert node["status"].value().startswith("tracked 10 frames")
    assert nuke._fake.undo_steps() == steps  # status, progress, keys: none is an undo step
    assert not nuke.root().modified()


def test_plate_preparation_runs_in_small_steps_under_a_progress_bar(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1030)
    prompt_on(node, 1001)
    before = len(nuke._fake.session().executes)
    nuke._fake.press(node, "track")
    wait(node)
    renders = [e for e in nuke._fake.session().executes[before:] if "Write" in e["node"]]
    sizes = [e["last"] - e["first"] + 1 for e in renders]
    # First the prompted frame again (is the plate still what was sent?), then the 29 others,
    # a few per main-thread call: Nuke's event loop runs in between.
    assert sizes == [1, 8, 8, 8, 5]
    assert max(sizes) <= plate_send.RENDER_FRAMES_PER_CALL
    bar = nuke._fake.session().progress_tasks[-1]
    assert [m for m in bar.messages if m.startswith("Sending plate")][-1] == (
        "Sending plate frames: 29 of 29"
    )


def test_retrack_a_custom_in_out_range(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1020)
    prompt_on(node, 1005)
    nuke._fake.press(node, "track")
    wait(node)
    nuke._fake.set_frame(1012)
    nuke._fake.artist_sets(node, "pos1", nuke_xy(*square_centre(1012)))
    nuke._fake.artist_sets(node, "use_range", True)
    nuke._fake.artist_sets(node, "retrack_in", 1008)
    nuke._fake.artist_sets(node, "retrack_out", 1016)
    nuke._fake.press(node, "retrack")
    wait(node)
    track = backend.of_type("propagate_request")[-1]["content"]
    assert (track["start_frame"], track["first_frame"], track["last_frame"]) == (1012, 1008, 1016)
    assert track["direction"] == "both"
    assert node["status"].value().startswith("tracked 9 frames")


def test_points_added_but_not_placed_are_never_sent(backend, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    nuke._fake.set_frame(1001)
    nuke._fake.press(node, "add_pos")
    nuke._fake.press(node, "set_prompt")
    assert "not placed yet" in nuke._fake.session().messages[-1]
    assert backend.of_type("add_prompt_request") == []
    add_point(node, "-", 3.0, 3.0)
    nuke._fake.press(node, "set_prompt")
    wait(node)
    sent = backend.of_type("add_prompt_request")[-1]["content"]
    assert (sent["points"], sent["labels"]) == ([[3.0, 3.0]], [0])  # +1 stayed at the centre


@pytest.mark.parametrize("group_has_io", [True, False])
def test_the_node_does_not_depend_on_what_a_new_group_holds(home, tmp_path, group_has_io):
    nuke._fake.set_variant("group_has_io", group_has_io)
    node, read = new_node(tmp_path, 1001, 1003)
    assert node.input(0) is read  # the selected node, asked for before the Group was made
    names = [n.name() for n in node.nodes()]
    assert names[: len(graph.BASE)] == list(graph.BASE)
    assert names.count("Output1") == 1
    assert "Input1" not in names
    assert "createNode_group_has_io" in nuke._fake.unverified_touched()  # touched, both ways


@pytest.mark.parametrize("knob_changed_by_code", [True, False])
def test_only_documented_behaviours_are_relied_on(backend, tmp_path, knob_changed_by_code):
    """A session touching every editor path exercises exactly the unverified behaviours that
    have no documented alternative (helpers.WHY_UNAVOIDABLE says why for each), and the same
    result whether Nuke runs knobChanged for the plugin's own knob changes or not."""
    nuke._fake.set_variant("knob_changed_by_code", knob_changed_by_code)
    node, _ = new_node(tmp_path, 1001, 1004)
    nuke._fake.set_frame(1002)
    add_point(node, "+", *square_centre(1002))
    add_point(node, "-", 2.0, 2.0)
    nuke._fake.press(node, "remove_point")
    nuke._fake.artist_sets(node, "use_box", True)
    nuke._fake.press(node, "set_prompt")
    wait(node)
    nuke._fake.press(node, "track")
    wait(node)
    sent = backend.of_type("add_prompt_request")[-1]["content"]
    assert (sent["points"], sent["labels"]) == ([list(square_centre(1002))], [1])
    assert node["status"].value().startswith("tracked 4 frames")
    touched = nuke._fake.unverified_touched()
    assert sorted(touched) == sorted(TRACK_TOUCHES)  # a new unverified dependency fails here
    assert set(TRACK_TOUCHES) <= set(WHY_UNAVOIDABLE)
    # Not touched by such a session: a square-pixel plate, one view, the Viewer unread.
    assert {"xy_pixel_aspect", "main_view_first", "viewer_draws_xy_labels"} <= set(
        _facts.UNVERIFIED
    ) - set(touched)


def test_a_node_from_the_first_plugin_is_upgraded_in_place(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    for name in ("view", "grow", "retrack_in", "stale_info"):
        node.removeKnob(node[name])
    for child in node.nodes():
        if child.name() not in graph.BASE:
            nuke.delete(child)
    callbacks.on_script_close()  # a fresh controller, as after reopening the script
    ctl = controller(node)
    assert all(node.knob(spec.name) is not None for spec in knobs.panel())
    assert node.node("SAM2ViewSwitch") is not None
    assert ctl.state().objects[0].name == "object1"
    assert node.node("PlateCrop")["box"].value(2) == plates.WIDTH
