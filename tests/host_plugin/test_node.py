"""The SAM2Matte node as Nuke sees it: the Group, its knobs, its insides, its output channels."""

from __future__ import annotations

import json

import nuke
import pytest
from nuke import _exr
from sam2matting_nuke import build, graph, knobs, startup

from . import plates
from .helpers import alpha_nuke, controller, new_node, render


def test_menu_command_builds_the_group(home, tmp_path):
    startup.init()
    startup.menu()
    pattern = plates.write_plate(tmp_path / "plate", 1001, 1012)
    read = plates.read_node(pattern, 1001, 1012)
    entry = nuke.menu("Nodes").findItem("SAM2Matting/SAM2Matte")
    made = entry["command"]()
    node = nuke.toNode("SAM2Matte1")
    assert made.node is node
    assert node.Class() == "Group"
    assert node.input(0) is read  # fed by the selected node, as Tab-created nodes are
    names = [n.name() for n in node.nodes()]
    assert names[:6] == ["plate", "mask", "PlateCrop", "MaskCrop", "MatteCache", "MatteOffset"]
    assert names[6:11] == [
        "SAM2FillGrow1",  # finishing of object1, after the cache Read
        "SAM2FillShrink1",
        "SAM2Grow1",
        "SAM2Feather1",
        "SAM2Combine1",
    ]
    assert names[-2:] == ["SAM2ViewSwitch", "Output1"]
    assert node.node("Output1").input(0) is node.node("SAM2ViewSwitch")
    assert node.node("plate")["number"].value() == 0
    assert node.node("mask")["number"].value() == 1
    assert node.maxInputs() == 2
    assert node.shown()  # its panel is open for the artist
    assert node["status"].value() == "not connected yet: press Connect"


def test_knobs_match_the_panel_spec(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1012)
    kinds = {
        "tab": "Tab_Knob",
        "text": "Text_Knob",
        "divider": "Text_Knob",
        "button": "PyScript_Knob",
        "enum": "Enumeration_Knob",
        "bool": "Boolean_Knob",
        "xy": "XY_Knob",
        "bbox": "BBox_Knob",
        "int": "Int_Knob",
        "float": "Double_Knob",
        "string": "String_Knob",
        "file": "File_Knob",
    }
    for spec in knobs.panel():
        knob = node[spec.name]
        assert knob.Class() == kinds[spec.kind], spec.name
        assert knob.getFlag(nuke.STARTLINE) != spec.same_line, spec.name
        # Point slots (checkbox and handle) and the box show only once they are in use.
        unused_slot = spec.kind in ("xy", "bbox") or spec.name.startswith(("use_pos", "use_neg"))
        assert knob.visible() == (not spec.hidden and not unused_slot), spec.name
    assert node["track"].command() == knobs.button_command("track")
    assert node["pos1"].label() == "+1 object"
    assert node["neg3"].label() == "-3 background"
    assert node["pos8"].label() == "+8 object"  # eight points of each sign
    assert nuke._fake.viewer_handles(node) == []  # no point yet: nothing drawn in the Viewer
    assert node["knobChanged"].value() == knobs.KNOB_CHANGED_CODE
    assert node["onCreate"].value() == knobs.ON_CREATE_CODE
    assert node["view"].values() == ["result", "overlay", "matte", "cutout"]
    assert node["output"].values() == ["rgba.alpha", "object layers", "both"]


def test_state_cache_read_and_crops(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1012)
    saved = json.loads(node[knobs.STATE_KNOB].value())
    assert saved["format"] == "sam2matting-nuke-node"
    assert saved["version"] == 2
    assert saved["shot_id"].startswith("untitled_SAM2Matte1_")
    assert saved["objects"] == [
        {"id": 1, "name": "object1", "grow": 0.0, "feather": 0.0, "fill_holes": 0.0}
    ]
    assert (saved["first_frame"], saved["last_frame"]) == (1001, 1012)
    cache = f"{home}/cache/{saved['shot_id']}"
    assert node["cache_dir"].value() == cache == saved["cache_dir"]
    read = node.node("MatteCache")
    assert read["file"].value() == cache + "/matte/matte.####.exr"
    assert (read["first"].value(), read["last"].value()) == (1001, 1012)
    assert read["raw"].value()
    assert read["on_error"].value() == "black"
    assert read["before"].value() == read["after"].value() == "black"
    crop = node.node("PlateCrop")
    assert [crop["box"].value(i) for i in range(4)] == [0, 0, plates.WIDTH, plates.HEIGHT]
    assert crop["reformat"].value()


