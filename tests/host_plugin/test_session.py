"""An artist's session, replayed against the fake Nuke and a scripted backend on real sockets:
create the node, prompt on frame 1010, track both ways, re-prompt on frame 1042 and re-track
forward, cancel a track, reopen the script (the backend lost the shot: prompts are re-sent), and
render frames from the cache on the farm (`nuke -x`: no GUI, no backend), where a missing matte
stops the render with the frames named.
"""

from __future__ import annotations

import nuke
import pytest
from sam2matting_nuke import frames, render_check, startup

from . import plates
from .helpers import (
    alpha_nuke,
    controller,
    downstream_write,
    new_node,
    place_point,
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


def test_artist_session(home, tmp_path, backend):
    fake = nuke._fake
    startup.init()  # what init.py does when Nuke starts
    startup.menu()

    # --- the artist selects the plate and makes a SAM2Matte node from the toolbar
    node, _read = new_node(tmp_path, FIRST, LAST)
    assert (node["first_frame"].value(), node["last_frame"].value()) == (FIRST, LAST)
    fake.press(node, "connect")
    wait(node)
    assert node["status"].value().startswith("connected to scripted | cpu test CPU")
    assert node["tracker"].values() == ["auto", "flow"]  # the unavailable tracker is not offered

    # --- frame 1010: a + point on the square, a - point on the background, Set prompt
    fake.set_frame(1010)
    cx, cy = square_centre(1010)
    place_point(node, "pos1", cx, cy)
    place_point(node, "neg1", 2.5, 3.5)
    fake.press(node, "set_prompt")
    wait(node)
    sent = backend.of_type("add_prompt_request")[-1]["content"]
    assert sent["frame"] == 1010
    assert sent["points"] == [[cx, cy], [2.5, 3.5]]  # top-left pixels, y flipped back
    assert sent["labels"] == [1, 0]
    assert sent["object"] == {"id": 1, "name": "object1"}
    assert [
        e["frame"] for r in backend.of_type("put_frames_request") for e in r["content"]["frames"]
    ] == [1010]
    # The preview is on screen at once: the node's output has the matte where the artist clicked.
    shown = render(node, [1010], tmp_path / "preview")[1010]
    assert alpha_nuke(shown, cx, cy) == 1.0
    assert alpha_nuke(shown, 2.5, 3.5) == 0.0

    # --- Track both ways from the prompt: every other frame is rendered and sent, once
    node["direction"].setValue("both")
    fake.press(node, "track")
    wait(node)
    sent_frames = [
        e["frame"] for r in backend.of_type("put_frames_request") for e in r["content"]["frames"]
    ]
    assert sorted(sent_frames) == list(range(FIRST, LAST + 1))
    track = backend.of_type("propagate_request")[-1]["content"]
    assert (track["start_frame"], track["direction"]) == (1010, "both")
    assert (track["first_frame"], track["last_frame"]) == (FIRST, LAST)
    task = fake.session().progress_tasks[-1]
    assert task.messages[-1] == f"Tracking frame {FIRST}: 50 of 50 (10.0 fps)"
    assert task.progress[-1] == 100
    assert task.closed
    assert node["status"].value().startswith("tracked 50 frames")
    cache = backend.shots[controller(node).state().shot_id].cache_dir
    assert all((cache / "matte" / f"matte.{f}.exr").is_file() for f in range(FIRST, LAST + 1))

    # --- frame 1042 drifted: move the + point onto the square there, re-track forward
    fake.set_frame(1042)
    fx, fy = square_centre(1042)
    fake.artist_sets(node, "pos1", [fx, plates.HEIGHT - fy])
    node["direction"].setValue("forward")
    fake.press(node, "retrack")
    wait(node)
    fix = backend.of_type("add_prompt_request")[-1]["content"]
    assert (fix["frame"], fix["points"][0]) == (1042, [fx, fy])  # the edit became a prompt
    track = backend.of_type("propagate_request")[-1]["content"]
    assert (track["start_frame"], track["direction"]) == (1042, "forward")
    assert len(backend.of_type("put_frames_request")) == 2  # nothing re-sent
    out = render(node, [1045], tmp_path / "fixed")[1045]
    assert alpha_nuke(out, fx, fy) == 1.0  # frames after 1042 follow the fix
    assert "1010 (+1 -1), 1042 (+1 -1)" in node["prompts_info"].value()

    # --- a long track, cancelled from the progress bar after a few frames
    backend.frame_s = 0.05
    node["direction"].setValue("both")
    fake.press(node, "track")
    bar = fake.session().progress_tasks[-1]
    fake.pump(until=lambda: len(bar.messages) > 3)
    bar.cancel()  # the artist presses Cancel on the progress bar
    wait(node)
    cancel = backend.of_type("cancel_request")[-1]["content"]
    assert cancel["job_id"].startswith("job-")
    assert node["status"].value().startswith("cancelled after ")
    assert int(node["status"].value().split()[2]) < 50
    backend.frame_s = 0.0

    # --- save, reopen: everything is still there; a backend that lost the shot gets it back
    write = downstream_write(node, tmp_path / "farm")
    script = tmp_path / "comp.nk"
    nuke.scriptSaveAs(str(script))
    nuke.scriptOpen(str(script))
    node = nuke.toNode("SAM2Matte1")
    state = controller(node).state()
    assert [(p.frame, p.labels) for p in state.prompts] == [(1010, [1, 0]), (1042, [1, 0])]
    backend.shots.clear()  # a backend restart without its journal
    fake.press(node, "track")
    wait(node)
    resent = [r["content"]["frame"] for r in backend.of_type("add_prompt_request")[-2:]]
    assert resent == [1010, 1042]

    # --- the farm: nuke -x, no GUI, no backend; renders come from the cache alone
    backend.__exit__(None, None, None)
    fake.reset(gui=False)
    startup.reset()
    startup.init()  # init.py runs in nuke -x too
    nuke.scriptOpen(str(script))
    node, write = nuke.toNode("SAM2Matte1"), nuke.toNode("WriteMatte")
    assert node.node("MatteCache")["on_error"].value() == "error"  # set by the node's onCreate
    nuke.execute(write, 1040, 1044)
    for frame in range(1040, 1045):
        image = read_image(tmp_path / "farm" / f"out.{frame:04d}.exr")
        x, y = square_centre(1042)
        expected = alpha_at(cache / "matte" / f"matte.{frame}.exr", "A", int(x), int(y))
        assert alpha_nuke(image, x, y) == expected == 1.0
    (cache / "matte" / "matte.1043.exr").unlink()
    render_check.before_render()
    with pytest.raises(render_check.MissingMatteError) as missing:
        nuke.execute(write, 1040, 1044)
    assert "no matte for frame 1043" in str(missing.value)
    assert "Missing in its range 1001-1050: 1043." in str(missing.value)
    assert frames.frame_file(str(cache / "matte" / "matte.####.exr"), 1043).endswith("1043.exr")
