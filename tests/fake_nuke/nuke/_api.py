"""Module-level functions of the fake nuke: node creation and lookup, dialogs, progress, layers,
menus and callback registration."""

from __future__ import annotations

import re
from typing import Any, Callable, List, Optional, Sequence

from . import _facts, _knobs, _nodes, _ops, _ops_view
from ._core import SESSION, add_callback, check_main, main_only, remove_callback, run_callbacks

NODE_CLASSES = {
    cls._class: cls
    for cls in (
        _nodes.Group,
        _ops.Input,
        _ops.Output,
        _ops.Read,
        _ops.Write,
        _ops.Crop,
        _ops.Copy,
        _ops.Position,
        _ops.Switch,
        _ops.TimeOffset,
        _ops.Dot,
        _ops.NoOp,
        *_ops_view.CLASSES,
    )
}


def make_node(cls_name: str, parent: Optional[_nodes.Group] = None) -> _nodes.Node:
    group = parent if parent is not None else _nodes.current_group()
    if cls_name in SESSION.gizmos:
        return _nodes.Gizmo(group, cls_name, SESSION.gizmos[cls_name])
    cls = NODE_CLASSES.get(cls_name)
    if cls is None:
        raise RuntimeError(f"{cls_name}: unknown command (the fake has no such node class)")
    return cls(group)


def _apply_knobs(node: _nodes.Node, knobs: Any) -> None:
    for name, value in knobs.items():
        if name == "inputs":
            for i, source in enumerate(value):
                node.setInput(i, source)
        elif name == "name":
            node.setName(str(value))
        else:
            node[name].setValue(value)


class _NodeConstructors:
    """nuke.nodes.Read(file=..., name=...): a node in the current group, not connected."""

    def __getattr__(self, cls_name: str) -> Callable[..., _nodes.Node]:
        def construct(**knobs: Any) -> _nodes.Node:
            check_main("nodes." + cls_name)
            node = make_node(cls_name)
            _apply_knobs(node, knobs)
            run_callbacks("onCreate", node)
            return node

        return construct


nodes = _NodeConstructors()


@main_only
def createNode(node: str, args: str = "", inpanel: bool = True) -> _nodes.Node:
    """Like the Tab menu: connects the selected node to input 0 and selects the new node."""
    group = _nodes.current_group()
    selected = [n for n in group._children if n._knobs["selected"]._value]
    made = make_node(node, group)
    for n in selected:
        n._knobs["selected"]._value = False
    made._knobs["selected"]._value = True
    # Unverified (_facts.py "createNode_group_has_io"): the Tab menu's Group holds
    # Input1 -> Output1. Both variants are modelled; tests run the plugin with each.
    if node == "Group":
        _facts.touch("createNode_group_has_io")
    if node == "Group" and _facts.variant("group_has_io"):
        with made:  # type: ignore[attr-defined]
            inside = make_node("Input", made)  # type: ignore[arg-type]
            make_node("Output", made).setInput(0, inside)  # type: ignore[arg-type]
    if selected and made.maxInputs() > 0:
        made.setInput(0, selected[-1])
    name = re.search(r"\bname\s+(\S+)", args)
    if name:
        made.setName(name.group(1))
    run_callbacks("onCreate", made)
    if inpanel and SESSION.gui:
        made.showControlPanel()
    return made


@main_only
def selectedNodes(filter: Optional[str] = None) -> List[_nodes.Node]:
    group = _nodes.current_group()
    return [
        n
        for n in group._children
        if n._knobs["selected"]._value and (filter is None or n.Class() == filter)
    ]


@main_only
def selectedNode() -> _nodes.Node:
    """The 'node the user is thinking about'; ValueError when nothing is selected (as Nuke)."""
    found = selectedNodes()
    if not found:
        raise ValueError("no node selected")
    return found[-1]


@main_only
def toNode(name: str) -> Optional[_nodes.Node]:
    parts = name.split(".")
    group: Any = _nodes.root_node() if name.startswith("root.") else _nodes.current_group()
    if parts[0] == "root":
        parts = parts[1:]
    node: Any = group
    for part in parts:
        if not isinstance(node, _nodes.Group):
            return None
        node = node.node(part)
        if node is None:
            return None
    return node  # type: ignore[no-any-return]


@main_only
def allNodes(
    filter: Optional[str] = None, group: Any = None, recurseGroups: bool = False
) -> List[Any]:
    start = group if group is not None else _nodes.current_group()
    found: List[Any] = []
    for child in start._children:
        if filter is None or child.Class() == filter:
            found.append(child)
        if recurseGroups and isinstance(child, _nodes.Group):
            found.extend(allNodes(filter, child, True))
    return found


