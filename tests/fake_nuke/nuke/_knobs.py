"""Fake knobs: the classes and methods of nuke's knobs that the plugin touches, with Nuke's quirks.

Quirks kept on purpose, so the plugin is tested against them:
- Array_Knob.value() without an index returns ONE float when all elements are equal, a list
  otherwise (read elements with an index);
- setting a knob runs the node's knobChanged code when the node's panel is open, like Nuke;
- every knob change is an undo step and marks the script modified, unless nuke.Undo is disabled
  (documented: nuke.Undo.disable); the modified flag is the Root's (Root.modified/setModified);
- the INVISIBLE flag hides a knob in the panel and in the Viewer (documented); setVisible(False)
  hides it in the panel only: whether it hides a Viewer handle is unverified (see _facts.py), so
  the fake takes the pessimistic side and keeps drawing the handle (`_fake.viewer_handles`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from . import _expr, _facts
from ._core import SESSION, main_only, record_edit

# Knob flags (values as in Nuke; only their identity matters here).
DISABLED = 0x80
NO_ANIMATION = 0x100
INVISIBLE = 0x400
STARTLINE = 0x1000
ENDLINE = 0x2000
HIDDEN = 0x40000


class Knob:
    """A knob holding one value."""

    _class = "Knob"

    def __init__(self, name: str, label: Optional[str] = None, *_args: Any) -> None:
        self._name = name
        self._label = name if label is None else label
        self._value: Any = self._default()
        self._expression: Optional[str] = None  # a knob expression ({{...}} in a script)
        self._flags = {STARTLINE}
        self._tooltip = ""
        self._node: Any = None
        self._user = False
        self._panel_hidden = False  # setVisible(False): the panel only (see the module doc)

    def _default(self) -> Any:
        return ""

    # identity and presentation
    def Class(self) -> str:
        return self._class

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    @main_only
    def setLabel(self, label: str) -> None:
        self._label = label

    def tooltip(self) -> str:
        return self._tooltip

    @main_only
    def setTooltip(self, text: str) -> None:
        self._tooltip = text

    @main_only
    def setFlag(self, flag: int) -> None:
        self._flags.add(flag)

    @main_only
    def clearFlag(self, flag: int) -> None:
        self._flags.discard(flag)

    def getFlag(self, flag: int) -> bool:
        return flag in self._flags

    @main_only
    def setVisible(self, visible: bool) -> None:
        self._panel_hidden = not visible
        if not visible and self._class in ("XY_Knob", "BBox_Knob"):
            _facts.touch("setVisible_hides_viewer_handle")

    def visible(self) -> bool:
        """Shown in the panel."""
        return INVISIBLE not in self._flags and not self._panel_hidden

    def drawn_in_viewer(self) -> bool:
        """What the fake assumes Nuke draws: only the documented INVISIBLE flag hides it."""
        return INVISIBLE not in self._flags

    @main_only
    def setEnabled(self, enabled: bool) -> None:
        if enabled:
            self._flags.discard(DISABLED)
        else:
            self._flags.add(DISABLED)

    def enabled(self) -> bool:
        return DISABLED not in self._flags

    def node(self) -> Any:
        return self._node

    # values
    @main_only
    def value(self, *_args: Any) -> Any:
        return self._value

    def getValue(self, *args: Any) -> Any:
        return self.value(*args)

    @main_only
    def setValue(self, value: Any, *_args: Any) -> bool:
        self._value = self._coerce(value)
        self._changed()
        return True

    def _coerce(self, value: Any) -> Any:
        return value

    def _changed(self) -> None:
        if self._node is not None:
            record_edit(self._node, self._name)
            self._node._knob_changed(self)

    # expressions
    @main_only
    def setExpression(self, expression: str, channel: int = -1, view: Any = None) -> bool:
        self._expression = str(expression)
        self._changed()
        return True

    def hasExpression(self, index: int = -1) -> bool:
        return self._expression is not None

    def isAnimated(self, index: int = -1) -> bool:
        return self._expression is not None

    def _evaluated(self) -> Optional[float]:
        """The expression's value now, or None when the knob has no expression."""
        if self._expression is None:
            return None
        from . import _expr, _facts

        if "$gui" in self._expression and SESSION.gui and SESSION.rendering:
            _facts.touch("gui_during_gui_session_render")
        return _expr.evaluate(self._expression, self, SESSION.frame)

    # persistence (the fake's script format, not Nuke's)
    def _save(self) -> Any:
        return self._value

    def _load(self, data: Any) -> None:
        self._value = data

    def _definition(self) -> Dict[str, Any]:
        return {
            "class": self._class,
            "name": self._name,
            "label": self._label,
            "flags": sorted(self._flags),
            "tooltip": self._tooltip,
        }


