"""Entry points Nuke calls: the menu command, the node's buttons and knobChanged / onCreate code,
and script-wide callbacks. Each finds the node's Controller (one per node, made on first use).

Importing this module needs neither the protocol package nor pyzmq (the controller is imported
when a node is first used in the GUI): a render machine without them still runs on_create.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Dict, Optional

from . import build, knobs, render_check, startup
from .host import NukeHost, NukeNode
from .state import NodeState, StateError, new_shot_id

if TYPE_CHECKING:
    from .controller import Controller

log = logging.getLogger(__name__)

_controllers: Dict[Any, Controller] = {}


def controller_for(node: NukeNode, host: Optional[NukeHost] = None) -> Controller:
    found = _controllers.get(node.key)
    if found is None:
        from .controller import Controller

        found = Controller(host or NukeHost(), node)
        _controllers[node.key] = found
    return found


def create_node() -> Optional[NukeNode]:
    """The menu command: a new SAM2Matte node where the artist works."""
    host = NukeHost()
    render_check.node_seen()
    try:
        node = build.create(host)
    except Exception as exc:
        log.exception("could not create a SAM2Matte node")
        host.message(f"SAM2Matte could not be created: {exc}")
        return None
    controller = controller_for(node, host)
    controller.set_status(startup.problem() or "not connected yet: press Connect")
    return node


def button(action: str) -> None:
    host = NukeHost()
    controller_for(host.this_node(), host).button(action)


def knob_changed() -> None:
    host = NukeHost()
    node = host.this_node()
    if node.is_ours():
        controller_for(node, host).knob_changed(host.this_knob_name())


def on_create() -> None:
    """A SAM2Matte node appeared from a script or a paste: renders get checked from now on;
    settle its Read, code and shot id; say whether its cache is where it should be.

    Uses only the Group's own knobs where it can: whether its children exist yet when Nuke runs
    a loaded Group's onCreate is not documented (sync_read skips a Read that is not there)."""
    render_check.node_seen()
    host = NukeHost()
    node = host.this_node()
    if not node.is_ours():
        return
    try:
        state = build.load(node)
    except StateError:
        log.exception("%s: cannot read its state", node.name())
        return
    if str(node.get("onCreate")) != knobs.ON_CREATE_CODE:  # a script of an older version
        node.set_code(knobs.KNOB_CHANGED_CODE, knobs.ON_CREATE_CODE)
    if host.gui() and _shot_id_taken(host, node, state):
        # A copy of another node: same prompts, but its own shot (and cache).
        shot_id = new_shot_id(host.script_path(), node.name(), _token())
        state.start_new_shot(shot_id, build.new_cache_dir(host, shot_id, node.name()))
        build.save(node, state)
        node.set("cache_dir", state.cache_dir)
    cache = build.sync_read(node, state)
    if host.gui():
        problem = startup.problem() or (None if cache.found else cache.text)
        node.set("status", problem or "not connected yet: press Connect")


def _shot_id_taken(host: NukeHost, node: NukeNode, state: NodeState) -> bool:
    for other in host.our_nodes():
        if other.key == node.key:
            continue
        try:
            if build.load(other).shot_id == state.shot_id:
                return True
        except StateError:
            continue
    return False


def _token() -> str:
    import secrets

    return secrets.token_hex(3)


def on_destroy() -> None:
    node = NukeHost.this_node()
    controller = _controllers.pop(node.key, None)
    if controller is not None:
        controller.shutdown()


def on_script_close() -> None:
    """Stop every worker: their nodes are going away."""
    for controller in list(_controllers.values()):
        controller.shutdown()
    _controllers.clear()
