"""The SAM2Matte Group's inside, as plain data, and the same Group as .nk text.

    plate (Input 0) -> PlateCrop ............................ (rendered for the backend)
    mask (Input 1)  -> MaskCrop ............................. (rendered as a mask prompt)
    MatteCache (Read of <cache>/matte/matte.####.exr) -> MatteOffset (Position)
    MatteOffset -> finishing per object -> SAM2Finished (graph_view.py)
    plate -> SAM2Copy1.. (Copy: A = SAM2Finished) -> SAM2Result -> views -> SAM2ViewSwitch
    -> Output1

The Read shows the cached float EXR mattes: `A` (all objects) becomes rgba.alpha, `obj<id>.A`
becomes the alpha of layer obj<id>; the Copy nodes put them where the output knob says.
`host.py` builds these nodes in Nuke; `to_nk` writes the same Group as .nk text (tests parse it
with nkparser; a TD can paste it into Nuke). The base nodes stay; everything after MatteOffset
is rebuilt when the objects or the output choice change.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from . import graph_view
from . import knobs as knobspec
from .graph_view import Expression, NodeSpec
from .knobs import point_knobs
from .state import NodeState

PLATE_INPUT, MASK_INPUT = "plate", "mask"
PLATE_CROP, MASK_CROP = "PlateCrop", "MaskCrop"
MATTE_READ, MATTE_OFFSET = knobspec.MATTE_READ, "MatteOffset"
OUTPUT = "Output1"
COPY_PREFIX = "SAM2Copy"
COPY_SLOTS = 4  # a Copy node moves at most four channels
BASE = (PLATE_INPUT, MASK_INPUT, PLATE_CROP, MASK_CROP, MATTE_READ, MATTE_OFFSET)
__all__ = ["BASE", "Expression", "NodeSpec"]


def base_nodes(matte_file: str, first: int, last: int, box: Sequence[float]) -> List[NodeSpec]:
    """The nodes every SAM2Matte has (inputs, crops, the cache Read); Inputs first (numbering)."""
    crop_knobs: Tuple[Tuple[str, object], ...] = (
        ("box", list(box)),
        ("reformat", True),
        ("crop", True),
    )
    return [
        NodeSpec("Input", PLATE_INPUT),
        NodeSpec("Input", MASK_INPUT),
        NodeSpec("Crop", PLATE_CROP, crop_knobs, (PLATE_INPUT,)),
        NodeSpec("Crop", MASK_CROP, crop_knobs, (MASK_INPUT,)),
        NodeSpec("Read", MATTE_READ, read_knobs(matte_file, first, last)),
        NodeSpec("Position", MATTE_OFFSET, (("translate", [box[0], box[1]]),), (MATTE_READ,)),
    ]


# The cache Read's "missing frames" choice, 0 = error, 1 = black: black in the Viewer (frames not
# tracked yet), error at render time, in every render, with or without the plugin installed.
# $gui is 1 when a node is computed for the GUI and 0 at render time (Foundry support article
# Q100349); the plugin's render check covers renders started in a GUI session either way.
MISSING_FRAMES = Expression("$gui")


def read_knobs(matte_file: str, first: int, last: int) -> Tuple[Tuple[str, object], ...]:
    """The cache Read: raw floats, black outside the tracked range; missing frames black in the
    Viewer and an error when rendering (MISSING_FRAMES)."""
    return (
        ("file", matte_file),
        ("first", first),
        ("last", last),
        ("before", "black"),
        ("after", "black"),
        ("on_error", MISSING_FRAMES),
        ("raw", True),
    )


def copy_pairs(output: str, layers: Dict[int, str]) -> List[Tuple[str, str]]:
    """(from, to) channel pairs for the output choice; layers maps object id -> layer name."""
    pairs: List[Tuple[str, str]] = []
    if output in ("rgba.alpha", "both"):
        pairs.append(("rgba.alpha", "rgba.alpha"))
    if output in ("object layers", "both"):
        pairs += [(f"obj{oid}.alpha", f"{name}.alpha") for oid, name in sorted(layers.items())]
    return pairs


def layers_needed(layers: Dict[int, str]) -> List[Tuple[str, List[str]]]:
    """Layers that must exist before Copy knobs may name them: the cache's and the output's."""
    out = []
    for oid, name in sorted(layers.items()):
        out.append((f"obj{oid}", [f"obj{oid}.alpha"]))
        out.append((name, [f"{name}.alpha"]))
    return out


def output_nodes(state: NodeState) -> List[NodeSpec]:
    """Everything after MatteOffset: finishing, the Copy chain, the views, Output1."""
    nodes = graph_view.finishing(state.objects, MATTE_OFFSET)
    copies = copy_nodes(state.output, state.layer_names(), graph_view.FINISHED)
    nodes += copies
    result_of = copies[-1].name if copies else PLATE_INPUT
    nodes.append(NodeSpec("Dot", graph_view.RESULT, (), (result_of,)))
    slots = [(xy, label) for _use, xy, label in point_knobs()]
    nodes += graph_view.views(state.objects, PLATE_INPUT, slots)
    nodes.append(NodeSpec("Output", OUTPUT, (), (graph_view.VIEW_SWITCH,)))
    return nodes


def copy_nodes(output: str, layers: Dict[int, str], source: str) -> List[NodeSpec]:
    """The Copy chain from the plate for the output choice (A: the finished mattes)."""
    pairs = copy_pairs(output, layers)
    nodes = []
    previous = PLATE_INPUT
    for index in range(0, len(pairs), COPY_SLOTS):
        group = pairs[index : index + COPY_SLOTS]
        name = f"{COPY_PREFIX}{index // COPY_SLOTS + 1}"
        values: List[Tuple[str, object]] = []
        for slot in range(COPY_SLOTS):
            src, dst = group[slot] if slot < len(group) else ("none", "none")
            values += [(f"from{slot}", src), (f"to{slot}", dst)]
        nodes.append(NodeSpec("Copy", name, tuple(values), (previous, source)))
        previous = name
    return nodes


# ------------------------------------------------------------------ .nk text

_KNOB_IDS = {
    "tab": 20,
    "text": 26,
    "divider": 26,
    "button": 22,
    "enum": 4,
    "bool": 6,
    "xy": 12,
    "bbox": 15,
    "int": 3,
    "float": 7,
    "string": 1,
    "file": 2,
}


def quote(text: str) -> str:
    """A TCL-quoted .nk string (brackets escaped: Nuke would evaluate [..] on load)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("[", "\\[")
    escaped = escaped.replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'


