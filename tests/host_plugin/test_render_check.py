"""Farm renders (`nuke -x` / `nuke -t`: no GUI, no backend) of a script saved in the GUI: frames
in the cache render their true mattes; a missing one fails with the missing-frame list and the
commands that make it. With the plugin, without its protocol package (a render machine that got
only the plugin folder), and without the plugin at all."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import nuke
import pytest
from sam2matting_nuke import graph, knobs, render_check, startup

from .conftest import REPO
from .helpers import controller, new_node, read_image
from .render_helpers import (
    FIRST,
    LAST,
    assert_never_silently_black,
    fill_cache,
    make_write,
    matte_value,
)
from .render_helpers import outcomes as render

CACHED = [1001, 1002, 1005, 1006, 1008]


@pytest.fixture
def farm_script(home, tmp_path):
    """comp.nk, saved in the GUI: a plate, a tracked SAM2Matte (CACHED), a Write below it."""
    node, _ = new_node(tmp_path, FIRST, LAST)
    fill_cache(node, CACHED)
    make_write(node, tmp_path / "out")
    script = tmp_path / "comp.nk"
    nuke.scriptSaveAs(str(script))
    return script, controller(node).state().cache_dir


def open_on_farm(script, order="children-first", plugin=True):
    nuke._fake.reset(gui=False)  # nuke -x: a new process without GUI
    startup.reset()
    if plugin:
        startup.init()
    nuke._fake.set_variant("group_children_first_on_load", order == "children-first")
    nuke.scriptOpen(str(script))
    return nuke.toNode("SAM2Matte1"), nuke.toNode("WriteMatte")


@pytest.mark.parametrize("order", ["children-first", "group-first"])
def test_farm_renders_the_cache_and_fails_on_missing_frames(farm_script, tmp_path, order):
    script, cache = farm_script
    _node, write = open_on_farm(script, order)
    got = render(write, range(FIRST, LAST + 1), tmp_path / "out")
    assert assert_never_silently_black(got, CACHED) == [1003, 1004, 1007]
    text = str(got[1003])
    assert text.startswith("SAM2Matte1: no matte for frame 1003.")
    assert f"Looked for: {cache}/matte/matte.1003.exr" in text
    assert "Missing in its range 1001-1008: 1003-1004, 1007." in text
    plate = tmp_path / "plate" / "plate.%04d.exr"
    shot = f"{cache}/farm_shot.json"
    for frames in ("1003-1004", "1007"):
        assert (
            f"sam2matting render --plate {plate} --frames {frames} --shot {shot} "
            f"-o {cache}/matte/matte.%04d.exr"
        ) in text
    assert "press 'Export shot file...' on SAM2Matte1 and save it as" in text
    # The script's Input nodes stand for the node's inputs by their `number`; whether the
    # children exist when onCreate runs is touched in one order only, and relied on in none.
    touched = set(nuke._fake.unverified_touched())
    assert touched - {"group_children_on_load_oncreate"} == {"input_number_knob"}


def test_farm_without_the_plugin_fails_on_the_read(farm_script, tmp_path, monkeypatch):
    script, _cache = farm_script
    monkeypatch.setitem(sys.modules, "sam2matting_nuke.callbacks", None)  # import fails
    node, write = open_on_farm(script, plugin=False)
    read = node.node(knobs.MATTE_READ)
    assert read["on_error"].hasExpression()
    assert read["on_error"].value() == "error"  # $gui is 0 at render time
    nuke.execute(write, 1002, 1002)
    with pytest.raises(nuke.FakeRenderError, match="Read error"):
        nuke.execute(write, 1003, 1003)
    assert not (tmp_path / "out" / "out.1003.exr").exists()
    # Without the plugin this rests on on_error's items being error (0), black (1): unverified.
    assert "read_on_error_items" in nuke._fake.unverified_touched()


def test_in_the_gui_untracked_frames_look_black_but_renders_fail(home, tmp_path):
    startup.init()
    node, _ = new_node(tmp_path, FIRST, LAST)
    fill_cache(node, [1001, 1002])
    assert node.node(knobs.MATTE_READ)["on_error"].value() == "black"  # the Viewer
    assert "read_on_error_items" in nuke._fake.unverified_touched()  # black is item 1
    write = make_write(node, tmp_path / "out")
    with pytest.raises(render_check.MissingMatteError, match="range 1001-1008: 1003-1008"):
        nuke.execute(write, FIRST, LAST)
    assert (tmp_path / "out" / "out.1002.exr").is_file()
    assert not (tmp_path / "out" / "out.1003.exr").exists()


def test_scripts_of_older_versions_get_the_render_time_error(farm_script, tmp_path):
    script, _cache = farm_script
    data = json.loads(script.read_text())
    group = next(n for n in data["nodes"] if n["class"] == "Group")
    old_code = "_s2m_read = nuke.thisNode().node('MatteCache')\n"  # code of older versions
    for knob in group["knobs"]:
        if knob["name"] == "onCreate":
            knob["value"] = old_code + knob["value"]
    read = next(n for n in group["children"] if n["class"] == "Read")
    for knob in read["knobs"]:
        if knob["name"] == "on_error":
            knob.pop("expression", None)
            knob["value"] = "black"
    script.write_text(json.dumps(data))
    node, _write = open_on_farm(script)
    assert node.node(knobs.MATTE_READ)["on_error"].hasExpression()
    assert node["onCreate"].value() == knobs.ON_CREATE_CODE


def test_the_check_does_not_need_the_nodes_own_oncreate_code(farm_script, tmp_path):
    """init.py's onCreate callback for Groups starts the checking, whatever the node's code."""
    script, _cache = farm_script
    data = json.loads(script.read_text())
    group = next(n for n in data["nodes"] if n["class"] == "Group")
    next(k for k in group["knobs"] if k["name"] == "onCreate")["value"] = ""
    script.write_text(json.dumps(data))
    _node, write = open_on_farm(script)
    got = render(write, [1002, 1003], tmp_path / "out")
    assert assert_never_silently_black(got, CACHED) == [1003]


FARM = """
import json, sys
from importlib.abc import MetaPathFinder

