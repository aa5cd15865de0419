"""Fake image nodes for the SAM2Matte Group's viewer views and per-object finishing: Dilate,
Blur, ChannelMerge, Multiply, Merge2, Premult, Rectangle (Switch is in _ops.py).

Knob names and meanings follow Foundry's reference guide (sources in _facts.DOCUMENTED). The
pixel maths is simple where Nuke's is refined (Blur is a box filter here, Nuke's default is
gaussian; Dilate is a square max/min): tests check what the plugin wires and sets, and that
the result moves the right way, not Nuke's exact kernels.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from . import _knobs, _pixels
from ._core import SESSION, FakeRenderError
from ._nodes import Group, Node
from ._ops import channel_exists

RGBA = ["rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"]
_SETS = {"rgb": RGBA[:3], "rgba": RGBA, "alpha": RGBA[3:], "none": []}


class _Colour(_knobs.Array_Knob):
    """An rgba colour (AColor_Knob), 1 by default."""

    _class = "AColor_Knob"
    _size = 4

    def __init__(self, name: str) -> None:
        super().__init__(name, name)
        self._value = [1.0] * 4


class _ChannelSetKnob(_knobs.Knob):
    """`channels` / `output`: all, none, rgb, rgba, alpha, a layer name or one channel."""

    _class = "ChannelMask_Knob"

    def __init__(self, name: str, default: str) -> None:
        super().__init__(name, name)
        self._value = default

    def _coerce(self, value: Any) -> Any:
        text = str(value)
        known = text in _SETS or text == "all" or text in SESSION.layers
        if not known and not channel_exists(text):
            raise ValueError(f"unknown channels {text!r} (create its layer with nuke.Layer)")
        return text

    def channels(self, image: _pixels.Image) -> List[str]:
        text = str(self._value)
        if text == "all":
            return sorted(image.planes)
        if text in _SETS:
            return list(_SETS[text])
        if text in SESSION.layers:
            return list(SESSION.layers[text])
        return [text]


def _value_at(node: Node, knob: str, frame: int, index: int = 0) -> float:
    return float(node._knobs[knob]._element(frame, index))  # type: ignore[attr-defined]


class _PerChannel(Node):
    """A one-input node changing the planes its `channels` knob names."""

    _default_channels = "all"

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        self._attach(_ChannelSetKnob("channels", self._default_channels))
        self._extra_knobs()

    def _extra_knobs(self) -> None:
        self._attach(_knobs.Double_Knob("size"))

    def _process(self, frame: int) -> Any:
        image = super()._process(frame)
        out = image.copy()
        for channel in self._knobs["channels"].channels(image):  # type: ignore[attr-defined]
            out.planes[channel] = self._plane(image, image.plane(channel), frame)
        return out

    def _plane(self, image: _pixels.Image, plane: List[float], frame: int) -> List[float]:
        raise NotImplementedError


class Dilate(_PerChannel):
    """Erode (fast): size > 0 grows light pixels (square max), < 0 shrinks them (min)."""

    _class = "Dilate"

    def _plane(self, image: _pixels.Image, plane: List[float], frame: int) -> List[float]:
        size = _value_at(self, "size", frame)
        radius = round(abs(size))
        if radius == 0:
            return list(plane)
        pick = max if size > 0 else min
        return _window(plane, image.width, image.height, radius, pick)


class Blur(_PerChannel):
    """A box blur of radius `size` (Nuke defaults to gaussian; see the module doc)."""

    _class = "Blur"

    def _plane(self, image: _pixels.Image, plane: List[float], frame: int) -> List[float]:
        radius = round(_value_at(self, "size", frame))
        if radius <= 0:
            return list(plane)
        return _window(plane, image.width, image.height, radius, lambda vs: sum(vs) / len(vs))


class Multiply(_PerChannel):
    """value (one or four numbers, per rgba channel) times the `channels`."""

    _class = "Multiply"

    def _extra_knobs(self) -> None:
        self._attach(_Colour("value"))

    def _plane(self, image: _pixels.Image, plane: List[float], frame: int) -> List[float]:
        raise AssertionError("Multiply overrides _process")

    def _process(self, frame: int) -> Any:
        image = Node._process(self, frame)
        out = image.copy()
        for channel in self._knobs["channels"].channels(image):  # type: ignore[attr-defined]
            suffix = channel.rpartition(".")[2]
            index = {"red": 0, "green": 1, "blue": 2}.get(suffix, 3)
            factor = _value_at(self, "value", frame, index)
            out.planes[channel] = [v * factor for v in image.plane(channel)]
        return out


class Premult(Node):
    """rgb times rgba.alpha."""

    _class = "Premult"

    def _process(self, frame: int) -> Any:
        image = super()._process(frame)
        out = image.copy()
        alpha = image.plane("rgba.alpha")
        for channel in RGBA[:3]:
            out.planes[channel] = [v * a for v, a in zip(image.plane(channel), alpha)]
        return out


class ChannelMerge(Node):
    """output = operation(A's channel, B's channel); everything else from B (input 0 here)."""

    _class = "ChannelMerge"
    _max_inputs = 2

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        for name in ("A", "B", "output"):
            self._attach(_ChannelSetKnob(name, "rgba.alpha"))
        self._attach(_knobs.Enumeration_Knob("operation", "operation", ["union", "max", "min"]))

    def _process(self, frame: int) -> Any:
        b_node = self.input(0)
        a_node = self.input(1) or b_node
        if b_node is None or a_node is None:
            raise FakeRenderError(f"{self.name()}: input B is not connected")
        b, a = b_node._render(frame), a_node._render(frame)
        op = self._knobs["operation"].value()
        combine = {"max": max, "min": min, "union": lambda x, y: x + y - x * y}[op]
        pa = a.plane(str(self._knobs["A"]._value))
        pb = b.plane(str(self._knobs["B"]._value))
        out = b.copy()
        out.planes[str(self._knobs["output"]._value)] = [combine(x, y) for x, y in zip(pa, pb)]
        return out


class Merge2(Node):
    """operation over (only): A + B (1 - a) on rgba, mixed with B by `mix`; B is input 0."""

    _class = "Merge2"
    _max_inputs = 2

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        self._attach(_knobs.Enumeration_Knob("operation", "operation", ["over"]))
        mix = _knobs.Double_Knob("mix")
        mix._value = [1.0]
        self._attach(mix)

    def _process(self, frame: int) -> Any:
        b_node, a_node = self.input(0), self.input(1)
        if b_node is None:
            raise FakeRenderError(f"{self.name()}: input B is not connected")
        b = b_node._render(frame)
        if a_node is None:
            return b
        a = a_node._render(frame)
        mix = _value_at(self, "mix", frame)
        alpha = a.plane("rgba.alpha")
        out = b.copy()
        for channel in RGBA:
            pa, pb = a.plane(channel), b.plane(channel)
            over = [x + y * (1 - k) for x, y, k in zip(pa, pb, alpha)]
            out.planes[channel] = [y + mix * (o - y) for o, y in zip(over, pb)]
        return out


class Rectangle(Node):
    """A solid rgba `color` drawn over the input inside `area` (x, y, r, t)."""

    _class = "Rectangle"

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        self._attach(_knobs.BBox_Knob("area"))
        self._attach(_Colour("color"))

    def _process(self, frame: int) -> Any:
        image = super()._process(frame)
        x0, y0, x1, y1 = (round(_value_at(self, "area", frame, i)) for i in range(4))
        out = image.copy()
        for index, channel in enumerate(RGBA):
            plane = list(image.plane(channel))
            value = _value_at(self, "color", frame, index)
            for y in range(max(0, y0), min(image.height, y1)):
                for x in range(max(0, x0), min(image.width, x1)):
                    plane[y * image.width + x] = value
            out.planes[channel] = plane
        return out


def _window(
    plane: Sequence[float], width: int, height: int, radius: int, reduce: Any
) -> List[float]:
    """reduce() over the (2r+1)^2 window around every pixel, clamped at the edges."""
    out = []
    for y in range(height):
        rows = range(max(0, y - radius), min(height, y + radius + 1))
        for x in range(width):
            cols = range(max(0, x - radius), min(width, x + radius + 1))
            out.append(reduce([plane[r * width + c] for r in rows for c in cols]))
    return out


CLASSES = (Dilate, Blur, Multiply, Premult, ChannelMerge, Merge2, Rectangle)  # Switch: _ops.py