@main_only
def delete(node: Any) -> None:
    if node is None:
        return
    run_callbacks("onDestroy", node)
    group = node._parent
    if group is not None:
        if node.Class() == "Input":
            # The group loses that input (and the ones after it): Nuke disconnects them.
            del group._inputs[int(node._knobs["number"]._value) :]
        group._children.remove(node)
        for other in group._children:
            other._inputs = [None if n is node else n for n in other._inputs]
    node._deleted = True


@main_only
def root() -> _nodes.Root:
    return _nodes.root_node()


@main_only
def thisNode() -> Any:
    return SESSION.this_node[-1] if SESSION.this_node else _nodes.root_node()


@main_only
def thisKnob() -> Any:
    return SESSION.this_knob[-1] if SESSION.this_knob else None


@main_only
def thisGroup() -> Any:
    return _nodes.current_group()


@main_only
def frame(f: Optional[int] = None) -> int:
    if f is not None:
        SESSION.frame = int(f)
    return SESSION.frame


# ------------------------------------------------------------------ dialogs and progress


@main_only
def message(prompt: str) -> None:
    SESSION.messages.append(prompt)


def _answer(kind: str, prompt: str) -> Any:
    if not SESSION.answers:
        raise AssertionError(
            f"the plugin asked ({kind}) {prompt!r} but the test scripted no answer"
        )
    return SESSION.answers.popleft()


@main_only
def ask(prompt: str) -> bool:
    return bool(_answer("ask", prompt))


@main_only
def getInput(prompt: str, default: str = "") -> Optional[str]:
    value = _answer("getInput", prompt)
    return default if value is ... else value


@main_only
def getFilename(message: str, pattern: str = "", default: str = "", **_kw: Any) -> Optional[str]:
    return _answer("getFilename", message)  # type: ignore[no-any-return]


@main_only
def tprint(*args: Any, **_kw: Any) -> None:
    SESSION.printed.append(" ".join(str(a) for a in args))


class TaskRecord:
    """What a test sees of a ProgressTask; it outlives the task (Nuke closes the bar when the
    task object is garbage collected, so the fake must not keep the task itself alive)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.messages: List[str] = []
        self.progress: List[int] = []
        self.cancelled = False
        self.closed = False

    def cancel(self) -> None:
        """The artist presses the progress bar's Cancel button."""
        self.cancelled = True


class ProgressTask:
    """Not modal: Nuke's event loop (nuke._fake.pump) runs while it shows (unverified before
    17.1, _facts 'progress_task_not_modal')."""

    def __init__(self, title: str) -> None:
        check_main("ProgressTask")
        _facts.touch("progress_task_not_modal")
        self._record = TaskRecord(title)
        SESSION.progress_tasks.append(self._record)

    @main_only
    def setMessage(self, text: str) -> None:
        self._record.messages.append(text)

    @main_only
    def setProgress(self, percent: int) -> None:
        if not isinstance(percent, int):
            raise TypeError("setProgress takes an int")
        self._record.progress.append(percent)

    @main_only
    def isCancelled(self) -> bool:
        return self._record.cancelled

    def __del__(self) -> None:
        self._record.closed = True


# ------------------------------------------------------------------ undo


class Undo:
    """nuke.Undo: only disable/enable/disabled are modelled (15.1 dev guide)."""

    @staticmethod
    def disable() -> None:
        check_main("Undo.disable")
        SESSION.undo_disabled += 1

    @staticmethod
    def enable() -> None:
        check_main("Undo.enable")
        if SESSION.undo_disabled == 0:
            raise RuntimeError("Undo.enable() without a matching disable()")
        SESSION.undo_disabled -= 1

    @staticmethod
    def disabled() -> bool:
        return SESSION.undo_disabled > 0


# ------------------------------------------------------------------ layers


class Layer:
    def __init__(self, name: str, channels: Sequence[str]) -> None:
        check_main("Layer")
        for channel in channels:
            if not channel.startswith(name + "."):
                raise ValueError(f"channel {channel} is not in layer {name}")
        known = SESSION.layers.setdefault(name, [])
        known.extend(c for c in channels if c not in known)
        self._name = name

    def name(self) -> str:
        return self._name

    def channels(self) -> List[str]:
        return list(SESSION.layers[self._name])


@main_only
def layers(node: Any = None) -> List[str]:
    return ["rgba", "rgb", "alpha", *sorted(SESSION.layers)]


@main_only
def exists(name: str) -> bool:
    return toNode(name) is not None or _ops.channel_exists(name)


# ------------------------------------------------------------------ menus


