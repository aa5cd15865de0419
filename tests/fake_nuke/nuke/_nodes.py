"""Fake nodes and groups: names, knobs, inputs, group context, knob callbacks, formats."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from . import _facts, _knobs
from ._core import SESSION, FakeRenderError, main_only, run_callbacks


class Format:
    """A format: size, the image-area box (x, y, r, t) and the pixel aspect."""

    def __init__(
        self,
        width: int,
        height: int,
        x: int = 0,
        y: int = 0,
        r: Optional[int] = None,
        t: Optional[int] = None,
        pixel_aspect: float = 1.0,
        name: str = "",
    ) -> None:
        self._w, self._h = int(width), int(height)
        self._box = (
            int(x),
            int(y),
            int(width if r is None else r),
            int(height if t is None else t),
        )
        self._pa = float(pixel_aspect)
        self._name = name

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h

    def x(self) -> int:
        return self._box[0]

    def y(self) -> int:
        return self._box[1]

    def r(self) -> int:
        return self._box[2]

    def t(self) -> int:
        return self._box[3]

    def pixelAspect(self) -> float:
        return self._pa

    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"Format({self._w}, {self._h}, box={self._box}, pa={self._pa})"


class Node:
    """Any node: a name, ordered knobs (built-in and user), inputs, a parent group."""

    _class = "Node"
    _max_inputs = 1

    def __init__(self, parent: Optional[Group] = None) -> None:
        self._knobs: Dict[str, _knobs.Knob] = {}
        self._inputs: List[Optional[Node]] = []
        self._parent = parent
        self._panel_open = False
        self._panel_knobs: List[str] = []  # what the open panel was built with
        self._changing = 0
        self._deleted = False
        for knob in self._builtin_knobs():
            self._attach(knob)
        if parent is not None:
            self._knobs["name"]._value = parent._unique_name(self._default_name())
            parent._children.append(self)

    def _builtin_knobs(self) -> List[_knobs.Knob]:
        return [
            _knobs.String_Knob("name"),
            _knobs.String_Knob("label"),
            _knobs.Boolean_Knob("disable"),
            _knobs.Boolean_Knob("selected"),
            _knobs.Int_Knob("xpos"),
            _knobs.Int_Knob("ypos"),
            _knobs.Int_Knob("tile_color"),
            _knobs.PythonKnob("knobChanged"),
            _knobs.PythonKnob("onCreate"),
        ]

    def _default_name(self) -> str:
        return self._class + "1"

    def _attach(self, knob: _knobs.Knob) -> None:
        knob._node = self
        self._knobs[knob.name()] = knob

    # identity
    def Class(self) -> str:
        return self._class

    @main_only
    def name(self) -> str:
        return str(self._knobs["name"]._value)

    @main_only
    def setName(self, name: str, uncollide: bool = False, updateExpressions: bool = False) -> None:
        if self._parent is not None:
            taken = {n.name() for n in self._parent._children if n is not self}
            if name in taken and not uncollide:
                raise ValueError(f"a node named {name} exists")
            name = self._parent._unique_name(name, exclude=self) if uncollide else name
        self._knobs["name"]._value = name

    @main_only
    def fullName(self) -> str:
        names = [self.name()]
        parent = self._parent
        while parent is not None and parent._parent is not None:
            names.append(parent.name())
            parent = parent._parent
        return ".".join(reversed(names))

    # knobs
    @main_only
    def knob(self, name: Any) -> Optional[_knobs.Knob]:
        if isinstance(name, int):
            return list(self._knobs.values())[name]
        return self._knobs.get(name)

    @main_only
    def knobs(self) -> Dict[str, _knobs.Knob]:
        return dict(self._knobs)

    def allKnobs(self) -> List[_knobs.Knob]:
        return list(self._knobs.values())

    @main_only
    def __getitem__(self, name: str) -> _knobs.Knob:
        knob = self._knobs.get(name)
        if knob is None:
            raise NameError(f"knob {name} does not exist")
        return knob

    @main_only
    def addKnob(self, knob: _knobs.Knob) -> None:
        if knob.name() in self._knobs:
            raise ValueError(f"knob {knob.name()} exists on {self.name()}")
        knob._user = True
        self._attach(knob)
        if self._panel_open:
            # Whether an open panel shows it before it is reopened is unverified: it does not.
            _facts.touch("add_knob_panel_open")

    @main_only
    def removeKnob(self, knob: _knobs.Knob) -> None:
        del self._knobs[knob.name()]
        knob._node = None

    def _knob_changed(self, knob: _knobs.Knob) -> None:
        """Nuke runs knobChanged for a node whose control panel is open. For a change made by
        code, not the artist, that is unverified before 17.1 (_facts 'knob_changed_by_code')."""
        if not self._panel_open or knob.name() in ("knobChanged", "onCreate"):
            return
        if not SESSION.artist:
            _facts.touch("knob_changed_by_code")
            if not _facts.variant("knob_changed_by_code"):
                return
        self._run_knob_changed(knob)

    def _run_knob_changed(self, knob: _knobs.Knob) -> None:
        if self._changing > 8:
            raise RecursionError(f"knobChanged recursion on {self.name()}")
        self._changing += 1
        try:
            self.run_python("knobChanged", knob)
            run_callbacks("knobChanged", self)
        finally:
            self._changing -= 1

    def run_python(self, knob_name: str, knob: Optional[_knobs.Knob] = None) -> None:
        """Run the Python source held in knob `knob_name` with thisNode()/thisKnob() set."""
        code = str(self._knobs[knob_name]._value)
        if not code.strip():
            return
        import nuke

        SESSION.this_node.append(self)
        SESSION.this_knob.append(knob)
        try:
            exec(compile(code, f"<{self._class}.{knob_name}>", "exec"), {"nuke": nuke})
        finally:
            SESSION.this_knob.pop()
            SESSION.this_node.pop()

    # panel
    @main_only
    def showControlPanel(self, forceFloat: bool = False) -> None:
        if not self._panel_open:
            self._panel_knobs = list(self._knobs)
        self._panel_open = True

    @main_only
    def hideControlPanel(self) -> None:
        self._panel_open = False
        self._panel_knobs = []

    def shown(self) -> bool:
        return self._panel_open

    # graph
    @main_only
    def input(self, index: int) -> Optional[Node]:
        return self._inputs[index] if index < len(self._inputs) else None

    @main_only
    def inputs(self) -> int:
        return len(self._inputs)

    def maxInputs(self) -> int:
        return self._max_inputs

    @main_only
    def setInput(self, index: int, node: Optional[Node]) -> bool:
        if index >= self.maxInputs():
            return False
        while len(self._inputs) <= index:
            self._inputs.append(None)
        changed = self.input(index) is not node
        self._inputs[index] = node
        while self._inputs and self._inputs[-1] is None:
            self._inputs.pop()
        if changed and self._panel_open:
            # Documented: knobChanged runs with a dummy knob when the inputs change. Its name,
            # 'inputChange', is not (_facts 'input_change_knob').
            _facts.touch("input_change_knob")
            self._run_knob_changed(_knobs.Knob("inputChange"))
        return True

    def connectInput(self, index: int, node: Optional[Node]) -> bool:
        return self.setInput(index, node)

    @main_only
    def dependencies(self, what: int = 0) -> List[Node]:
        return [n for n in self._inputs if n is not None]

    @main_only
    def dependent(self, what: int = 0, forceEvaluate: bool = True) -> List[Node]:
        group = self._parent
        if group is None:
            return []
        return [n for n in group._children if self in n._inputs]

    def parent(self) -> Optional[Group]:
        return self._parent

    @main_only
    def setXYpos(self, x: int, y: int) -> None:
        self._knobs["xpos"]._value, self._knobs["ypos"]._value = int(x), int(y)

    def xpos(self) -> int:
        return int(self._knobs["xpos"]._value)

    def ypos(self) -> int:
        return int(self._knobs["ypos"]._value)

    def autoplace(self) -> None:
        return None

    # images
    @main_only
    def format(self) -> Format:
        return self._format()

    def _format(self) -> Format:
        source = self.input(0)
        return source._format() if source is not None else root_format()

    def pixelAspect(self) -> float:
        return self._format().pixelAspect()

    def width(self) -> int:
        return self._format().width()

    def height(self) -> int:
        return self._format().height()

    @main_only
    def firstFrame(self) -> int:
        source = self.input(0)
        return source.firstFrame() if source is not None else root_node().firstFrame()

    @main_only
    def lastFrame(self) -> int:
        source = self.input(0)
        return source.lastFrame() if source is not None else root_node().lastFrame()

    def _render(self, frame: int) -> Any:
        """This node's output image at `frame` (a pass-through unless a subclass says more).

        Within one frame of a render each node is computed once (Nuke caches, too): nodes
        that read one input twice would otherwise cost exponentially. Ops never change an
        input image in place, so the same image may be handed to several of them."""
        memo = SESSION.render_memo
        if memo is None:
            return self._render_uncached(frame)
        key = (id(self), frame)
        if key not in memo:
            memo[key] = self._render_uncached(frame)
        return memo[key]

    def _render_uncached(self, frame: int) -> Any:
        if self._knobs["disable"].value():
            source = self.input(0)
            if source is None:
                raise FakeRenderError(f"{self.name()} is disabled and has no input")
            return source._render(frame)
        return self._process(frame)

    def _process(self, frame: int) -> Any:
        source = self.input(0)
        if source is None:
            from . import _pixels

            fmt = root_format()
            return _pixels.black(fmt.width(), fmt.height(), fmt.pixelAspect())
        return source._render(frame)

    def __repr__(self) -> str:
        return "<{} {}>".format(self._class, self._knobs["name"]._value)


class Group(Node):
    """A group of nodes; its inputs are its Input nodes, its output its Output node."""

    _class = "Group"

    def __init__(self, parent: Optional[Group] = None) -> None:
        self._children: List[Node] = []
        super().__init__(parent)

    def _unique_name(self, name: str, exclude: Optional[Node] = None) -> str:
        taken = {n.name() for n in self._children if n is not exclude}
        if name not in taken:
            return name
        stem = re.sub(r"\d+$", "", name)
        i = 1
        while f"{stem}{i}" in taken:
            i += 1
        return f"{stem}{i}"

    @main_only
    def begin(self) -> Group:
        SESSION.context.append(self)
        return self

    @main_only
    def end(self) -> None:
        if SESSION.context and SESSION.context[-1] is self:
            SESSION.context.pop()

    def __enter__(self) -> Group:
        return self.begin()

    def __exit__(self, *exc: Any) -> None:
        self.end()

    @main_only
    def nodes(self) -> List[Node]:
        return list(self._children)

    @main_only
    def node(self, name: str) -> Optional[Node]:
        for child in self._children:
            if child.name() == name:
                return child
        return None

    def _input_nodes(self) -> List[Node]:
        return sorted(
            (n for n in self._children if n.Class() == "Input"),
            key=lambda n: int(n._knobs["number"]._value),
        )

    def maxInputs(self) -> int:
        return len(self._input_nodes())

    def _output_node(self) -> Optional[Node]:
        for child in self._children:
            if child.Class() == "Output":
                return child
        return None

    @main_only
    def output(self) -> Optional[Node]:
        """The group's Output node (nuke.Group.output)."""
        return self._output_node()

    def _format(self) -> Format:
        out = self._output_node()
        return out._format() if out is not None else root_format()

    def _process(self, frame: int) -> Any:
        out = self._output_node()
        if out is None:
            raise FakeRenderError(f"group {self.name()} has no Output node")
        return out._render(frame)