class String_Knob(Knob):
    _class = "String_Knob"

    def __init__(self, name: str, label: Optional[str] = None, value: str = "") -> None:
        super().__init__(name, label)
        self._value = value

    def _coerce(self, value: Any) -> Any:
        return str(value)

    def getText(self) -> str:
        return str(self.value())


class EvalString_Knob(String_Knob):
    _class = "EvalString_Knob"


class File_Knob(EvalString_Knob):
    _class = "File_Knob"

    @main_only
    def evaluate(self) -> str:
        """The text with its TCL expanded (EvalString_Knob.evaluate in Nuke)."""
        from ._tcl import expand

        return expand(str(self._value), self._node)

    def getEvaluatedValue(self) -> str:
        return self.evaluate()


class Multiline_Eval_String_Knob(EvalString_Knob):
    _class = "Multiline_Eval_String_Knob"


class PythonKnob(String_Knob):
    """knobChanged / onCreate: Python source run by the node."""

    _class = "PythonKnob"


class Text_Knob(Knob):
    _class = "Text_Knob"

    def __init__(self, name: str, label: Optional[str] = None, text: str = "") -> None:
        super().__init__(name, label)
        self._value = text


class Tab_Knob(Knob):
    _class = "Tab_Knob"


class Script_Knob(Knob):
    """A button running Python (PyScript_Knob) with thisNode() set to its node."""

    _class = "Script_Knob"

    def __init__(self, name: str, label: Optional[str] = None, command: str = "") -> None:
        super().__init__(name, label)
        self._value = command

    def command(self) -> str:
        return str(self._value)

    @main_only
    def setCommand(self, command: str) -> None:
        self._value = command

    @main_only
    def execute(self) -> None:
        node = self._node
        SESSION.this_node.append(node)
        SESSION.this_knob.append(self)
        try:
            exec(compile(self.command(), f"<knob {self._name}>", "exec"), {"nuke": _nuke()})
        finally:
            SESSION.this_knob.pop()
            SESSION.this_node.pop()


class PyScript_Knob(Script_Knob):
    _class = "PyScript_Knob"


class _Action(Knob):
    """A built-in button whose effect is a method of its node (Read's reload)."""

    _class = "PyScript_Knob"

    def __init__(self, name: str, action: Any) -> None:
        super().__init__(name, name)
        self._action = action

    @main_only
    def execute(self) -> None:
        self._action()

    def _save(self) -> Any:
        return None

    def _load(self, data: Any) -> None:
        return None


class _Scalar(Knob):
    """One number (Nuke derives these from Array_Knob): an expression overrides the value."""

    _type: Any = float

    def _coerce(self, value: Any) -> Any:
        return self._type(value)

    @main_only
    def value(self, *_args: Any) -> Any:
        evaluated = self._evaluated()
        return self._value if evaluated is None else self._type(evaluated)

    @main_only
    def getValueAt(self, frame: float, index: int = 0, *_args: Any) -> float:
        return float(self.value())


class Boolean_Knob(_Scalar):
    _class = "Boolean_Knob"
    _type = bool

    def __init__(self, name: str, label: Optional[str] = None, value: bool = False) -> None:
        super().__init__(name, label)
        self._value = bool(value)

    def _default(self) -> Any:
        return False