class NoProtocol(MetaPathFinder):
    # A render machine with the plugin folder only: no sam2matting package, no pyzmq.
    def find_spec(self, name, path=None, target=None):
        if name == "zmq" or name == "sam2matting" or name.startswith(("zmq.", "sam2matting.")):
            raise ImportError("not on this machine: " + name)

sys.meta_path.insert(0, NoProtocol())
sys.path[:0] = [{plugin!r}, {fake!r}]
import nuke
nuke._fake.reset(gui=False)
from sam2matting_nuke import startup, render_check
startup.init({plugin_dir!r})
nuke.scriptOpen({script!r})
write = nuke.toNode("WriteMatte")
results = {{}}
for frame in range({first}, {last} + 1):
    try:
        nuke.execute(write, frame, frame)
        results[frame] = "ok"
    except render_check.RenderCheckError as exc:
        results[frame] = str(exc)
loaded = sorted(m for m in sys.modules if m.startswith(("sam2matting.", "zmq")))
print(json.dumps({{"results": results, "loaded": loaded, "problem": startup.problem()}}))
"""


def test_farm_without_the_protocol_package(farm_script, tmp_path):
    """A separate Python, as on a render node: the protocol package and pyzmq cannot be imported
    at all. No ImportError: cached frames render, missing ones fail with the list."""
    script, _cache = farm_script
    code = FARM.format(
        plugin=str(REPO / "host_plugin"),
        fake=str(REPO / "tests" / "fake_nuke"),
        plugin_dir=str(tmp_path / "farm_plugin"),  # no vendor/, no checkout protocol/ beside it
        script=str(script),
        first=FIRST,
        last=LAST,
    )
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert "protocol package is missing" in report["problem"]
    results = {int(k): v for k, v in report["results"].items()}
    assert [f for f, v in results.items() if v == "ok"] == CACHED
    for frame in (1003, 1004, 1007):
        assert "Missing in its range 1001-1008: 1003-1004, 1007." in results[frame]
        assert "sam2matting render --plate" in results[frame]
    alpha = set(read_image(tmp_path / "out" / "out.1005.exr").plane("rgba.alpha"))
    assert len(alpha) == 1
    assert alpha.pop() == pytest.approx(matte_value(1005))


def test_read_knob_expression_is_written_in_nk_text():
    assert graph.value_text(graph.MISSING_FRAMES) == "{{$gui}}"
