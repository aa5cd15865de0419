"""Saving and re-opening scripts in the fake (its own JSON format, not .nk).

What survives is what survives in Nuke: nodes with their knob values, user knobs (definition and
value), connections, group contents and custom layers. Python objects held by a plugin do not.
On open, nodes are created, then each node's onCreate code and the onCreate callbacks run, then
the onScriptLoad callbacks. Whether a Group's children exist when its onCreate runs is not
documented: `nuke._fake.set_variant("group_children_first_on_load", False)` runs each node's
onCreate as soon as the node exists (before its children), so a test can show the plugin works
either way. A gizmo
saves only its knobs; its insides are rebuilt from its definition (`nuke._fake.define_gizmo`).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

from . import _facts, _knobs, _nodes
from ._api import make_node
from ._core import SESSION, main_only, run_callbacks

FORMAT = "fake-nuke-script"


def _save_node(node: _nodes.Node) -> Dict[str, Any]:
    knobs = []
    for knob in node._knobs.values():
        entry: Dict[str, Any] = {"name": knob.name(), "value": knob._save()}
        if knob._user:
            entry["user"] = knob._definition()
        if knob._expression is not None:
            entry["expression"] = knob._expression
        knobs.append(entry)
    data: Dict[str, Any] = {
        "class": node.Class(),
        "knobs": knobs,
        "inputs": [None if n is None else n.name() for n in node._inputs],
    }
    # A gizmo saves only its knobs: its insides come from its .gizmo file when the script opens.
    if isinstance(node, _nodes.Group) and not isinstance(node, (_nodes.Root, _nodes.Gizmo)):
        data["children"] = [_save_node(child) for child in node._children]
    return data


@main_only
def scriptSaveAs(filename: str, overwrite: int = 1) -> None:
    root = _nodes.root_node()
    run_callbacks("onScriptSave", root)
    root._knobs["name"]._value = filename
    data = {
        "format": FORMAT,
        "root": {
            k: root._knobs[k]._save() for k in ("first_frame", "last_frame", "format", "proxy")
        },
        "layers": SESSION.layers,
        "nodes": [_save_node(n) for n in root._children],
    }
    with open(filename, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    SESSION.modified = False


@main_only
def scriptSave(filename: str = "") -> bool:
    scriptSaveAs(filename or str(_nodes.root_node()._knobs["name"]._value))
    return True


@main_only
def scriptName() -> str:
    name = str(_nodes.root_node()._knobs["name"]._value)
    if not name:
        raise RuntimeError("No script name (the script was never saved)")
    return name


@main_only
def scriptClear() -> None:
    root = _nodes.root_node()
    run_callbacks("onScriptClose", root)
    SESSION.root = _nodes.Root()
    SESSION.context = []
    SESSION.layers = {}


@main_only
def scriptOpen(filename: str) -> None:
    with open(filename, encoding="utf-8") as fh:
        data = json.load(fh)
    if data.get("format") != FORMAT:
        raise RuntimeError(f"{filename} is not a fake-nuke script")
    scriptClear()
    root = _nodes.root_node()
    for key, value in data["root"].items():
        root._knobs[key]._load(value)
    root._knobs["name"]._value = filename
    SESSION.layers = {k: list(v) for k, v in data["layers"].items()}
    created: List[_nodes.Node] = []
    _build(root, data["nodes"], created)
    if _facts.variant("group_children_first_on_load"):
        for node in created:
            if isinstance(node, _nodes.Group) and node._children and _has_code(node):
                _facts.touch("group_children_on_load_oncreate")
            _run_on_create(node)
    run_callbacks("onScriptLoad", root)
    SESSION.modified = False
    SESSION.undo_steps = []


def _has_code(node: _nodes.Node) -> bool:
    return bool(str(node._knobs["onCreate"]._value).strip())


def _run_on_create(node: _nodes.Node) -> None:
    node.run_python("onCreate")
    run_callbacks("onCreate", node)


def _build(group: _nodes.Group, entries: List[Dict[str, Any]], created: List[_nodes.Node]) -> None:
    made = []
    for entry in entries:
        node = make_node(entry["class"], group)
        for knob_data in entry["knobs"]:
            name = knob_data["name"]
            if "user" in knob_data:
                node.addKnob(_make_user_knob(knob_data["user"]))
            if name in node._knobs:
                node._knobs[name]._load(knob_data["value"])
                node._knobs[name]._expression = knob_data.get("expression")
        made.append((node, entry))
        created.append(node)
        if not _facts.variant("group_children_first_on_load"):
            _run_on_create(node)  # before its children exist (the other possible order)
        if "children" in entry:
            _build(node, entry["children"], created)  # type: ignore[arg-type]
    by_name = {n.name(): n for n in group._children}
    for node, entry in made:
        node._inputs = [None if name is None else by_name[name] for name in entry["inputs"]]


def _make_user_knob(definition: Dict[str, Any]) -> _knobs.Knob:
    cls = _knobs.KNOB_CLASSES[definition["class"]]
    if cls is _knobs.Enumeration_Knob:
        knob: _knobs.Knob = cls(definition["name"], definition["label"], definition["values"])
    else:
        knob = cls(definition["name"], definition["label"])
    knob._flags = set(definition["flags"])
    knob._tooltip = definition["tooltip"]
    return knob