class Gizmo(Group):
    """A gizmo: a Group whose insides come from its definition (a .gizmo file in Nuke). Its
    Class() is the gizmo's name, and a saved script keeps only its knobs."""

    def __init__(self, parent: Optional[Group], class_name: str, build: Any) -> None:
        self._gizmo_class = class_name
        super().__init__(parent)
        with self:
            build(self)

    def Class(self) -> str:
        return self._gizmo_class

    def _default_name(self) -> str:
        return self._gizmo_class + "1"


class Root(Group):
    """The script: frame range, format, proxy settings, the script's file name."""

    _class = "Root"

    def __init__(self) -> None:
        super().__init__(None)
        for knob in (
            _knobs.Int_Knob("first_frame"),
            _knobs.Int_Knob("last_frame"),
            _knobs.Format_Knob("format"),
            _knobs.Boolean_Knob("proxy"),
            _knobs.Double_Knob("proxy_scale"),
            _knobs.File_Knob("name"),
        ):
            self._attach(knob)
        self._knobs["first_frame"]._value, self._knobs["last_frame"]._value = 1, 100
        self._knobs["format"]._value = Format(2048, 1556, name="2K_Super_35(full-ap)")
        self._knobs["proxy_scale"]._value = [0.5]
        self._knobs["name"]._value = ""

    @main_only
    def name(self) -> str:
        return "Root"

    @main_only
    def firstFrame(self) -> int:
        return int(self._knobs["first_frame"]._value)

    @main_only
    def lastFrame(self) -> int:
        return int(self._knobs["last_frame"]._value)

    def _format(self) -> Format:
        return self._knobs["format"]._value  # type: ignore[no-any-return]

    @main_only
    def proxy(self) -> bool:
        return bool(self._knobs["proxy"]._value)

    @main_only
    def setProxy(self, value: bool) -> None:
        self._knobs["proxy"].setValue(value)

    @main_only
    def modified(self) -> bool:
        return bool(SESSION.modified)

    @main_only
    def setModified(self, modified: bool) -> None:
        SESSION.modified = bool(modified)


def root_node() -> Root:
    return SESSION.root  # type: ignore[no-any-return]


def root_format() -> Format:
    return root_node()._format()


def proxy_scale() -> float:
    """The scale the graph renders at: 1 unless proxy mode is on."""
    root = root_node()
    if not root._knobs["proxy"]._value:
        return 1.0
    return float(root._knobs["proxy_scale"]._value[0])


def current_group() -> Group:
    return SESSION.context[-1] if SESSION.context else root_node()
