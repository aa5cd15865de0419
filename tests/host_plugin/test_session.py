"""An artist's session, replayed against the fake Nuke and a scripted backend on real sockets
(every Nuke Python; test_e2e_backend.py replays the drift correction on the real backend):
create the node, place points with Add + / Add - on frame 1010, track, correct drift on 1042 by
moving one point and re-tracking In-Out, edit the key frame (every matte kept, stale until
re-tracked), keep an unsent edit across an object switch, cancel a track, reopen the script (the
backend lost the shot: prompts are re-sent), and render from the cache on the farm.
"""

from __future__ import annotations

import nuke
import pytest
from sam2matting_nuke import render_check, startup

from .helpers import (
    add_point,
    alpha_nuke,
    controller,
    downstream_write,
    drag,
    matte_files,
    new_node,
    read_image,
    render,
    square_centre,
    wait,
)
from .scripted_backend import ScriptedBackend, alpha_at

FIRST, LAST = 1001, 1050


@pytest.fixture
def backend(home, tmp_path):
    with ScriptedBackend(tmp_path / "cache") as running:
        yield running


def prompts_sent(backend):
    return [r["content"] for r in backend.of_type("add_prompt_request")]


def test_artist_session(home, tmp_path, backend):
    fake = nuke._fake
    startup.init()  # what init.py does when Nuke starts
    startup.menu()

    # --- the artist selects the plate and makes a SAM2Matte node from the toolbar
    node, _read = new_node(tmp_path, FIRST, LAST)
    fake.press(node, "connect")
    wait(node)
    assert node["status"].value().startswith("connected to scripted | cpu test CPU")

    # --- frame 1010: Add + (its handle appears in the middle), drag it onto the square
    fake.set_frame(1010)
    fake.press(node, "add_pos")
    assert fake.viewer_handles(node) == ["pos1"]  # only the point in use is drawn
    assert node["pos1"].value(1) == 16.0  # the middle of the 48x32 plate (y), not a corner
    cx, cy = square_centre(1010)
    drag(node, "pos1", cx, cy)
    assert add_point(node, "-", 2.5, 3.5) == "neg1"
    fake.press(node, "set_prompt")
    wait(node)
    sent = prompts_sent(backend)[-1]
    assert (sent["frame"], sent["points"], sent["labels"]) == (1010, [[cx, cy], [2.5, 3.5]], [1, 0])
    shown = render(node, [1010], tmp_path / "preview")[1010]
    assert alpha_nuke(shown, cx, cy) == 1.0  # the preview is on screen at once

    # --- Track: every frame, both ways from the prompt
    fake.press(node, "track")
    wait(node)
    track = backend.of_type("propagate_request")[-1]["content"]
    assert (track["start_frame"], track["direction"], track["objects"]) == (1010, "both", None)
    assert node["status"].value().startswith("tracked 50 frames")
    cache = backend.shots[controller(node).state().shot_id].cache_dir
    tracked = matte_files(cache)
    assert sorted(tracked) == list(range(FIRST, LAST + 1))

    # --- drift on 1042: move +1 only, look at the frame, re-track In-Out (3 actions)
    fake.set_frame(1042)
    fx, fy = square_centre(1042)
    drag(node, "pos1", fx, fy)
    fake.press(node, "set_prompt")
    wait(node)
    fix = prompts_sent(backend)[-1]
    assert (fix["frame"], fix["points"], fix["labels"]) == (1042, [[fx, fy]], [1])  # that point
    assert node["stale_info"].value().startswith("object1: 1043-1050")  # shown in between
    assert "stale: 1043-1050" in node["status"].value()
    assert node.node("SAM2StaleSwitch")["which"].getValueAt(1045) == 1.0  # tinted in overlay
    assert node.node("SAM2StaleSwitch")["which"].getValueAt(1030) == 0.0
    before = matte_files(cache)
    fake.press(node, "retrack")
    wait(node)
    track = backend.of_type("propagate_request")[-1]["content"]
    assert (track["start_frame"], track["first_frame"], track["last_frame"]) == (1042, 1042, LAST)
    assert (track["direction"], track["objects"]) == ("forward", [1])
    after = matte_files(cache)
    assert {f: after[f] for f in range(FIRST, 1042)} == {f: before[f] for f in range(FIRST, 1042)}
    assert node["stale_info"].value() == "none"
    assert alpha_nuke(render(node, [1045], tmp_path / "fixed")[1045], *square_centre(1042)) == 1.0
    assert len(backend.of_type("put_frames_request")) == 2  # the plate went once
    assert node["prompted"].isKeyAt(1010)
    assert node["prompted"].isKeyAt(1042)
    # Prompted frames are keys in the Dope Sheet (documented); on the Viewer's timeline too,
    # where Nuke marks them there (unverified: nothing depends on it).
    assert {1010, 1042} <= set(fake.dope_sheet_keys(node))
    assert "viewer_timeline_shows_keys" not in fake.unverified_touched()
    assert {1010, 1042} <= set(fake.timeline_keys(node))
    assert "viewer_timeline_shows_keys" in fake.unverified_touched()

    # --- editing the key frame (a second - point): every matte stays, stale until Track
    fake.set_frame(1010)
    fake.press(node, "load_prompt")
    add_point(node, "-", 40.0, 28.0)
    fake.press(node, "set_prompt")
    wait(node)
    edit = prompts_sent(backend)[-1]
    assert (edit["frame"], edit["labels"]) == (1010, [1, 0, 0])  # its own points kept
    assert backend.of_type("remove_object_request") == []
    kept = matte_files(cache)
    assert sorted(kept) == list(range(FIRST, LAST + 1))
    assert {f: kept[f] for f in kept if f != 1010} == {f: after[f] for f in after if f != 1010}
    assert node["stale_info"].value().startswith("object1: 1001-1009, 1011-1041")
    fake.press(node, "track")
    wait(node)
    assert node["stale_info"].value() == "none"

    # --- a second object: its unsent edit survives switching away and back
    fake.answer("dog")
    fake.press(node, "add_object")
    fake.set_frame(1020)
    add_point(node, "+", 30.0, 5.0)
    node["object"].setValue("object1")
    assert node["pos1"].value(0) != 30.0  # object1's own points are shown
    node["object"].setValue("dog")
    assert (node["pos1"].value(0), node["use_pos1"].value()) == (30.0, True)
    fake.press(node, "set_prompt")
    wait(node)
    dog = prompts_sent(backend)[-1]
    assert (dog["object"]["name"], dog["frame"], dog["points"]) == ("dog", 1020, [[30.0, 5.0]])

    # --- a long track, cancelled from the progress bar after a few frames
    backend.frame_s = 0.05
    fake.press(node, "track")
    bar = fake.session().progress_tasks[-1]
    fake.pump(until=lambda: len(bar.messages) > 3)
    bar.cancel()  # the artist presses Cancel on the progress bar
    wait(node)
    assert backend.of_type("cancel_request")[-1]["content"]["job_id"].startswith("job-")
    assert node["status"].value().startswith("cancelled after ")
    backend.frame_s = 0.0

    # --- save, reopen: everything is still there; a backend that lost the shot gets it back
    downstream_write(node, tmp_path / "farm")
    script = tmp_path / "comp.nk"
    nuke.scriptSaveAs(str(script))
    nuke.scriptOpen(str(script))
    node = nuke.toNode("SAM2Matte1")
    state = controller(node).state()
    assert [(p.object_id, p.frame) for p in state.prompts] == [(1, 1042), (1, 1010), (2, 1020)]
    backend.shots.clear()  # a backend restart without its journal
    fake.press(node, "track")
    wait(node)
    resent = sorted((r["object"]["id"], r["frame"]) for r in prompts_sent(backend)[-3:])
    assert resent == [(1, 1010), (1, 1042), (2, 1020)]

    # --- the farm: nuke -x, no GUI, no backend; renders come from the cache alone
    backend.__exit__(None, None, None)
    fake.reset(gui=False)
    startup.reset()
    startup.init()  # init.py runs in nuke -x too
    nuke.scriptOpen(str(script))
    write = nuke.toNode("WriteMatte")
    assert nuke.toNode("SAM2Matte1").node("MatteCache")["on_error"].value() == "error"
    nuke.execute(write, 1040, 1044)
    for frame in range(1040, 1045):
        image = read_image(tmp_path / "farm" / f"out.{frame:04d}.exr")
        x, y = square_centre(1042)
        expected = alpha_at(cache / "matte" / f"matte.{frame}.exr", "A", int(x), int(y))
        assert alpha_nuke(image, x, y) == expected == 1.0
    (cache / "matte" / "matte.1043.exr").unlink()
    render_check.before_render()
    with pytest.raises(render_check.MissingMatteError, match="no matte for frame 1043"):
        nuke.execute(write, 1040, 1044)
