"""Fake image nodes with real pixels: Input, Output, Read, Write, Crop, Copy, Position, Dot...

Read and Write go through real EXR files (the pure-Python codec in _exr.py). Read caches what it
read per frame until its `reload` button is pressed, like Nuke, so a plugin that forgets to
reload after new files land shows stale frames in its tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from . import _exr, _facts, _knobs, _pixels
from ._core import SESSION, FakeRenderError, check_main, run_callbacks
from ._nodes import Format, Group, Node, proxy_scale, root_format

# A nuke-default config's names; the first is the file type's default (EXR: linear).
READ_COLORSPACES = ["default (linear)", "linear", "sRGB", "rec709", "Cineon", "Gamma2.2"]
STANDARD_CHANNELS = {"rgba.red", "rgba.green", "rgba.blue", "rgba.alpha", "none"}


def channel_exists(name: str) -> bool:
    if name in STANDARD_CHANNELS:
        return True
    return any(name in chans for chans in SESSION.layers.values())


def to_printf(pattern: str) -> str:
    """'/a/matte.####.exr' -> '/a/matte.%04d.exr' (how nuke.filename shows sequences)."""
    return re.sub(r"#+", lambda m: f"%0{len(m.group(0))}d", pattern)


def frame_path(pattern: str, frame: int, view: Optional[str] = None) -> str:
    """'/a/matte.####.exr' or '/a/matte.%04d.exr' at a frame ('%04d' % -5 == '-005', as Nuke);
    %V and %v become the view's name and initial."""
    pattern = to_printf(pattern)
    path = re.sub(r"%0?(\d*)d", lambda m: ("%0" + (m.group(1) or "1") + "d") % frame, pattern)
    if view is not None:
        path = path.replace("%V", view).replace("%v", view[:1])
    return path


def os_path(node: Node, frame: int) -> str:
    """The file `node` reads or writes at `frame` in the current view, as the OS sees it: the
    file knob's TCL expanded, frame and view put in, then the filename filters (Nuke runs them
    with the node as thisNode, so class-specific filters apply)."""
    from ._api import filenameFilter
    from ._tcl import expand

    text = frame_path(expand(str(node._knobs["file"]._value), node), frame, SESSION.view)
    SESSION.this_node.append(node)
    try:
        return filenameFilter(text)
    finally:
        SESSION.this_node.pop()


class _InputNumber(_knobs.Int_Knob):
    """An Input's hidden `number`: the Group input it stands for, given in creation order
    (unverified, _facts 'input_number_knob'); recorded whenever it is read."""

    def value(self, *args: Any) -> Any:
        _facts.touch("input_number_knob")
        return super().value(*args)


class Input(Node):
    _class = "Input"
    _max_inputs = 0

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        number = _InputNumber("number")
        if parent is not None:
            number._value = len([n for n in parent._children if n.Class() == "Input"]) - 1
        self._attach(number)

    def _default_name(self) -> str:
        return "Input1"

    def _source(self) -> Optional[Node]:
        group = self._parent
        if group is None:
            return None
        _facts.touch("input_number_knob")  # `number` is the Group input it stands for
        return group.input(int(self._knobs["number"]._value))

    def _format(self) -> Format:
        source = self._source()
        return source._format() if source is not None else root_format()

    def firstFrame(self) -> int:
        source = self._source()
        return source.firstFrame() if source is not None else super().firstFrame()

    def lastFrame(self) -> int:
        source = self._source()
        return source.lastFrame() if source is not None else super().lastFrame()

    def _process(self, frame: int) -> Any:
        source = self._source()
        if source is None:
            fmt = root_format()
            return _pixels.black(fmt.width(), fmt.height(), fmt.pixelAspect())
        return source._render(frame)


class Output(Node):
    _class = "Output"


class Dot(Node):
    _class = "Dot"


class NoOp(Node):
    _class = "NoOp"


class _ReadColorspace(_knobs.Enumeration_Knob):
    """A Read's `colorspace`: its first item stands for the file type's default, and what
    value() says for it is unverified: 'default (linear)', or with the variant
    'read_default_names_space' off, a bare 'default'."""

    def value(self, *args: Any) -> Any:
        if self._index() == 0:
            _facts.touch("read_colorspace_default_text")
            if not _facts.variant("read_default_names_space"):
                return "default"
        return super().value(*args)