def value_text(value: object) -> str:
    if isinstance(value, Expression):
        return "{{" + value.text.replace(" ", "") + "}}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "{" + " ".join(value_text(v) for v in value) + "}"
    return quote(str(value))


def _user_knob(spec: knobspec.KnobSpec, value: object) -> List[str]:
    line = f"addUserKnob {{{_KNOB_IDS[spec.kind]} {spec.name} l {quote(spec.label)}"
    if spec.kind == "divider":
        line = f"addUserKnob {{26 {spec.name} l {quote(spec.label)}"
    if spec.same_line:
        line += " -STARTLINE"
    if spec.hidden:
        line += " +INVISIBLE"
    if spec.kind == "enum":
        line += " M {" + " ".join(quote(v) for v in spec.values) + "}"
    if spec.kind in ("button", "text"):
        line += " T " + quote(spec.command if spec.kind == "button" else str(spec.default or ""))
    lines = [line + "}"]
    if value is not None and spec.kind not in ("tab", "text", "divider", "button"):
        lines.append(f"{spec.name} {value_text(value)}")
    return lines


def to_nk(
    name: str,
    panel: Sequence[knobspec.KnobSpec],
    values: Dict[str, object],
    inside: Sequence[NodeSpec],
) -> str:
    """The whole Group as .nk text: its knobs (with `values`), then its nodes, then end_group."""
    lines = ["Group {", f" name {name}", " inputs 2"]
    lines.append(f" knobChanged {quote(knobspec.KNOB_CHANGED_CODE)}")
    lines.append(f" onCreate {quote(knobspec.ON_CREATE_CODE)}")
    for spec in panel:
        lines += [" " + text for text in _user_knob(spec, values.get(spec.name, spec.default))]
    lines.append("}")
    lines += _nodes_nk(inside)
    lines.append("end_group")
    return "\n".join(lines) + "\n"


def _nodes_nk(inside: Sequence[NodeSpec]) -> List[str]:
    """Nodes with explicit wiring: each input is pushed from a variable, last input first."""
    out = []
    var = {spec.name: f"N{i}" for i, spec in enumerate(inside)}
    for spec in inside:
        for source in reversed(spec.inputs):
            out.append(f" push ${var[source]}" if source else " push 0")
        out.append(f" {spec.cls} {{")
        if not spec.inputs:
            out.append("  inputs 0")
        elif len(spec.inputs) > 1:
            out.append(f"  inputs {len(spec.inputs)}")
        for key, value in spec.knobs:
            out.append(f"  {key} {value_text(value)}")
        out.append(f"  name {spec.name}")
        out.append(" }")
        out.append(f" set {var[spec.name]} [stack 0]")
    return out
