"""Creating a SAM2Matte node and keeping its insides in step with its state.

A Python-built Group (not a gizmo): Nuke saves its internal nodes with the script, so the Copy
chain rebuilt for the objects and the cache Read's file reopen exactly as they were.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from . import cache_paths, editor, frames, graph, knobs
from .coords import Format
from .state import NodeState, StateError, new_shot_id

if TYPE_CHECKING:
    from .host import NukeHost, NukeNode

log = logging.getLogger(__name__)

NODE_NAME = "SAM2Matte1"


def create(host: NukeHost, token: Optional[str] = None) -> NukeNode:
    """A new SAM2Matte node fed by the selected node: knobs, insides, a fresh shot id."""
    node, upstream = host.create_group(NODE_NAME)
    node.add_knobs(knobs.panel())
    node.set_code(knobs.KNOB_CHANGED_CODE, knobs.ON_CREATE_CODE)
    node.build(graph.base_nodes("", 1, 1, [0, 0, 0, 0]))
    node.connect(0, upstream)
    first, last = node.input_range(0) or host.script_range()
    shot_id = new_shot_id(host.script_path(), node.name(), token or secrets.token_hex(3))
    state = NodeState(shot_id=shot_id, first_frame=first, last_frame=last)
    state.add_object("object1")
    state.cache_dir = new_cache_dir(host, shot_id, node.name())
    fmt = node.input_format(0)
    if fmt is not None:
        place_plate(node, fmt)
    node.set("first_frame", first)
    node.set("last_frame", last)
    node.set("retrack_in", first)
    node.set("retrack_out", last)
    node.set("cache_dir", state.cache_dir)
    sync_read(node, state)
    rebuild_output(host, node, state)
    show_objects(node, state)
    editor.update_visibility(node)  # no point in use yet: no handles in the Viewer
    save(node, state)
    node.show_panel()
    return node


def upgrade(host: NukeHost, node: NukeNode, state: NodeState) -> None:
    """A node made by an older plugin: add the knobs it lacks, rebuild its insides."""
    node.add_knobs([spec for spec in knobs.panel() if not node.has_knob(spec.name)])
    rebuild_output(host, node, state)
    show_objects(node, state)
    editor.update_visibility(node)
    save(node, state)


def default_cache_dir(shot_id: str) -> str:
    """Where the backend puts a shot by default (open_shot_reply tells the real place)."""
    from sam2matting.protocol import paths  # not needed to render from the cache

    return str(paths.home_dir() / "cache" / shot_id).replace("\\", "/")


def new_cache_dir(host: NukeHost, shot_id: str, node_name: str) -> str:
    """The cache folder knob's text for a new shot, from the cache template (cache_paths.py);
    the backend's default folder while the script has never been saved."""
    from .backend import load_settings  # GUI only: needs the protocol package

    template = cache_paths.template(load_settings().cache_template)
    text = cache_paths.cache_dir(template, shot_id, node_name, host.script_path())
    return text if text is not None else default_cache_dir(shot_id)


def matte_file(state: NodeState) -> str:
    """The cache Read's file: <cache folder>/matte/matte.####.exr, padded for the shot's range."""
    return frames.matte_pattern(state.cache_dir, *_shot_range(state))


def _shot_range(state: NodeState) -> Tuple[int, int]:
    """The range the backend's file names are padded for: the shot's, or the node's."""
    if state.shot:
        return state.shot.first_frame, state.shot.last_frame
    return state.first_frame, state.last_frame


def load(node: NukeNode) -> NodeState:
    """The node's state from its hidden knob, with the visible knobs' current values."""
    text = str(node.get(knobs.STATE_KNOB))
    if not text:
        raise StateError(f"{node.name()} has no SAM2Matting state (not made by this plugin?)")
    state = NodeState.loads(text)
    state.first_frame = node.get_int("first_frame")
    state.last_frame = node.get_int("last_frame")
    state.output = str(node.get("output"))
    state.tracker = str(node.get("tracker"))
    state.engine = str(node.get("engine"))
    state.cache_dir = str(node.get("cache_dir")).rstrip("/\\") or state.cache_dir
    return state


def save(node: NukeNode, state: NodeState) -> None:
    """Into the hidden knob; not written when unchanged (it would mark the script modified)."""
    text = state.dumps()
    if str(node.get(knobs.STATE_KNOB)) != text:
        node.set(knobs.STATE_KNOB, text)


def rebuild_output(host: NukeHost, node: NukeNode, state: NodeState) -> None:
    """Everything after the cache Read, for the objects and the output choice (layers first).

    Also upgrades a node made by an older plugin (its Group had only the Copy chain)."""
    for layer, channels in graph.layers_needed(state.layer_names()):
        host.ensure_layer(layer, channels)
    node.delete_children_except(graph.BASE)
    node.build(graph.output_nodes(state))


def sync_read(node: NukeNode, state: NodeState) -> cache_paths.CacheReport:
    """Point the cache Read at the shot's mattes over the node's frame range (and give scripts
    made by older versions the render-time error on missing frames); say what the cache holds."""
    read = node.child(graph.MATTE_READ)
    if read is not None:
        read.update("file", matte_file(state))
        read.update("first", state.first_frame)
        read.update("last", state.last_frame)
        read.update("on_error", graph.MISSING_FRAMES)
    return report_cache(node, state)


def report_cache(node: NukeNode, state: NodeState) -> cache_paths.CacheReport:
    """The cache line on the node: the folder as resolved here, and how much of the range it
    holds, or that it was not found there. Logged too (terminal and farm sessions)."""
    try:
        folder = node.evaluated("cache_dir") if node.get("cache_dir") else ""
    except (ValueError, RuntimeError) as exc:  # TCL Nuke cannot expand here
        text = f"cache folder {node.get('cache_dir')!r} does not resolve here: {exc}"
        report = cache_paths.CacheReport(text, found=False)
    else:
        first, last = state.first_frame, state.last_frame
        report = cache_paths.report(folder, first, last, *_shot_range(state))
    if node.has_knob(knobs.CACHE_INFO_KNOB):
        node.update(knobs.CACHE_INFO_KNOB, report.text)
    (log.info if report.found else log.warning)("%s: %s", node.name(), report.text)
    return report


def place_plate(node: NukeNode, fmt: Format) -> None:
    """Crop input renders to the format's image area; put mattes back at its offset."""
    for name in (graph.PLATE_CROP, graph.MASK_CROP):
        crop = node.child(name)
        if crop is not None:
            crop.update("box", list(fmt.box))
    offset = node.child(graph.MATTE_OFFSET)
    if offset is not None:
        offset.update("translate", [fmt.box[0], fmt.box[1]])


def show_objects(node: NukeNode, state: NodeState) -> None:
    names = [o.name for o in state.objects] or ["(none)"]
    current = state.object(state.current_object).name if state.objects else names[0]
    node.set_choices("object", names, current)


def set_choices(node: NukeNode, knob: str, names: Sequence[str], current: str) -> None:
    """Tracker / engine menus from describe, keeping the artist's choice when still offered."""
    values = ["auto"] + [n for n in names if n != "auto"]
    node.set_choices(knob, values, current if current in values else "auto")