class _ReadOnError(_knobs.Enumeration_Knob):
    """`on_error`: an expression picks an item by index (documented); which item each index is
    (error 0, black 1, ...) is not (_facts 'read_on_error_items')."""

    def _index(self) -> int:
        if self._expression is not None:
            _facts.touch("read_on_error_items")
        return super()._index()


class Read(Node):
    """Reads an EXR sequence; `on_error` decides what a missing or bad frame gives.

    `colorspace`, `premultiplied`, `frame_mode` and `frame` are there to be read, but the fake
    neither converts colour (files are read as they are) nor remaps frames: the plugin never
    relies on their effect (a Read that converts or remaps is rendered, plate_files.py).
    """

    _class = "Read"
    _max_inputs = 0

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        for knob in (
            _knobs.File_Knob("file"),
            _knobs.Int_Knob("first"),
            _knobs.Int_Knob("last"),
            _knobs.Enumeration_Knob("before", "before", ["hold", "loop", "bounce", "black"]),
            _knobs.Enumeration_Knob("after", "after", ["hold", "loop", "bounce", "black"]),
            _ReadOnError(
                "on_error", "missing frames", ["error", "black", "checkerboard", "nearest frame"]
            ),
            _knobs.Boolean_Knob("raw"),
            _ReadColorspace("colorspace", "colorspace", READ_COLORSPACES),
            _knobs.Boolean_Knob("premultiplied"),
            _knobs.Enumeration_Knob("frame_mode", "frame", ["expression", "start at", "offset"]),
            _knobs.String_Knob("frame"),
            _knobs._Action("reload", self._reload),
        ):
            self._attach(knob)
        self._knobs["first"]._value, self._knobs["last"]._value = 1, 1
        self._cache: Dict[Tuple[str, int, str], Any] = {}
        self.reloads = 0
        self.files_read: List[str] = []

    def _reload(self) -> None:
        self._cache.clear()
        self.reloads += 1

    def firstFrame(self) -> int:
        return int(self._knobs["first"]._value)

    def lastFrame(self) -> int:
        return int(self._knobs["last"]._value)

    def _format(self) -> Format:
        for frame in range(self.firstFrame(), self.lastFrame() + 1):
            path = Path(os_path(self, frame))
            if path.is_file():
                image = _exr.decode(path.read_bytes())
                return Format(image.width, image.height, pixel_aspect=image.pixel_aspect)
        return root_format()

    def _process(self, frame: int) -> Any:
        pattern = str(self._knobs["file"]._value)
        key = (pattern, frame, SESSION.view)
        if key not in self._cache:
            self._cache[key] = self._read(frame)
        image = self._cache[key]
        if isinstance(image, FakeRenderError):
            raise image
        scale = proxy_scale()
        return _pixels.downscale(image, scale) if scale != 1.0 else image.copy()

    def _read(self, frame: int) -> Any:
        first, last = self.firstFrame(), self.lastFrame()
        if not first <= frame <= last:
            side = self._knobs["before" if frame < first else "after"].value()
            if side == "black":
                return self._black()
            frame = first if frame < first else last
        path = os_path(self, frame)
        try:
            with open(path, "rb") as fh:
                blob = fh.read()
            self.files_read.append(path)
            return _pixels.from_exr(_exr.decode(blob))
        except (OSError, _exr.ExrError) as exc:
            if self._knobs["on_error"].value() == "error":
                return FakeRenderError(f"{self.name()}: Read error: {path}: {exc}")
            return self._black()

    def _black(self) -> Any:
        fmt = self._format()
        return _pixels.black(fmt.width(), fmt.height(), fmt.pixelAspect())


