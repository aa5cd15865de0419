"""The tracker's and engine's options as knobs, built from what the backend's describe advertises.

Each advertised parameter (`describe` -> trackers/engines -> params: name, type, default,
choices, range, help) becomes one knob on an "options" tab, named after its tracker or engine
and parameter (`opt_closed_form_max_width`). Knobs are only ever added, so an artist's values
stay in the script even while another backend does not offer them; only the chosen tracker's
and engine's knobs are shown. A hidden knob records what each option knob is (side, owner,
parameter, type, default), so the values can be read without a backend.

What is sent (`open_shot` tracker_params / engine_params) and exported (the shot file's
`params`) are the chosen tracker's and engine's values that differ from the advertised
defaults; "auto" sends none (which engine "auto" becomes is the backend's choice). The backend
checks every value against the same description.

The knobs are usually added while the panel is open (Connect is pressed in it). Whether an open
panel shows knobs added to it before it is reopened is not documented, so `NukeNode.add_knobs`
closes and reopens an open panel after adding visible knobs.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Sequence

from .host import NukeNode
from .knobs import KnobSpec

REGISTRY_KNOB = "sam2_options"  # hidden: {knob name: {side, owner, param, type, default}}
TAB_KNOB = "sam2_options_tab"
PREFIX = "opt_"
SIDES = ("tracker", "engine")  # describe's lists are these names + "s"
_KINDS = {"int": "int", "float": "float", "bool": "bool", "choice": "enum", "str": "string"}

Options = Dict[str, Dict[str, Any]]  # {"tracker": {name: value}, "engine": {name: value}}


def knob_name(owner: str, param: str) -> str:
    """`opt_<owner>_<param>` with anything a knob name cannot hold turned into '_'."""
    return PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", f"{owner}_{param}")


def sync(node: NukeNode, describe: Mapping[str, Any], tracker: str, engine: str) -> None:
    """Add knobs for advertised options the node lacks, then show the chosen ones."""
    registry = _registry(node)
    known = dict(registry)
    specs: List[KnobSpec] = []
    for side in SIDES:
        for cap in describe.get(side + "s", []):
            for param in cap.get("params", []):
                if param.get("type") not in _KINDS:
                    continue  # a type this plugin does not know yet: the backend's default
                name = knob_name(cap["name"], param["name"])
                registry[name] = _entry(side, cap["name"], param)
                if not node.has(name):
                    specs.append(_spec(name, param))
    if specs and not node.has(TAB_KNOB):
        specs.insert(0, KnobSpec("tab", TAB_KNOB, "options"))
    node.add_knobs(specs)
    if registry != known:
        _save_registry(node, registry)
    show(node, tracker, engine)


def show(node: NukeNode, tracker: str, engine: str) -> None:
    """Show the knobs of the chosen tracker and engine, hide the others."""
    chosen = {"tracker": tracker, "engine": engine}
    for name, entry in _registry(node).items():
        if node.has(name):
            node.set_visible(name, entry["owner"] == chosen[entry["side"]])


def values(node: NukeNode, tracker: str, engine: str) -> Options:
    """The chosen tracker's and engine's options that differ from their defaults."""
    chosen = {"tracker": tracker, "engine": engine}
    out: Options = {side: {} for side in SIDES}
    for name, entry in _registry(node).items():
        if entry["owner"] != chosen[entry["side"]] or not node.has(name):
            continue
        value = _typed(entry["type"], node.get(name))
        if value != entry["default"]:
            out[entry["side"]][entry["param"]] = value
    return out


# ---------------------------------------------------------------- internals


def _entry(side: str, owner: str, param: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "side": side,
        "owner": owner,
        "param": param["name"],
        "type": param["type"],
        "default": param.get("default"),
    }


def _spec(name: str, param: Mapping[str, Any]) -> KnobSpec:
    kind = _KINDS[param["type"]]
    choices: Sequence[str] = tuple(param.get("choices") or ())
    return KnobSpec(
        kind,
        name,
        param["name"].replace("_", " "),
        default=param.get("default"),
        values=tuple(str(c) for c in choices),
        tooltip=_tooltip(param),
    )


def _tooltip(param: Mapping[str, Any]) -> str:
    low, high = param.get("min"), param.get("max")
    span = "" if low is None and high is None else f" Range {low:g} to {high:g}."
    return f"{param.get('help', '')}{span} Default {param.get('default')!r}."


def _typed(kind: str, value: Any) -> Any:
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return str(value)


def _registry(node: NukeNode) -> Dict[str, Dict[str, Any]]:
    if not node.has(REGISTRY_KNOB):
        return {}
    text = str(node.get(REGISTRY_KNOB) or "")
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}  # a damaged record: knobs are re-registered at the next describe
    return data if isinstance(data, dict) else {}


def _save_registry(node: NukeNode, registry: Dict[str, Dict[str, Any]]) -> None:
    if not node.has(REGISTRY_KNOB):
        node.add_knobs([KnobSpec("string", REGISTRY_KNOB, hidden=True)])
    node.set(REGISTRY_KNOB, json.dumps(registry, sort_keys=True))