class Menu:
    def __init__(self, name: str) -> None:
        self._name = name
        self.items: List[Any] = []

    def name(self) -> str:
        return self._name

    @main_only
    def addMenu(self, name: str, **_kw: Any) -> Menu:
        for item in self.items:
            if isinstance(item, Menu) and item.name() == name:
                return item
        sub = Menu(name)
        self.items.append(sub)
        return sub

    @main_only
    def addCommand(
        self, name: str, command: Any = None, shortcut: str = "", icon: str = "", **_kw: Any
    ) -> Any:
        self.items.append({"name": name, "command": command, "shortcut": shortcut})
        return self.items[-1]

    def findItem(self, name: str) -> Any:
        for item in self.items:
            if (isinstance(item, Menu) and item.name() == name) or (
                isinstance(item, dict) and item["name"] == name
            ):
                return item
        return None


@main_only
def menu(name: str) -> Menu:
    return SESSION.menus.setdefault(name, Menu(name))


@main_only
def toolbar(name: str, create: bool = True) -> Menu:
    return SESSION.menus.setdefault("toolbar:" + name, Menu(name))


# ------------------------------------------------------------------ callbacks


def _registrar(kind: str, default_class: str = "*") -> Any:
    """add/remove functions for one callback kind. Nuke looks callbacks up by the class of the
    node that runs them (nuke_internal/callbacks.py); the render ones default to 'Write'."""

    def add(
        call: Callable[..., Any], args: Any = (), kwargs: Any = None, nodeClass: str = default_class
    ) -> None:
        add_callback(kind, call, args, kwargs, nodeClass)

    def remove(
        call: Callable[..., Any], args: Any = (), kwargs: Any = None, nodeClass: str = default_class
    ) -> None:
        remove_callback(kind, call, nodeClass)

    return add, remove


addOnCreate, removeOnCreate = _registrar("onCreate")
addOnScriptLoad, removeOnScriptLoad = _registrar("onScriptLoad")
addOnScriptSave, removeOnScriptSave = _registrar("onScriptSave")
addOnScriptClose, removeOnScriptClose = _registrar("onScriptClose")
addOnDestroy, removeOnDestroy = _registrar("onDestroy")
addKnobChanged, removeKnobChanged = _registrar("knobChanged")
addBeforeRender, removeBeforeRender = _registrar("beforeRender", "Write")
addBeforeFrameRender, removeBeforeFrameRender = _registrar("beforeFrameRender", "Write")
addAfterFrameRender, removeAfterFrameRender = _registrar("afterFrameRender", "Write")
addAfterRender, removeAfterRender = _registrar("afterRender", "Write")
addFilenameFilter, removeFilenameFilter = _registrar("filenameFilter")


def filenameFilter(filename: str) -> str:
    """Nuke's own hook: the registered filename filters, last added first ('*' ones after the
    node class's), as nuke_internal/callbacks.py runs them before a path reaches the OS."""
    node = SESSION.this_node[-1] if SESSION.this_node else None
    node_class = node.Class() if node is not None else None
    for kind in (node_class, "*"):
        for call, args, kwargs, registered in reversed(list(SESSION.callbacks["filenameFilter"])):
            if registered == kind:
                result = call(filename, *args, **kwargs)
                if result is not None:
                    filename = result
    return filename


# ------------------------------------------------------------------ files and views

REPLACE = 1
REPLACE_VIEWS = 2


@main_only
def filename(node: Any, i: int = 0) -> Optional[str]:
    """The node's file knob with its TCL expanded; REPLACE puts in the current frame. As Foundry
    documents it: expansion of commands and variables, %04d sequences kept without REPLACE.
    Filename filters are not applied: Foundry's createWriteDir example (Python dev guide,
    Callbacks) runs nuke.callbacks.filenameFilter on its result itself."""
    from ._tcl import expand

    knob = node.knob("file")
    if knob is None or not str(knob._value):
        return None
    text = expand(str(knob._value), node)
    printf = _ops.to_printf(text)
    if i == REPLACE:
        return _ops.frame_path(printf, SESSION.frame)
    return printf


class ViewerWindow:
    """nuke.activeViewer(): the Viewer panel; node() is its Viewer node. The fake's Viewer node
    holds only `colour_sample_bbox`, which Nuke fills on a Ctrl+click colour sample (unverified:
    the knob, its units, when it is set; see _facts)."""

    def __init__(self) -> None:
        self._node = _nodes.Node()
        self._node._class = "Viewer"
        sample = _knobs.BBox_Knob("colour_sample_bbox")
        self._node._attach(sample)

    @main_only
    def node(self) -> Any:
        _facts.touch("viewer_colour_sample_bbox")
        return self._node


@main_only
def activeViewer() -> Optional[ViewerWindow]:
    return SESSION.viewer


@main_only
def views() -> List[str]:
    """The script's views (documented); that the first is the main view is not (_facts)."""
    if len(SESSION.views) > 1:
        _facts.touch("main_view_first")
    return list(SESSION.views)


@main_only
def thisView() -> str:
    return SESSION.view