class Write(Node):
    """Writes its input as EXR when executed (nuke.execute)."""

    _class = "Write"

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        for knob in (
            _knobs.File_Knob("file"),
            _knobs.Enumeration_Knob("file_type", "file type", ["", "exr", "png", "tiff", "jpeg"]),
            _knobs.Enumeration_Knob("datatype", "datatype", ["16 bit half", "32 bit float"]),
            _knobs.Enumeration_Knob(
                "compression",
                "compression",
                ["none", "Zip (1 scanline)", "Zip (16 scanlines)", "PIZ Wavelet (32 scanlines)"],
            ),
            _knobs.Enumeration_Knob("channels", "channels", ["rgb", "rgba", "alpha", "all"]),
            _knobs.Boolean_Knob("raw"),
            _knobs.Boolean_Knob("create_directories"),
            _knobs.String_Knob("views"),  # empty: every view of the script
        ):
            self._attach(knob)
        self._knobs["compression"]._value = 2

    def views_to_render(self) -> List[str]:
        chosen = str(self._knobs["views"]._value).split()
        if chosen:
            _facts.touch("write_views_knob")
            return [v for v in SESSION.views if v in chosen]
        return list(SESSION.views)

    def write_frame(self, frame: int, several_views: bool = False) -> str:
        if self._knobs["file_type"].value() != "exr":
            raise FakeRenderError(f"{self.name()}: the fake Write only writes exr")
        image = self._process(frame)
        chans = self._channels(image)
        pixel = _exr.HALF if self._knobs["datatype"].value() == "16 bit half" else _exr.FLOAT
        comp = {"none": _exr.NONE, "Zip (1 scanline)": _exr.ZIPS, "Zip (16 scanlines)": _exr.ZIP}
        compression = comp.get(self._knobs["compression"].value())
        if compression is None:
            raise FakeRenderError(f"the fake Write cannot compress with {compression}")
        blob = _exr.encode(
            image.width,
            image.height,
            _pixels.to_exr_planes(image, chans),
            pixel,
            compression,
            image.pixel_aspect,
        )
        text = str(self._knobs["file"]._value)
        if several_views and "%V" not in text and "%v" not in text:
            # Nuke writes a multi-view EXR then; the fake's codec has no multi-part files.
            raise FakeRenderError(
                f"{self.name()}: several views into one file without %V (not modelled)"
            )
        path = Path(os_path(self, frame))
        if not path.parent.is_dir():
            if not self._knobs["create_directories"]._value:
                raise FakeRenderError(f"{self.name()}: folder {path.parent} does not exist")
            path.parent.mkdir(parents=True)
        path.write_bytes(blob)
        return str(path)

    def _channels(self, image: Any) -> List[str]:
        which = self._knobs["channels"].value()
        if which == "all":
            return sorted(image.planes) or ["rgba.red", "rgba.green", "rgba.blue"]
        return {
            "rgb": ["rgba.red", "rgba.green", "rgba.blue"],
            "rgba": ["rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"],
            "alpha": ["rgba.alpha"],
        }[which]


class Switch(Node):
    """Shows input `which` (documented), clamped to the inputs there are."""

    _class = "Switch"
    _max_inputs = 16

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        self._attach(_knobs.Double_Knob("which"))

    def _process(self, frame: int) -> Any:
        count = len(self._inputs)
        if count == 0:
            raise FakeRenderError(f"{self.name()} has no inputs")
        index = max(0, min(count - 1, int(self._knobs["which"]._element(frame, 0))))
        source = self._inputs[index]
        if source is None:
            raise FakeRenderError(f"{self.name()}: input {index} is not connected")
        return source._render(frame)


class TimeOffset(Node):
    """Shifts its input in time: output frame f is input frame f - time_offset."""

    _class = "TimeOffset"

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        self._attach(_knobs.Int_Knob("time_offset"))

    def _process(self, frame: int) -> Any:
        return super()._process(frame - int(self._knobs["time_offset"].value()))