class Int_Knob(_Scalar):
    _class = "Int_Knob"
    _type = int

    def _default(self) -> Any:
        return 0


class Enumeration_Knob(Knob):
    """value() is the current item's text; getValue() its index (a float, as in Nuke)."""

    _class = "Enumeration_Knob"

    def __init__(self, name: str, label: Optional[str] = None, values: Sequence[str] = ()) -> None:
        super().__init__(name, label)
        self._values: List[str] = [str(v) for v in values]
        self._value = 0

    def _default(self) -> Any:
        return 0

    @main_only
    def value(self, *_args: Any) -> Any:
        if not self._values:
            return ""
        return self._values[min(self._index(), len(self._values) - 1)]

    @main_only
    def getValue(self, *_args: Any) -> Any:
        return float(self._index())

    def _index(self) -> int:
        evaluated = self._evaluated()
        return int(self._value) if evaluated is None else int(evaluated)

    def _coerce(self, value: Any) -> Any:
        if isinstance(value, str):
            if value not in self._values:
                raise ValueError(f"Illegal value {value!r} for {self._name}")
            return self._values.index(value)
        return int(value)

    def values(self) -> List[str]:
        return list(self._values)

    @main_only
    def setValues(self, values: Sequence[str]) -> None:
        current = self.value()
        self._values = [str(v) for v in values]
        self._value = self._values.index(current) if current in self._values else 0

    def numValues(self) -> int:
        return len(self._values)

    def enumName(self, index: int) -> str:
        return self._values[index]

    def _save(self) -> Any:
        return self.value()

    def _load(self, data: Any) -> None:
        self._value = self._values.index(data) if data in self._values else 0

    def _definition(self) -> Dict[str, Any]:
        out = super()._definition()
        out["values"] = list(self._values)
        return out


class Array_Knob(Knob):
    """Several floats, each optionally keyed per frame."""

    _class = "Array_Knob"
    _size = 1

    def __init__(self, name: str, label: Optional[str] = None, *_args: Any) -> None:
        super().__init__(name, label)
        self._value = [0.0] * self._size
        self._keys: List[Dict[float, float]] = [{} for _ in range(self._size)]
        self._exprs: List[Optional[str]] = [None] * self._size

    def _default(self) -> Any:
        return [0.0] * self._size

    @main_only
    def value(self, index: Optional[int] = None, *_args: Any) -> Any:
        return self._at(SESSION.frame, index)

    @main_only
    def getValue(self, index: Optional[int] = None, *_args: Any) -> Any:
        return self._at(SESSION.frame, index)

    @main_only
    def getValueAt(self, frame: float, index: Optional[int] = None, *_args: Any) -> Any:
        return self._at(frame, index)

    def _at(self, frame: float, index: Optional[int]) -> Any:
        values = [self._element(frame, i) for i in range(self._size)]
        if index is not None:
            return values[index]
        # Nuke's quirk: one float when all elements are equal.
        return values[0] if len(set(values)) == 1 else values

    def _element(self, frame: float, i: int) -> float:
        if self._exprs[i] is not None:
            return _expr.evaluate(str(self._exprs[i]), self, frame)
        keys = self._keys[i]
        if not keys:
            return float(self._value[i])
        if frame in keys:
            return keys[frame]
        before = [k for k in keys if k < frame]
        after = [k for k in keys if k > frame]
        if not before:
            return keys[min(after)]
        if not after:
            return keys[max(before)]
        a, b = max(before), min(after)
        return keys[a] + (keys[b] - keys[a]) * (frame - a) / (b - a)

    @main_only
    def setValue(self, value: Any, index: Optional[int] = None, *_args: Any) -> bool:
        if isinstance(value, (list, tuple)):
            if len(value) != self._size:
                raise ValueError(f"{self._name} takes {self._size} values")
            self._value = [float(v) for v in value]
            self._keys = [{} for _ in range(self._size)]
        elif index is None:
            self._value = [float(value)] * self._size
            self._keys = [{} for _ in range(self._size)]
        else:
            self._value[index] = float(value)
            self._keys[index] = {}
        self._changed()
        return True

    @main_only
    def setValueAt(self, value: float, frame: float, index: int = 0, *_args: Any) -> bool:
        self._keys[index][float(frame)] = float(value)
        self._changed()
        return True

    def isAnimated(self, index: int = -1) -> bool:
        return any(self._keys) if index < 0 else bool(self._keys[index])

    def isKeyAt(self, frame: float, index: int = 0, *_args: Any) -> bool:
        return float(frame) in self._keys[index]

    @main_only
    def setExpression(self, expression: str, index: int = -1, *_args: Any) -> bool:
        _expr.evaluate(expression, self, SESSION.frame)  # refuse what the fake cannot model
        for i in range(self._size) if index < 0 else [index]:
            self._exprs[i] = expression
        self._changed()
        return True

    def hasExpression(self, index: int = -1) -> bool:
        return any(e is not None for e in self._exprs) if index < 0 else bool(self._exprs[index])

    @main_only
    def clearAnimated(self, index: int = -1) -> bool:
        self._keys = [{} for _ in range(self._size)]
        return True

    def arraySize(self) -> int:
        return self._size

    def _save(self) -> Any:
        return {
            "value": list(self._value),
            "keys": [sorted(k.items()) for k in self._keys],
            "expressions": list(self._exprs),
        }

    def _load(self, data: Any) -> None:
        self._value = [float(v) for v in data["value"]]
        self._keys = [{float(f): float(v) for f, v in keys} for keys in data["keys"]]
        self._exprs = list(data.get("expressions") or [None] * self._size)


