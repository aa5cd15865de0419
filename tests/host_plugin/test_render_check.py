"""Renders report missing mattes instead of writing black: with the plugin (a clear message
naming the frames and the fixes) and without it on a render machine (the cache Read errors)."""

from __future__ import annotations

import sys
from pathlib import Path

import nuke
import pytest
from nuke import _exr
from sam2matting_nuke import render_check, startup

from . import plates
from .helpers import controller, downstream_write, new_node


def fill_cache(node, frames):
    """Mattes (alpha 1 everywhere) in the node's cache, as the backend would have left them."""
    folder = Path(controller(node).state().cache_dir) / "matte"
    folder.mkdir(parents=True, exist_ok=True)
    alpha = [1.0] * (plates.WIDTH * plates.HEIGHT)
    blob = _exr.encode(
        plates.WIDTH, plates.HEIGHT, {"A": alpha, "obj1.A": alpha}, _exr.FLOAT, _exr.ZIP
    )
    for frame in frames:
        (folder / f"matte.{frame}.exr").write_bytes(blob)


@pytest.fixture
def farm_script(home, tmp_path):
    """A script with a tracked SAM2Matte (1001-1008) and a Write below it, saved in the GUI."""
    node, _ = new_node(tmp_path, 1001, 1008)
    fill_cache(node, range(1001, 1009))
    downstream_write(node, tmp_path / "out")
    script = tmp_path / "comp.nk"
    nuke.scriptSaveAs(str(script))
    return script, controller(node).state().cache_dir


def open_on_farm(script):
    nuke._fake.reset(gui=False)  # nuke -x: a new process without GUI
    startup.reset()
    startup.init()
    nuke.scriptOpen(str(script))
    return nuke.toNode("SAM2Matte1"), nuke.toNode("WriteMatte")


def test_missing_frames_stop_the_render_and_say_how_to_fix(farm_script, tmp_path):
    script, cache = farm_script
    for frame in (1003, 1004, 1007):
        (Path(cache) / "matte" / f"matte.{frame}.exr").unlink()
    _node, write = open_on_farm(script)
    nuke.execute(write, 1001, 1002)  # the frames that are there render
    assert (tmp_path / "out" / "out.1002.exr").is_file()
    render_check.before_render()
    with pytest.raises(render_check.MissingMatteError) as err:
        nuke.execute(write, 1001, 1008)
    text = str(err.value)
    assert text.startswith(f"SAM2Matte1: no matte for frame 1003 in {cache}/matte.")
    assert "Missing in its range 1001-1008: 1003-1004, 1007." in text
    assert "sam2matting render <shot file>" in text
    assert "Export shot file" in text
    assert not (tmp_path / "out" / "out.1003.exr").exists()


def test_frames_outside_the_range_and_disabled_nodes_are_not_missing(farm_script, tmp_path):
    script, _cache = farm_script
    node, write = open_on_farm(script)
    node["last_frame"].setValue(1005)  # narrower than the cache: 1006+ are black on purpose
    nuke.root()["last_frame"].setValue(1012)
    node.node("MatteCache")["last"].setValue(1005)
    nuke.execute(write, 1004, 1010)
    image = _exr.decode((tmp_path / "out" / "out.1009.exr").read_bytes())
    assert max(image.planes["A"]) == 0.0
    image = _exr.decode((tmp_path / "out" / "out.1004.exr").read_bytes())
    assert min(image.planes["A"]) == 1.0


def test_gui_renders_are_checked_too(home, tmp_path):
    startup.init()
    node, _ = new_node(tmp_path, 1001, 1004)
    fill_cache(node, [1001, 1002])
    write = downstream_write(node, tmp_path / "out")
    with pytest.raises(
        render_check.MissingMatteError, match="Missing in its range 1001-1004: 1003-1004"
    ):
        nuke.execute(write, 1001, 1004)


def test_without_the_plugin_the_farm_still_fails_loudly(farm_script, monkeypatch, tmp_path):
    script, cache = farm_script
    (Path(cache) / "matte" / "matte.1005.exr").unlink()
    nuke._fake.reset(gui=False)
    startup.reset()  # init.py of the plugin did not run: no render check registered
    monkeypatch.setitem(sys.modules, "sam2matting_nuke.callbacks", None)  # import fails
    nuke.scriptOpen(str(script))
    node, write = nuke.toNode("SAM2Matte1"), nuke.toNode("WriteMatte")
    assert node.node("MatteCache")["on_error"].value() == "error"  # the node's own onCreate code
    nuke.execute(write, 1004, 1004)
    with pytest.raises(nuke.FakeRenderError, match="Read error"):
        nuke.execute(write, 1005, 1005)
