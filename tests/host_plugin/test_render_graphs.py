"""Wherever the Write is and whatever lies between it and the SAM2Matte node (Groups, gizmos,
Dots, Switches, time nodes), each frame renders the true matte or fails naming the missing
frames. The walk is linear in the upstream graph and costs nothing without a SAM2Matte node."""

from __future__ import annotations

import time

import nuke
import pytest
from sam2matting_nuke import render_check, startup, upstream

from .helpers import NODE_TOUCHES, RENDER_TOUCHES, new_node
from .render_helpers import (
    FIRST,
    LAST,
    assert_never_silently_black,
    fill_cache,
    make_write,
    matte_value,
)
from .render_helpers import outcomes as render

CACHED = [1001, 1002, 1005, 1006, 1007, 1008]  # 1003, 1004 never tracked


@pytest.fixture
def matte(home, tmp_path):
    """A SAM2Matte node over a plate, its cache holding CACHED; the render check registered."""
    startup.init()
    node, _ = new_node(tmp_path, FIRST, LAST)
    fill_cache(node, CACHED)
    node["selected"].setValue(False)
    return node


def test_top_level_write(matte, tmp_path):
    write = make_write(matte, tmp_path / "out")
    got = render(write, range(FIRST, LAST + 1), tmp_path / "out")
    assert assert_never_silently_black(got, CACHED) == [1003, 1004]
    text = str(got[1003])
    assert text.startswith("SAM2Matte1: no matte for frame 1003.")
    assert "Missing in its range 1001-1008: 1003-1004." in text
    assert "--frames 1003-1004" in text
    assert sorted(nuke._fake.unverified_touched()) == sorted(RENDER_TOUCHES)


def wrap(source, name: str):
    """A Group fed by `source`: Input1 -> Dot -> Output1 inside. Returns (group, its Dot)."""
    group = nuke.nodes.Group(name=name)
    with group:
        inner_in = nuke.nodes.Input(name="Input1")
        dot = nuke.nodes.Dot()
        dot.setInput(0, inner_in)
        nuke.nodes.Output().setInput(0, dot)
    group.setInput(0, source)
    return group, dot


def test_write_inside_a_group_sees_through_its_input(matte, tmp_path):
    group, dot = wrap(matte, "Comp")
    write = make_write(dot, tmp_path / "out", parent=group)
    assert write.fullName() == "Comp.WriteMatte"
    got = render(write, range(FIRST, LAST + 1), tmp_path / "out")
    assert assert_never_silently_black(got, CACHED) == [1003, 1004]


def test_the_walk_leaves_a_group_by_the_input_its_input_node_names(matte, tmp_path):
    """From a Write inside a Group the walk reaches the matte through the Group input that the
    Input node's hidden `number` names: unverified, and nothing else links the two."""
    from sam2matting_nuke.host import NukeHost, NukeNode

    group, dot = wrap(matte, "Comp")
    write = make_write(dot, tmp_path / "out", parent=group)
    assert "input_number_knob" not in nuke._fake.unverified_touched()
    walk = upstream.walk(NukeNode(write), FIRST, NukeHost.node_at)
    assert [f.node.name() for f in walk.found] == ["SAM2Matte1"]
    assert "input_number_knob" in nuke._fake.unverified_touched()


def studio_write(folder):
    """A studio's write gizmo: Input -> Dot -> Write (what its .gizmo file holds)."""

    def build(_gizmo):
        source = nuke.nodes.Input(name="Input1")
        dot = nuke.nodes.Dot()
        dot.setInput(0, source)
        make_write(dot, folder, name="Write1")
        nuke.nodes.Output().setInput(0, dot)

    return build