class Double_Knob(Array_Knob):
    _class = "Double_Knob"


class _PixelKnob(Array_Knob):
    """XY / BBox: the fake's values are full-resolution pixels of the format, x in pixel
    columns; on an anamorphic format or in proxy mode that is unverified (_facts). Recorded
    for user knobs (a node's own knobs, e.g. a Crop's box, give its format: no recursion)."""

    def _at(self, frame: float, index: Optional[int]) -> Any:
        node = self._node
        if node is not None and self._user:
            from . import _nodes

            if _nodes.proxy_scale() != 1.0 or node._format().pixelAspect() != 1.0:
                _facts.touch("xy_pixel_aspect")
        return super()._at(frame, index)


class XY_Knob(_PixelKnob):
    _class = "XY_Knob"
    _size = 2

    def x(self) -> float:
        return float(self.value(0))

    def y(self) -> float:
        return float(self.value(1))


class BBox_Knob(_PixelKnob):
    _class = "BBox_Knob"
    _size = 4

    def x(self) -> float:
        return float(self.value(0))

    def y(self) -> float:
        return float(self.value(1))

    def r(self) -> float:
        return float(self.value(2))

    def t(self) -> float:
        return float(self.value(3))

    def toDict(self) -> Dict[str, float]:
        return {"x": self.x(), "y": self.y(), "r": self.r(), "t": self.t()}


class Format_Knob(Knob):
    _class = "Format_Knob"

    def _save(self) -> Any:
        f = self._value
        return [f.width(), f.height(), f.x(), f.y(), f.r(), f.t(), f.pixelAspect()]

    def _load(self, data: Any) -> None:
        from ._nodes import Format

        w, h, x, y, r, t, pa = data
        self._value = Format(w, h, x, y, r, t, pa)


def _nuke() -> Any:
    import nuke

    return nuke


KNOB_CLASSES = {
    cls._class: cls
    for cls in (
        String_Knob,
        EvalString_Knob,
        File_Knob,
        Multiline_Eval_String_Knob,
        PythonKnob,
        Text_Knob,
        Tab_Knob,
        PyScript_Knob,
        Boolean_Knob,
        Int_Knob,
        Enumeration_Knob,
        Double_Knob,
        XY_Knob,
        BBox_Knob,
        Format_Knob,
    )
}
