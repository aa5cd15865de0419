"""What the node shows: the `view` knob (result, colour overlay, matte, cutout) built from ordinary
nodes, renders always getting the result ($gui), the + / - dots and the stale tint in the
overlay, and per-object grow / feather / fill holes after the cache Read (the cache untouched)."""

from __future__ import annotations

import nuke
import pytest
from nuke import _exr
from sam2matting_nuke import graph_view

from . import plates
from .helpers import (
    add_point,
    alpha_nuke,
    controller,
    downstream_write,
    new_node,
    read_image,
    render,
)

W, H = plates.WIDTH, plates.HEIGHT
# object 1 covers columns 10..19, rows 8..17 (from the top), with a one-pixel hole at (14, 12)
INSIDE, OUTSIDE, HOLE, EDGE = (12, 10), (40, 25), (14, 12), (9, 12)


def square_matte(node, tmp_path, frame: int = 1002):
    """A cached matte for object 1 on `frame`, written as the backend would."""
    state = controller(node).state()
    alpha = [
        1.0 if (10 <= x < 20 and 8 <= y < 18 and (x, y) != HOLE) else 0.0
        for y in range(H)
        for x in range(W)
    ]
    path = tmp_path / "home" / "cache" / state.shot_id / "matte" / f"matte.{frame}.exr"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_exr.encode(W, H, {"A": alpha, "obj1.A": alpha}, _exr.FLOAT, _exr.ZIP))
    return path


def view(node, tmp_path, which: str, frame: int = 1002):
    nuke._fake.artist_sets(node, "view", which)
    return render(node, [frame], tmp_path / which)[frame]


def red(image, x, y):
    return alpha_nuke(image, x, y, "rgba.red")


def test_views_of_the_result(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    square_matte(node, tmp_path)
    plate_red = plates.pixel(1002, *INSIDE)[0]
    result = view(node, tmp_path, "result")
    assert alpha_nuke(result, *INSIDE) == 1.0
    assert red(result, *INSIDE) == pytest.approx(plate_red, abs=1e-3)
    matte = view(node, tmp_path, "matte")
    assert (red(matte, *INSIDE), red(matte, *OUTSIDE)) == (1.0, 0.0)
    cutout = view(node, tmp_path, "cutout")
    assert red(cutout, *INSIDE) == pytest.approx(plate_red, abs=1e-3)
    assert red(cutout, *OUTSIDE) == 0.0
    overlay = view(node, tmp_path, "overlay")
    assert node["status"].value().startswith("view: overlay (renders in this session fail until")
    colour = graph_view.PALETTE[0][0]
    assert red(overlay, *INSIDE) == pytest.approx((plate_red + colour) / 2, abs=1e-3)
    assert red(overlay, *OUTSIDE) == pytest.approx(plates.pixel(1002, *OUTSIDE)[0], abs=1e-3)


def test_renders_get_the_result_whatever_the_view(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    square_matte(node, tmp_path)
    nuke._fake.artist_sets(node, "view", "overlay")
    downstream_write(node, tmp_path / "farm")
    script = tmp_path / "comp.nk"
    nuke.scriptSaveAs(str(script))
    nuke._fake.reset(gui=False)  # nuke -x: $gui is 0
    nuke.scriptOpen(str(script))
    nuke.execute(nuke.toNode("WriteMatte"), 1002, 1002)
    out = read_image(tmp_path / "farm" / "out.1002.exr")
    assert alpha_nuke(out, *INSIDE) == 1.0
    assert red(out, *INSIDE) == pytest.approx(plates.pixel(1002, *INSIDE)[0], abs=1e-3)


def test_points_are_dots_in_the_overlay_plus_green_minus_red(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    nuke._fake.set_frame(1002)
    add_point(node, "+", 5.5, 5.5)
    add_point(node, "-", 30.5, 20.5)
    overlay = view(node, tmp_path, "overlay")
    green = alpha_nuke(overlay, 5.5, 5.5, "rgba.green"), red(overlay, 5.5, 5.5)
    assert green == (1.0, pytest.approx(0.1))
    assert (red(overlay, 30.5, 20.5), alpha_nuke(overlay, 30.5, 20.5, "rgba.green")) == (
        1.0,
        pytest.approx(0.1),
    )
    assert sorted(nuke._fake.viewer_handles(node)) == ["neg1", "pos1"]
    assert "viewer_draws_xy_labels" not in nuke._fake.unverified_touched()  # dots: no labels
    # The handles' labels say it too, where the Viewer draws them (unverified).
    assert nuke._fake.viewer_labels(node) == {"pos1": "+1 object", "neg1": "-1 background"}
    assert "viewer_draws_xy_labels" in nuke._fake.unverified_touched()
    nuke._fake.press(node, "remove_point")
    assert nuke._fake.viewer_handles(node) == ["pos1"]  # the slot is hidden again
    assert not node["use_neg1"].visible()


def test_stale_frames_are_tinted_in_the_overlay(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    square_matte(node, tmp_path)
    ctl = controller(node)
    state = ctl.state()
    state.stale = {"1": [[1002, 1002]]}
    ctl.viewer.stale(state)
    assert node["stale_info"].value().startswith("object1: 1002")
    stale = view(node, tmp_path, "overlay", 1002)
    fresh = view(node, tmp_path, "overlay", 1003)
    x, y = OUTSIDE
    factor = graph_view.STALE_COLOUR[1]
    green = plates.pixel(1002, x, y)[1]
    assert alpha_nuke(stale, x, y, "rgba.green") == pytest.approx(green * factor, abs=1e-3)
    assert alpha_nuke(fresh, x, y, "rgba.green") == pytest.approx(green, abs=1e-3)


def test_finishing_grows_feathers_and_fills_after_the_cache(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    cached = square_matte(node, tmp_path)
    untouched = cached.read_bytes()
    plain = view(node, tmp_path, "result")
    assert (alpha_nuke(plain, *HOLE), alpha_nuke(plain, *EDGE)) == (0.0, 0.0)
    nuke._fake.artist_sets(node, "fill_holes", 1.0)
    filled = view(node, tmp_path, "result")
    assert alpha_nuke(filled, *HOLE) == 1.0  # closed
    assert alpha_nuke(filled, *EDGE) == 0.0  # but not grown
    nuke._fake.artist_sets(node, "grow", 1.0)
    grown = view(node, tmp_path, "result")
    assert alpha_nuke(grown, *EDGE) == 1.0
    assert alpha_nuke(grown, 8, 12) == 0.0  # by one pixel only
    nuke._fake.artist_sets(node, "grow", 0.0)
    nuke._fake.artist_sets(node, "feather", 1.0)
    soft = view(node, tmp_path, "result")
    assert 0.0 < alpha_nuke(soft, 10, 12) < 1.0  # a soft, float edge
    assert cached.read_bytes() == untouched  # the cache is never changed
    assert controller(node).state().object(1).feather == 1.0  # kept per object
    nuke._fake.answer("dog")
    nuke._fake.press(node, "add_object")
    assert node["feather"].value() == 0.0  # the new object's own finishing
    node["object"].setValue("object1")
    assert node["feather"].value() == 1.0