def test_write_inside_a_gizmo(matte, tmp_path):
    nuke._fake.define_gizmo("StudioWrite", studio_write(tmp_path / "out"))
    gizmo = nuke.nodes.StudioWrite()
    gizmo.setInput(0, matte)
    assert isinstance(gizmo, nuke.Gizmo)
    assert gizmo.Class() == "StudioWrite"
    write = gizmo.node("Write1")
    assert write.fullName() == "StudioWrite1.Write1"
    got = render(write, range(FIRST, LAST + 1), tmp_path / "out")
    assert assert_never_silently_black(got, CACHED) == [1003, 1004]


def test_the_matte_inside_a_group_upstream(matte, tmp_path):
    """A SAM2Matte wrapped in a Group (a studio tool) is found through the Group's Output."""
    wrapper, _dot = wrap(matte, "Wrapper")
    write = make_write(wrapper, tmp_path / "out")
    got = render(write, [1002, 1003], tmp_path / "out")
    assert assert_never_silently_black(got, CACHED) == [1003]


def switch_over(matte, plate):
    switch = nuke.nodes.Switch()
    switch.setInput(0, plate)
    dot = nuke.nodes.Dot()
    dot.setInput(0, matte)
    switch.setInput(1, dot)
    return switch


def test_switch_follows_the_chosen_input_only(matte, tmp_path):
    switch = switch_over(matte, nuke.toNode("Plate"))
    write = make_write(switch, tmp_path / "out")
    switch["which"].setValue(0)  # the plate: untracked frames of the matte do not matter
    got = render(write, [1003, 1004], tmp_path / "out")
    assert got == {1003: 0.0, 1004: 0.0}  # the plate has no alpha: nothing to check
    switch["which"].setValue(1)
    got = render(write, [1002, 1003], tmp_path / "out")
    assert assert_never_silently_black(got, CACHED) == [1003]


def test_animated_switch_is_checked_frame_by_frame(matte, tmp_path):
    switch = switch_over(matte, nuke.toNode("Plate"))
    switch["which"].setValueAt(1, 1002)
    switch["which"].setValueAt(0, 1003)  # held at 0 from 1003 on: the matte is off there
    write = make_write(switch, tmp_path / "out")
    got = render(write, range(1001, 1006), tmp_path / "out")
    assert assert_never_silently_black({f: got[f] for f in (1001, 1002)}, CACHED) == []
    assert got[1003] == got[1004] == got[1005] == 0.0  # the plate: 1003-1004 are not needed


def test_switch_value_out_of_range_follows_every_input(matte, tmp_path):
    switch = switch_over(matte, nuke.toNode("Plate"))
    switch["which"].setValue(0.5)  # Nuke's rounding is not documented: check both inputs
    write = make_write(switch, tmp_path / "out")
    assert isinstance(render(write, [1003], tmp_path / "out")[1003], render_check.RenderCheckError)


def test_time_offset_needs_the_whole_range(matte, tmp_path):
    offset = nuke.nodes.TimeOffset()
    offset.setInput(0, matte)
    offset["time_offset"].setValue(2)
    write = make_write(offset, tmp_path / "out")
    got = render(write, [1004], tmp_path / "out")
    text = str(got[1004])
    assert "no matte for frames 1001-1008 (it is behind a node that changes time)" in text
    assert "Missing in its range 1001-1008: 1003-1004." in text
    fill_cache(matte, [1003, 1004])
    got = render(write, [1004, 1005, 1006], tmp_path / "out")
    assert assert_never_silently_black(got, range(FIRST, LAST + 1), shift=2) == []


def test_disabled_matte_is_not_checked(matte, tmp_path):
    matte["disable"].setValue(True)
    write = make_write(matte, tmp_path / "out")
    assert render(write, [1003], tmp_path / "out") == {1003: 0.0}


def test_frames_outside_the_range_are_black_on_purpose(matte, tmp_path):
    nuke.root()["last_frame"].setValue(1012)
    write = make_write(matte, tmp_path / "out")
    assert render(write, [1010], tmp_path / "out") == {1010: 0.0}


