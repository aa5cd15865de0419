"""The node-building code as .nk text, parsed by nkparser (PyPI), describes the Group the plugin
builds in Nuke: its knobs, its insides, their values and their wiring.

nkparser 0.3 differs from Nuke's own files in two ways this test bridges explicitly:
- it expects a Group's children inside the Group's braces (`Group { knobs children end_group }`)
  where Nuke writes them after them (`Group { knobs }` children `end_group`), as `graph.to_nk`
  does; `nkparser_layout` moves them;
- it connects a multi-input node's deepest stack item to input 0, where Nuke connects the top of
  the stack to input 0 (a linear chain, where each node takes the node above it as input 0,
  shows Nuke's rule); the test reads nkparser's inputs reversed.
"""

from __future__ import annotations

import json

import pytest
from sam2matting_nuke import graph, knobs

from .helpers import controller, new_node

nkparser = pytest.importorskip("nkparser", reason="nkparser is not installed (Nuke-side venv)")


def emitted(node):
    """The .nk text for a built node, from the same specs the plugin built it from."""
    state = controller(node).state()
    inside = graph.base_nodes(
        node.node("MatteCache")["file"].value(), state.first_frame, state.last_frame, [0, 0, 48, 32]
    )
    inside += graph.output_nodes(state)
    values = {
        spec.name: node[spec.name].value()
        for spec in knobs.panel()
        if spec.kind not in ("tab", "text", "divider", "button")
    }
    return graph.to_nk(node.name(), knobs.panel(), values, inside), inside


def nkparser_layout(text: str) -> str:
    """Nuke's `Group {...} children end_group` as nkparser's `Group {... children end_group}`."""
    header, rest = text.split("\n}\n", 1)
    body, tail = rest.split("end_group\n", 1)
    return header + "\n" + body + "end_group\n}\n" + tail


def parse(node):
    text, inside = emitted(node)
    script = nkparser.Script.from_string(nkparser_layout(text))
    assert not script.has_errors, script.errors()
    return text, inside, script


def test_nkparser_parses_the_group(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1012)
    text, inside, script = parse(node)
    group = script.find("SAM2Matte1")
    assert type(group).__name__ == "GroupNode"
    children = [c.name for c in group.children if getattr(c, "name", "")]
    assert children == [spec.name for spec in inside]
    assert text.count("addUserKnob {") == len(knobs.panel())
    assert text.startswith("Group {\n name SAM2Matte1\n inputs 2\n")
    assert text.rstrip().endswith("end_group")


def test_nk_values_are_the_values_of_the_built_nodes(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1012)
    _text, _inside, script = parse(node)
    group = script.find("SAM2Matte1")
    raw_state = group.get_string(knobs.STATE_KNOB)
    assert json.loads(raw_state.replace("\\[", "[").replace("\\$", "$")) == json.loads(
        node[knobs.STATE_KNOB].value()
    )
    assert group.get("first_frame") == "1001"
    assert group.get("last_frame") == "1012"
    assert group.get_string("view") == node["view"].value() == "result"
    assert group.get_string("knobChanged") == knobs.KNOB_CHANGED_CODE
    read = script.find("MatteCache")
    assert read.get_string("file") == node.node("MatteCache")["file"].value()
    assert read.get("raw") == "true"
    assert read.get("on_error") == "{{$gui}}"  # black in the Viewer, error in renders
    copy = script.find("SAM2Copy1")
    assert copy.get_string("from0") == node.node("SAM2Copy1")["from0"].value() == "rgba.alpha"
    assert script.find("PlateCrop").get("box") == "{0 0 48 32}"
    # The view switch is an expression: renders get the result whatever the view knob says.
    assert script.find("SAM2ViewSwitch").get("which") == "{{$gui?parent.view:0}}"
    assert node.node("SAM2ViewSwitch")["which"].hasExpression()


def test_nk_wiring_is_the_built_wiring(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1012)
    _text, inside, script = parse(node)
    for spec in inside:
        parsed = script.find(spec.name)
        wired = [n.name if n is not None else None for n in reversed(parsed.inputs)]
        built = node.node(spec.name)
        assert wired == list(spec.inputs), spec.name
        assert [built.input(i).name() for i in range(built.inputs())] == list(spec.inputs)
    copy = next(spec for spec in inside if spec.name == "SAM2Copy1")
    assert list(copy.inputs) == ["plate", "SAM2Finished"]  # Copy: B is the plate, A the matte


def test_quoting_survives_brackets_quotes_and_newlines():
    assert graph.quote('a "b" [c] $d\ne') == '"a \\"b\\" \\[c] \\$d\\ne"'
    assert graph.value_text([1, 2.5, True]) == "{1 2.5 true}"
