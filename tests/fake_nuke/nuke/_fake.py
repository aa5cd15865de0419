"""Test controls of the fake (no such module in Nuke): reset, the event loop, artist actions."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence

from . import _core, _facts, _nodes


def reset(gui: bool = True) -> _core.Session:
    """A fresh fake Nuke process: empty script, no callbacks, nothing queued."""
    session = _core.SESSION
    session.__init__()  # type: ignore[misc]
    _facts.reset()
    session.gui = gui
    session.root = _nodes.Root()
    import nuke

    nuke.GUI = gui
    nuke.env["gui"] = gui
    return session


def session() -> _core.Session:
    return _core.SESSION


def pump(until: Optional[Callable[[], bool]] = None, timeout_s: float = 30.0) -> int:
    """Run Nuke's event loop: deferred main-thread calls, until `until()` holds."""
    return _core.pump(until, timeout_s)


def answer(*values: Any) -> None:
    """Script the artist's answers to the next dialogs (ask / getInput / getFilename)."""
    _core.SESSION.answers.extend(values)


def artist_sets(node: Any, knob: str, value: Any, index: Optional[int] = None) -> None:
    """The artist edits a knob in the open panel (knobChanged runs, as in Nuke)."""
    node.showControlPanel()
    _core.SESSION.artist += 1
    try:
        if index is None:
            node[knob].setValue(value)
        else:
            node[knob].setValue(value, index)
    finally:
        _core.SESSION.artist -= 1


def artist_connects(node: Any, index: int, source: Any) -> None:
    """The artist drags input `index` of `node` to `source` in the Node Graph, its panel open
    (knobChanged runs with a dummy knob: documented; its name: unverified, see _facts)."""
    node.showControlPanel()
    _core.SESSION.artist += 1
    try:
        node.setInput(index, source)
    finally:
        _core.SESSION.artist -= 1


def press(node: Any, knob: str) -> None:
    """The artist presses a button on the node."""
    node.showControlPanel()
    node[knob].execute()


def set_format(width: int, height: int, pixel_aspect: float = 1.0) -> None:
    """The project's format (Project Settings), as an artist sets it to the plate's."""
    _core.SESSION.root._knobs["format"]._value = _nodes.Format(
        width, height, pixel_aspect=pixel_aspect, name="plate"
    )


def set_frame(frame: int) -> None:
    """The artist moves the time slider."""
    _core.SESSION.frame = int(frame)


def set_views(names: Sequence[str]) -> None:
    """Project Settings > Views (nukescripts.stereo.setViewsForStereo sets 'left', 'right')."""
    _core.SESSION.views = list(names)
    _core.SESSION.view = names[0]


def define_gizmo(class_name: str, build: Callable[[Any], None]) -> None:
    """A gizmo on the plugin path: `build(gizmo)` makes its insides (its .gizmo file's nodes)."""
    _core.SESSION.gizmos[class_name] = build


def violations() -> List[str]:
    return list(_core.SESSION.violations)


def unverified_touched() -> List[str]:
    """Unverified behaviours (_facts.UNVERIFIED) the session exercised so far."""
    return _facts.touched()


def set_variant(name: str, value: bool) -> None:
    """Choose how the fake models an unverified behaviour (see _facts.py)."""
    _facts.set_variant(name, value)


def viewer_handles(node: Any) -> List[str]:
    """The XY/BBox knobs whose handles Nuke draws in the Viewer for this node's open panel."""
    return [
        k.name()
        for k in node.allKnobs()
        if k.Class() in ("XY_Knob", "BBox_Knob") and k.drawn_in_viewer()
    ]


def viewer_labels(node: Any) -> Dict[str, str]:
    """The labels Nuke draws next to the handles in the Viewer (unverified, see _facts)."""
    _facts.touch("viewer_draws_xy_labels")
    return {name: node[name].label() for name in viewer_handles(node)}


def dope_sheet_keys(node: Any) -> List[int]:
    """The frames the Dope Sheet shows as keys of this node: those of its animated knobs,
    while its panel is open (documented, _facts 'dope_sheet_keys')."""
    if not node.shown():
        return []
    frames = set()
    for knob in node.allKnobs():
        for keys in getattr(knob, "_keys", ()):
            frames.update(int(f) for f in keys)
    return sorted(frames)


def timeline_keys(node: Any) -> List[int]:
    """The key marks on the Viewer's timeline for the open node (unverified, see _facts): the
    fake shows the Dope Sheet's keys there."""
    _facts.touch("viewer_timeline_shows_keys")
    return dope_sheet_keys(node)


def panel_knobs(node: Any) -> List[str]:
    """The knobs the node's open panel shows: those it had when the panel was opened (knobs
    added since show once it is reopened: unverified, see _facts), less INVISIBLE ones."""
    if not node.shown():
        return []
    return [n for n in node._panel_knobs if n in node._knobs and node._knobs[n].visible()]


def viewer_sample(bbox: Sequence[float]) -> None:
    """The artist Ctrl+clicks in the Viewer: Nuke samples the colour there and (unverified)
    stores the sampled area in the Viewer node's colour_sample_bbox, in units of half the
    format's width, centred on the format (a click: a box of no size)."""
    from . import _api

    if _core.SESSION.viewer is None:
        _core.SESSION.viewer = _api.ViewerWindow()
    knob = _core.SESSION.viewer._node._knobs["colour_sample_bbox"]
    for index, value in enumerate(bbox):
        knob._value[index] = float(value)


def undo_steps() -> List[str]:
    """'node.knob' of every knob change recorded for undo so far."""
    return list(_core.SESSION.undo_steps)