def test_nothing_runs_in_a_script_without_the_node(home, tmp_path, monkeypatch):
    startup.reset()
    startup.init()
    calls = []
    monkeypatch.setattr(upstream, "walk", lambda *a: calls.append(a))
    source = nuke.nodes.Read(name="Plain")
    write = make_write(source, tmp_path / "out")
    with pytest.raises(nuke.FakeRenderError):
        nuke.execute(write, 1, 1)  # the Read has no file: Nuke's own error, not ours
    assert calls == []


def chain(length, source):
    node = source
    for _ in range(length):
        dot = nuke.nodes.Dot()
        dot.setInput(0, node)
        node = dot
    return node


def lattice(depth, source):
    """depth layers of two Copy nodes each, both fed by both of the layer above: 2**depth paths
    from the bottom to the top, 2 * depth nodes."""
    layer = [source, source]
    for _ in range(depth):
        new = []
        for _ in range(2):
            copy = nuke.nodes.Copy()
            copy.setInput(0, layer[0])
            copy.setInput(1, layer[1])
            new.append(copy)
        layer = new
    return layer[0]


def test_walk_is_linear_in_the_upstream_graph(matte, tmp_path, monkeypatch):
    from sam2matting_nuke.host import NukeHost, NukeNode

    visits = []
    original = upstream._State.step

    def counting(self, node, timed):
        visits.append(node.full_name())
        return original(self, node, timed)

    monkeypatch.setattr(upstream._State, "step", counting)
    top = lattice(40, chain(500, matte))  # 2**40 paths: one walk per path would never end
    write = make_write(top, tmp_path / "out")
    started = time.perf_counter()
    walk = upstream.walk(NukeNode(write), FIRST, NukeHost.node_at)
    elapsed = time.perf_counter() - started
    assert [f.node.name() for f in walk.found] == ["SAM2Matte1"]
    nodes = 79 + 500 + 1 + 1  # the lattice (less the top layer's other Copy), chain, matte, plate
    assert len(visits) == len(set(visits)) == nodes  # each node once
    assert elapsed < 2.0


@pytest.mark.parametrize("view", ["overlay", "matte", "cutout"])
def test_a_gui_render_of_a_node_left_on_another_view_fails(matte, tmp_path, view):
    """Renders get the result through $gui, which Foundry documents as 0 at render time but not
    for renders started from the GUI: the check refuses such a render while the node shows
    another view, instead of relying on $gui (and writes nothing)."""
    nuke._fake.artist_sets(matte, "view", view)
    write = make_write(matte, tmp_path / "out")
    got = render(write, [1001, 1003, 1010], tmp_path / "out")
    for frame in (1001, 1003, 1010):
        assert isinstance(got[frame], render_check.ViewerViewError), got[frame]
        assert str(got[frame]).startswith(f"SAM2Matte1: its view is '{view}'")
        assert "Set SAM2Matte1's view to result and render again" in str(got[frame])
    assert not (tmp_path / "out").exists()
    # Refused before a pixel flows: no Input followed, $gui never evaluated in a GUI render.
    assert sorted(nuke._fake.unverified_touched()) == sorted(NODE_TOUCHES)
    nuke._fake.artist_sets(matte, "view", "result")
    assert render(write, [1001], tmp_path / "out") == {1001: matte_value(1001)}


def test_farm_renders_of_a_node_left_on_another_view_get_the_result(matte, tmp_path):
    """nuke -x / nuke -t: $gui is documented 0 there, so the view does not matter."""
    nuke._fake.artist_sets(matte, "view", "overlay")
    make_write(matte, tmp_path / "out")
    script = tmp_path / "comp.nk"
    nuke.scriptSaveAs(str(script))
    nuke._fake.reset(gui=False)
    startup.reset()
    startup.init()
    nuke.scriptOpen(str(script))
    assert nuke.toNode("SAM2Matte1")["view"].value() == "overlay"
    got = render(nuke.toNode("WriteMatte"), [1001, 1003], tmp_path / "out")
    assert got[1001] == matte_value(1001)
    assert isinstance(got[1003], render_check.MissingMatteError)