def test_output_choice_rebuilds_the_copies_into_named_layers(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    nuke._fake.answer("hero", "Dog 2", "cat", "bird", "fish")
    for _ in range(5):
        nuke._fake.press(node, "add_object")
    assert node["object"].values() == ["object1", "hero", "Dog 2", "cat", "bird", "fish"]
    nuke._fake.artist_sets(node, "output", "both")
    copies = [n for n in node.nodes() if n.name().startswith("SAM2Copy")]
    assert [c.name() for c in copies] == ["SAM2Copy1", "SAM2Copy2"]  # 7 channels, 4 per Copy
    pairs = [(c[f"from{i}"].value(), c[f"to{i}"].value()) for c in copies for i in range(4)]
    assert pairs == [
        ("rgba.alpha", "rgba.alpha"),
        ("obj1.alpha", "object1.alpha"),
        ("obj2.alpha", "hero.alpha"),
        ("obj3.alpha", "Dog_2.alpha"),
        ("obj4.alpha", "cat.alpha"),
        ("obj5.alpha", "bird.alpha"),
        ("obj6.alpha", "fish.alpha"),
        ("none", "none"),
    ]
    assert copies[1].input(0) is copies[0]
    assert copies[0].input(0) is node.node("plate")
    assert copies[0].input(1) is node.node("SAM2Finished")
    assert node.node("SAM2Result").input(0) is copies[1]
    assert "Dog_2" in nuke.layers()

    # Renaming renames the layer; the output is rebuilt, not duplicated.
    node["object"].setValue("Dog 2")
    nuke._fake.answer("rex")
    nuke._fake.press(node, "rename_object")
    assert ("obj3.alpha", "rex.alpha") in [
        (c[f"from{i}"].value(), c[f"to{i}"].value())
        for c in node.nodes()
        if c.Class() == "Copy"
        for i in range(4)
    ]
    assert len([n for n in node.nodes() if n.Class() == "Output"]) == 1


def test_output_pixels_come_from_the_cache(home, tmp_path):
    """A cached matte EXR (A and obj<id>.A) lands in rgba.alpha and in each object's layer."""
    node, _ = new_node(tmp_path, 1001, 1003)
    nuke._fake.answer("hero")
    nuke._fake.press(node, "add_object")
    nuke._fake.artist_sets(node, "output", "both")
    state = controller(node).state()
    w, h = plates.WIDTH, plates.HEIGHT
    obj1 = [1.0 if (x < 10 and y < 5) else 0.0 for y in range(h) for x in range(w)]  # top-left
    obj2 = [0.25 if (x >= 40 and y >= 30) else 0.0 for y in range(h) for x in range(w)]
    combined = [max(a, b) for a, b in zip(obj1, obj2)]
    path = tmp_path / "home" / "cache" / state.shot_id / "matte" / "matte.1002.exr"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        _exr.encode(w, h, {"A": combined, "obj1.A": obj1, "obj2.A": obj2}, _exr.FLOAT, _exr.ZIP)
    )
    out = render(node, [1001, 1002], tmp_path / "out")
    assert alpha_nuke(out[1002], 2, 1) == 1.0
    assert alpha_nuke(out[1002], 45, 31) == 0.25
    assert alpha_nuke(out[1002], 2, 1, "object1.alpha") == 1.0
    assert alpha_nuke(out[1002], 45, 31, "object1.alpha") == 0.0
    assert alpha_nuke(out[1002], 45, 31, "hero.alpha") == 0.25
    assert out[1002].at("rgba.red", 0, 0) == pytest.approx(
        plates.pixel(1002, 0, h - 1)[0], abs=1e-3
    )
    assert max(out[1001].plane("rgba.alpha")) == 0.0  # not tracked yet: black, not an error (GUI)


def test_pasted_copy_gets_its_own_shot(home, tmp_path):
    node, _read = new_node(tmp_path, 1001, 1003)
    original = controller(node).state().shot_id
    twin = nuke.createNode("Group")  # a paste: same knobs and state, then onCreate runs
    for spec in knobs.panel():
        twin.addKnob(
            type(node[spec.name])(spec.name, spec.label, *([spec.values] if spec.values else []))
        )
    twin[knobs.STATE_KNOB].setValue(node[knobs.STATE_KNOB].value())
    twin["cache_dir"].setValue(node["cache_dir"].value())
    twin["onCreate"].setValue(knobs.ON_CREATE_CODE)
    twin.run_python("onCreate")
    copied = build.load(controller(twin).node).shot_id
    assert copied != original
    assert copied.startswith("untitled_Group")
    assert controller(twin).node.get("cache_dir").endswith(copied)
    assert controller(node).state().shot_id == original


def test_nothing_but_host_imports_nuke():
    import ast
    from pathlib import Path

    package = Path(graph.__file__).parent
    importers = []
    for source in sorted(package.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for item in ast.walk(tree):
            names = (
                [a.name for a in item.names]
                if isinstance(item, (ast.Import, ast.ImportFrom))
                else []
            )
            module = item.module if isinstance(item, ast.ImportFrom) else None
            if "nuke" in names or module == "nuke":
                importers.append(source.name)
    assert importers == ["host.py"]