class Crop(Node):
    _class = "Crop"

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        for knob in (
            _knobs.BBox_Knob("box"),
            _knobs.Boolean_Knob("reformat"),
            _knobs.Boolean_Knob("crop", "black outside", True),
        ):
            self._attach(knob)

    def _box(self) -> List[float]:
        return [float(self._knobs["box"]._element(SESSION.frame, i)) for i in range(4)]

    def _format(self) -> Format:
        if not self._knobs["reformat"]._value:
            return super()._format()
        x, y, r, t = self._box()
        return Format(int(r - x), int(t - y), pixel_aspect=super()._format().pixelAspect())

    def _process(self, frame: int) -> Any:
        image = super()._process(frame)
        scale = proxy_scale()  # knob values are full-res; proxy scales them
        box = [v * scale for v in self._box()]
        return _pixels.crop(image, box, bool(self._knobs["reformat"]._value))


class Position(Node):
    _class = "Position"

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        self._attach(_knobs.XY_Knob("translate"))

    def _process(self, frame: int) -> Any:
        image = super()._process(frame)
        knob = self._knobs["translate"]
        scale = proxy_scale()
        dx, dy = (round(knob._element(frame, i) * scale) for i in range(2))
        return _pixels.translate(image, dx, dy) if (dx or dy) else image


class Copy(Node):
    """Input 0 is B (passes through), input 1 is A (copied from)."""

    _class = "Copy"
    _max_inputs = 2

    def __init__(self, parent: Optional[Group] = None) -> None:
        super().__init__(parent)
        for i in range(4):
            self._attach(_ChannelKnob(f"from{i}"))
            self._attach(_ChannelKnob(f"to{i}"))

    def _process(self, frame: int) -> Any:
        b_node, a_node = self.input(0), self.input(1)
        if a_node is None:
            raise FakeRenderError(f"{self.name()}: input A is not connected")
        b = b_node._render(frame) if b_node is not None else _black_root()
        a = a_node._render(frame)
        pairs = []
        for i in range(4):
            src, dst = self._knobs[f"from{i}"]._value, self._knobs[f"to{i}"]._value
            if src != "none" and dst != "none":
                pairs.append((src, dst))
        return _pixels.copy_channels(b, a, pairs)


class _ChannelKnob(_knobs.Knob):
    """A channel selector: refuses channels of layers nobody created (nuke.Layer)."""

    _class = "Channel_Knob"

    def _default(self) -> Any:
        return "none"

    def _coerce(self, value: Any) -> Any:
        if not channel_exists(str(value)):
            raise ValueError(f"unknown channel {value!r} (create its layer with nuke.Layer)")
        return str(value)


def _black_root() -> Any:
    fmt = root_format()
    return _pixels.black(fmt.width(), fmt.height(), fmt.pixelAspect())


def execute(
    node: Any,
    start: int,
    end: Optional[int] = None,
    incr: int = 1,
    views: Optional[List[str]] = None,
    **_kw: Any,
) -> None:
    """nuke.execute(write, first, last, views=None): render frames (every view when `views` is
    None, as Foundry documents), running the render callbacks."""
    check_main("execute")
    if isinstance(node, str):
        from ._api import toNode

        node = toNode(node)
    if node is None or node.Class() != "Write":
        raise ValueError("nuke.execute needs a Write node")
    end = start if end is None else end
    chosen = list(views) if views is not None else node.views_to_render()
    record = {
        "node": node.fullName(),
        "first": start,
        "last": end,
        "proxy": proxy_scale() != 1.0,
        "views": chosen,
    }
    SESSION.executes.append(record)
    saved = SESSION.frame, SESSION.view
    SESSION.rendering += 1
    try:
        run_callbacks("beforeRender", node)
        for frame in range(int(start), int(end) + 1, int(incr)):
            SESSION.frame = frame
            for view in chosen:
                _render_view(node, frame, view, len(chosen) > 1)
        run_callbacks("afterRender", node)
    finally:
        SESSION.rendering -= 1
        SESSION.frame, SESSION.view = saved


def _render_view(node: Any, frame: int, view: str, several: bool) -> None:
    SESSION.view = view
    if several:
        _facts.touch("frame_callbacks_per_view")
    run_callbacks("beforeFrameRender", node)
    SESSION.render_memo = {}  # each node computed once per frame and view (see Node._render)
    try:
        node.write_frame(frame, several)
    finally:
        SESSION.render_memo = None
    run_callbacks("afterFrameRender", node)
