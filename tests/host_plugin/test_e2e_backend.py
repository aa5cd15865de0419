"""End to end: the plugin (on the fake Nuke) against the real backend process on loopback
(`sam2matting serve`, flow tracker, CPU), a synthetic plate rendered by the fake Write, and the
mattes read back from the cache and compared with the moving square. Skipped where the backend
cannot be imported (the Nuke-side interpreters), never faked."""

from __future__ import annotations

import json
from pathlib import Path

import nuke
import pytest
from sam2matting_nuke import render_check, startup

from sam2matting.protocol.client import Client

from . import plates
from .helpers import (
    add_point,
    alpha_nuke,
    controller,
    downstream_write,
    drag,
    matte_files,
    new_node,
    read_image,
    square_centre,
    wait,
)
from .real_backend import TRACK_TIMEOUT_S, serve, skip_without_backend

skip_without_backend()

pytestmark = pytest.mark.slow
FIRST, LAST = 1001, 1050


@pytest.fixture
def real_backend(home, tmp_path):
    with serve(home, tmp_path) as info:
        yield info


def square_iou(image, frame: int) -> float:
    sx, sy = plates.square_top_left(frame)
    inside = {(x, y) for x in range(sx, sx + plates.SQUARE) for y in range(sy, sy + plates.SQUARE)}
    matte = {
        (x, y)
        for y in range(plates.HEIGHT)
        for x in range(plates.WIDTH)
        if alpha_nuke(image, x, y) > 0.5
    }
    return len(inside & matte) / max(1, len(inside | matte))


@pytest.fixture
def sent(monkeypatch):
    """Every request the plugin makes (they still go to the real backend)."""
    log = []
    real = Client.request

    def recording(self, msg_type, content=None, buffers=(), **kwargs):
        log.append((msg_type, content))
        return real(self, msg_type, content, buffers, **kwargs)

    monkeypatch.setattr(Client, "request", recording)
    return log


def journal_prompts(cache: Path):
    return json.loads((cache / "shot.json").read_text())["prompts"]


def test_session_against_the_real_backend(real_backend, home, tmp_path, sent):
    fake = nuke._fake
    startup.init()
    node, _ = new_node(tmp_path, FIRST, LAST)
    fake.press(node, "connect")
    wait(node, 60)
    assert node["status"].value().startswith("connected to "), node["status"].value()
    assert "flow" in node["tracker"].values()

    # --- prompt on 1010, track
    fake.set_frame(1010)
    add_point(node, "+", *square_centre(1010))
    add_point(node, "-", 2.5, 2.5)
    fake.press(node, "set_prompt")
    wait(node, 120)
    assert "matte of frame 1010" in node["status"].value(), node["status"].value()
    cache = Path(controller(node).state().cache_dir)
    fake.press(node, "track")
    wait(node, TRACK_TIMEOUT_S)
    assert node["status"].value().startswith(f"tracked {LAST - FIRST + 1} frames"), node[
        "status"
    ].value()
    scores = {
        f: square_iou(read_image(cache / "matte" / f"matte.{f}.exr"), f)
        for f in (1001, 1010, 1020, 1040)
    }
    assert min(scores.values()) > 0.5, scores

    # --- drift at 1042: move one point, see the stale range, re-track 1042 -> In/Out
    fake.set_frame(1042)
    fx, fy = square_centre(1042)
    drag(node, "pos1", fx, fy)
    del sent[:]
    fake.press(node, "set_prompt")
    wait(node, 120)
    added = [c for t, c in sent if t == "add_prompt_request"]
    assert [(c["frame"], c["points"], c["labels"]) for c in added] == [(1042, [[fx, fy]], [1])]
    assert [p["points"] for p in journal_prompts(cache) if p["frame"] == 1042] == [[[fx, fy]]]
    assert [t for t, _c in sent if t in ("remove_object_request", "remove_prompt_request")] == []
    assert node["stale_info"].value().startswith(f"object1: 1043-{LAST}")
    before = matte_files(cache)
    fake.press(node, "retrack")
    wait(node, TRACK_TIMEOUT_S)
    after = matte_files(cache)
    assert (node["retrack_in"].value(), node["retrack_out"].value()) == (1042, LAST)
    outside = [f for f in before if not 1042 <= f <= LAST]
    assert {f: after[f] for f in outside} == {f: before[f] for f in outside}
    assert after[1043] != before[1043]  # re-tracked (newer revision)
    assert node["stale_info"].value() == "none"
    assert square_iou(read_image(cache / "matte" / f"matte.{LAST}.exr"), LAST) > 0.5

    # --- editing the key-frame prompt keeps every matte (stale) until re-tracked
    fake.set_frame(1010)
    fake.press(node, "load_prompt")
    add_point(node, "-", 45.0, 30.0)
    fake.press(node, "set_prompt")
    wait(node, 120)
    kept = matte_files(cache)
    assert sorted(kept) == list(range(FIRST, LAST + 1))
    assert {f: kept[f] for f in kept if f != 1010} == {f: after[f] for f in after if f != 1010}
    assert node["stale_info"].value().startswith("object1: 1001-1009, 1011-1041")
    fake.press(node, "track")
    wait(node, TRACK_TIMEOUT_S)
    assert node["stale_info"].value() == "none"

    # --- switching objects keeps edits
    fake.answer("dog")
    fake.press(node, "add_object")
    fake.set_frame(1020)
    add_point(node, "+", 40.0, 3.0)
    node["object"].setValue("object1")
    node["object"].setValue("dog")
    fake.press(node, "set_prompt")
    wait(node, 120)
    dog = [p for p in journal_prompts(cache) if p["object_id"] == 2]
    assert [(p["frame"], p["points"]) for p in dog] == [(1020, [[40.0, 3.0]])]

    # --- cancel a track; then the farm renders from the cache alone
    fake.press(node, "track")
    bar = fake.session().progress_tasks[-1]
    fake.pump(
        until=lambda: any(m.startswith("Tracking frame") for m in bar.messages),
        timeout_s=TRACK_TIMEOUT_S,
    )
    bar.cancel()
    wait(node, TRACK_TIMEOUT_S)
    status = node["status"].value()
    assert status.startswith(("cancelled after ", "tracked ")), status  # it may finish first

    downstream_write(node, tmp_path / "farm")
    script = tmp_path / "comp.nk"
    nuke.scriptSaveAs(str(script))
    fake.reset(gui=False)  # nuke -x on the farm: no GUI, and the backend is not asked
    startup.reset()
    startup.init()
    nuke.scriptOpen(str(script))
    write = nuke.toNode("WriteMatte")
    nuke.execute(write, 1030, 1034)
    for frame in range(1030, 1035):
        rendered = read_image(tmp_path / "farm" / f"out.{frame:04d}.exr")
        cached = read_image(cache / "matte" / f"matte.{frame}.exr")
        assert rendered.plane("rgba.alpha") == cached.plane("rgba.alpha")
    (cache / "matte" / "matte.1033.exr").unlink()
    render_check.before_render()
    with pytest.raises(render_check.MissingMatteError, match="no matte for frame 1033"):
        nuke.execute(write, 1030, 1034)
