"""The one module that imports `nuke`: every Nuke call the plugin makes goes through here.

Everything else takes plain data and a `NukeHost` / `NukeNode`, so tests run the plugin against
a fake `nuke` module. All methods must be called on Nuke's main thread, except `run_in_main`
and `run_in_main_with_result`, which exist to get there from a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, cast

import nuke

from . import coords, frames, graph
from .knobs import STATE_KNOB, KnobSpec

log = logging.getLogger(__name__)

# Values Nuke's Write knobs take for a render the backend decodes.
_WRITE_KNOBS = (
    ("file_type", "exr"),
    ("datatype", "16 bit half"),
    ("compression", "Zip (1 scanline)"),
    ("raw", True),
    ("create_directories", True),
)


class NukeNode:
    """A node, with knob access that irons out Nuke's quirks (Array_Knob.value() and friends)."""

    def __init__(self, node: nuke.Node) -> None:
        self.node = node

    @property
    def key(self) -> nuke.Node:
        """What identifies the node in registries (Nuke's node wrappers compare equal)."""
        return self.node

    def name(self) -> str:
        return self.node.name()

    def full_name(self) -> str:
        return self.node.fullName()

    def is_ours(self) -> bool:
        return self.node.knob(STATE_KNOB) is not None

    def has_knob(self, name: str) -> bool:
        return self.node.knob(name) is not None

    def alive(self) -> bool:
        try:
            self.node.name()
        except ValueError:  # "PythonObject not attached to a node": deleted
            return False
        return True

    # ------------------------------------------------------------ knobs

    def has(self, knob: str) -> bool:
        return self.node.knob(knob) is not None

    def get(self, knob: str) -> Any:
        """A scalar knob's value: str for text/enums/files, bool, int or float."""
        return self.node[knob].value()

    def get_int(self, knob: str) -> int:
        return int(self.node[knob].value())

    def get_bool(self, knob: str) -> bool:
        return bool(self.node[knob].value())

    def get_xy(self, knob: str, frame: int) -> Tuple[float, float]:
        k = self.node[knob]
        return float(k.getValueAt(frame, 0)), float(k.getValueAt(frame, 1))

    def get_box(self, knob: str, frame: int) -> List[float]:
        k = self.node[knob]
        return [float(k.getValueAt(frame, i)) for i in range(4)]

    def set(self, knob: str, value: Any) -> None:
        k = self.node[knob]
        if isinstance(value, graph.Expression):
            cast(nuke.Array_Knob, k).setExpression(value.text)
            return
        if isinstance(value, (list, tuple)):
            # Array knobs: element by element, dropping animation, so every element is set.
            k.clearAnimated()
            for index, element in enumerate(value):
                k.setValue(element, index)
        else:
            k.setValue(value)

    def update(self, knob: str, value: Any) -> None:
        """set() only when the knob holds something else: an unchanged value written again
        would still mark the script modified."""
        k = self.node[knob]
        if isinstance(value, graph.Expression):
            # The plugin's expressions are constants: one in place is the one it would set.
            if not cast(nuke.Array_Knob, k).hasExpression():
                self.set(knob, value)
            return
        if isinstance(value, (list, tuple)):
            current: Any = [k.value(i) for i in range(len(value))]
            same = not k.isAnimated() and all(float(a) == float(b) for a, b in zip(current, value))
        else:
            same = k.value() == value
        if not same:
            self.set(knob, value)

    def set_choices(self, knob: str, values: Sequence[str], current: str) -> None:
        k = self.node[knob]
        if not isinstance(k, nuke.Enumeration_Knob):
            raise TypeError(f"{knob} is not a choice knob")
        if list(k.values()) == list(values) and (current not in values or k.value() == current):
            return  # unchanged (writing it again would mark the script modified)
        k.setValues(list(values))
        if current in values:
            k.setValue(current)

    def set_visible(self, knob: str, visible: bool) -> None:
        """Show or hide a knob in the panel and (for XY/BBox knobs) its Viewer handle: the
        INVISIBLE flag does both (NDK knob flags); setVisible is not documented to."""
        k = self.node[knob]
        if visible:
            k.clearFlag(nuke.INVISIBLE)
        else:
            k.setFlag(nuke.INVISIBLE)

    def set_keys(self, knob: str, keys: Dict[int, float], rest: float = 0.0) -> None:
        """Animate a one-value knob: these values on these frames (`rest` on the frames next to
        them, so no interpolation spreads a key), a constant `rest` when there are none."""
        k = cast(nuke.Array_Knob, self.node[knob])
        k.clearAnimated()
        if not keys:
            k.setValue(rest)
            return
        for frame in sorted(keys):
            for neighbour in (frame - 1, frame + 1):
                if neighbour not in keys:
                    k.setValueAt(rest, neighbour)
            k.setValueAt(keys[frame], frame)

    def add_knobs(self, specs: Sequence[KnobSpec]) -> None:
        """Add knobs. Whether an open panel shows knobs added to it before it is reopened is
        not documented, so an open panel is closed and opened again (Python dev guide,
        "Showing and Hiding a Node's Properties Panel") when a visible knob was added."""
        for spec in specs:
            knob = _make_knob(spec)
            self.node.addKnob(knob)
            if spec.default is not None and spec.kind not in ("text", "divider", "tab", "button"):
                knob.setValue(spec.default)
        if any(not spec.hidden for spec in specs) and self.node.shown():
            self.node.hideControlPanel()
            self.node.showControlPanel()

    def set_code(self, knob_changed: str, on_create: str) -> None:
        self.node["knobChanged"].setValue(knob_changed)
        self.node["onCreate"].setValue(on_create)

    # ------------------------------------------------------------ graph

    def connect(self, index: int, source: Optional[NukeNode]) -> None:
        self.node.setInput(index, source.node if source is not None else None)

    def show_panel(self) -> None:
        if nuke.GUI:
            self.node.showControlPanel()

    def panel_open(self) -> bool:
        return bool(self.node.shown())

    def input(self, index: int) -> Optional[NukeNode]:
        source = self.node.input(index)
        return NukeNode(source) if source is not None else None

    def input_format(self, index: int) -> Optional[coords.Format]:
        """The format of input `index` at full resolution (read with proxy mode off)."""
        source = self.node.input(index)
        if source is None:
            return None
        with full_resolution():
            fmt = source.format()
            return coords.Format(
                fmt.width(),
                fmt.height(),
                fmt.x(),
                fmt.y(),
                fmt.r(),
                fmt.t(),
                float(fmt.pixelAspect()),
            )

    def input_range(self, index: int) -> Optional[Tuple[int, int]]:
        source = self.node.input(index)
        if source is None:
            return None
        return int(source.firstFrame()), int(source.lastFrame())

    def child(self, name: str) -> Optional[NukeNode]:
        group = _as_group(self.node)
        found = group.node(name)
        return NukeNode(found) if found is not None else None

    def build(self, specs: Sequence[graph.NodeSpec]) -> None:
        """Create nodes inside this group from specs (inputs resolved by name, in order)."""
        group = _as_group(self.node)
        made: Dict[str, nuke.Node] = {}
        with group:
            for spec in specs:
                node = getattr(nuke.nodes, spec.cls)()
                node.setName(spec.name)
                for key, value in spec.knobs:
                    NukeNode(node).set(key, value)
                made[spec.name] = node
        for spec in specs:
            for index, source in enumerate(spec.inputs):
                if source is not None:
                    made[spec.name].setInput(index, made.get(source) or group.node(source))

    def delete_children(self, prefix: str) -> int:
        group = _as_group(self.node)
        doomed = [n for n in group.nodes() if n.name().startswith(prefix)]
        for node in doomed:
            nuke.delete(node)
        return len(doomed)

    def delete_children_except(self, keep: Sequence[str]) -> int:
        group = _as_group(self.node)
        doomed = [n for n in group.nodes() if n.name() not in keep]
        for node in doomed:
            nuke.delete(node)
        return len(doomed)

    def reload(self) -> None:
        """Nuke caches what a Read read; make it look at its files again."""
        cast(nuke.Script_Knob, self.node["reload"]).execute()

    def is_disabled(self) -> bool:
        knob = self.node.knob("disable")
        return knob is not None and bool(knob.value())

    # ------------------------------------------------------------ the graph walk (upstream.py)

    def class_name(self) -> str:
        return self.node.Class()

    def is_group(self) -> bool:
        """A Group or a gizmo (nuke.Gizmo derives from nuke.Group)."""
        return isinstance(self.node, nuke.Group)

    def sources(self) -> List[NukeNode]:
        """The nodes feeding this one, hidden inputs included."""
        return [NukeNode(n) for n in self.node.dependencies(nuke.INPUTS | nuke.HIDDEN_INPUTS)]

    def inputs(self) -> List[Optional[NukeNode]]:
        """Inputs by number, None where one is not connected (a Switch picks by number)."""
        return [self.input(i) for i in range(self.node.inputs())]

    def group_output(self) -> Optional[NukeNode]:
        found = _as_group(self.node).output()
        return NukeNode(found) if found is not None else None

    def value_at(self, knob: str, frame: int) -> Optional[float]:
        """A numeric knob at `frame` (animation and expressions evaluated); None if absent."""
        k = self.node.knob(knob)
        return None if k is None else float(k.getValueAt(frame))

    def varies(self, knob: str) -> bool:
        """The knob is animated or driven by an expression."""
        k = self.node.knob(knob)
        return k is not None and bool(k.isAnimated() or k.hasExpression())

    # ------------------------------------------------------------ paths, as Nuke resolves them

    def file_path(self, at_frame: bool) -> Optional[str]:
        """The file this Read/Write uses, as the OS sees it: nuke.filename (TCL expanded; the
        current frame put in when `at_frame`, else %04d kept), then the filename filters."""
        text = nuke.filename(self.node, nuke.REPLACE) if at_frame else nuke.filename(self.node)
        return None if not text else filename_filter(text)

    def frame_files(self, frames_: Sequence[int]) -> Tuple[Dict[int, str], bool]:
        """The files this Read reads at `frames_` (full resolution: the `file` knob, not
        `proxy`): nuke.filename's pattern at each frame, then the filename filters; and whether
        that pattern gives what nuke.filename(REPLACE) gives at the current frame."""
        with full_resolution():
            pattern = nuke.filename(self.node) or ""
            here = nuke.filename(self.node, nuke.REPLACE) or ""
        agrees = bool(pattern) and frames.frame_file(pattern, int(nuke.frame())) == here
        return {f: filename_filter(frames.frame_file(pattern, f)) for f in frames_}, agrees

    def evaluated(self, knob: str) -> str:
        """A file or eval-string knob's text with its TCL expanded, then filename-filtered."""
        k = cast(nuke.EvalString_Knob, self.node[knob])
        return filename_filter(str(k.evaluate()))

    # ------------------------------------------------------------ rendering

    def render(self, source: str, frames_: Sequence[int], pattern: str, channels: str) -> None:
        """Render child `source` through a temporary Write: raw EXR, full resolution."""
        group = _as_group(self.node)
        with group:
            write = nuke.nodes.Write()
        try:
            write.setInput(0, group.node(source))
            wrapped = NukeNode(write)
            wrapped.set("file", pattern)
            for key, value in _WRITE_KNOBS:
                wrapped.set(key, value)
            wrapped.set("channels", channels)
            views = nuke.views()[:1]  # the main view only (NUKE_PLUGIN.md, "Stereo")
            with full_resolution():
                for first, last in frames.runs(frames_):
                    nuke.execute(write, first, last, views=views)
        finally:
            nuke.delete(write)


class Progress:
    """A Nuke ProgressTask (a progress bar with a Cancel button), closed explicitly."""

    def __init__(self, title: str) -> None:
        self._task: Optional[nuke.ProgressTask] = nuke.ProgressTask(title)

    def update(self, message: str, percent: int) -> None:
        if self._task is not None:
            self._task.setMessage(message)
            self._task.setProgress(max(0, min(100, int(percent))))

    def cancelled(self) -> bool:
        return self._task is not None and bool(self._task.isCancelled())

    def close(self) -> None:
        self._task = None  # Nuke closes the bar when the task object goes away


class NukeHost:
    """Nuke-wide calls: threads, dialogs, time, scripts, layers, callbacks, menus."""

    # ------------------------------------------------------------ threads

    @staticmethod
    def run_in_main(call: Callable[..., Any], *args: Any) -> None:
        """From a worker thread: run `call(*args)` on the main thread later (never waits)."""
        nuke.executeInMainThread(call, args)

    @staticmethod
    def run_in_main_with_result(call: Callable[..., Any], *args: Any) -> Any:
        """From a worker thread: run on the main thread and wait; its exception is re-raised."""
        box: Dict[str, Any] = {}

        def capture() -> None:
            try:
                box["value"] = call(*args)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the worker thread
                box["error"] = exc

        nuke.executeInMainThreadWithResult(capture)  # type: ignore[no-untyped-call]
        if "error" in box:
            raise box["error"]
        return box.get("value")

    # ------------------------------------------------------------ dialogs

    @staticmethod
    def gui() -> bool:
        return bool(nuke.GUI)

    @staticmethod
    def message(text: str) -> None:
        if nuke.GUI:
            nuke.message(text)
        else:
            log.error("%s", text)

    @staticmethod
    def ask(text: str) -> bool:
        return bool(nuke.ask(text)) if nuke.GUI else False

    @staticmethod
    def get_input(prompt: str, default: str = "") -> Optional[str]:
        value = nuke.getInput(prompt, default)
        return None if value is None else str(value)

    @staticmethod
    def get_filename(title: str, pattern: str, default: str = "") -> Optional[str]:
        value = nuke.getFilename(title, pattern, default)
        return None if value is None else str(value)

    @staticmethod
    def progress(title: str) -> Progress:
        return Progress(title)

    # ------------------------------------------------------------ script, time, nodes

    @staticmethod
    def frame() -> int:
        return int(nuke.frame())

    @staticmethod
    def script_path() -> str:
        try:
            return str(nuke.scriptName())
        except RuntimeError:  # never saved
            return ""

    @staticmethod
    def script_range() -> Tuple[int, int]:
        root = nuke.root()
        return int(root.firstFrame()), int(root.lastFrame())

    @staticmethod
    def this_node() -> NukeNode:
        return NukeNode(nuke.thisNode())

    @staticmethod
    def this_knob_name() -> str:
        knob = nuke.thisKnob()
        return knob.name() if knob is not None else ""

    @staticmethod
    def create_group(name: str) -> Tuple[NukeNode, Optional[NukeNode]]:
        """An empty Group where the artist is working, and the selected node that feeds it.

        The selection is asked for before the Group exists: nuke.selectedNodes() lists the
        current group's selected nodes inputs first (documented), so the last one is the most
        downstream. Whether the Tab menu's Group holds Input1 -> Output1 and connects the
        selection is not documented, so whatever it holds is removed and the caller connects
        the returned node itself.
        """
        selected = nuke.selectedNodes()
        upstream = selected[-1] if selected else None
        node = nuke.createNode("Group", inpanel=False)
        node.setName(name, uncollide=True)
        for child in _as_group(node).nodes():
            nuke.delete(child)
        return NukeNode(node), (NukeNode(upstream) if upstream is not None else None)

    @staticmethod
    @contextlib.contextmanager
    def no_undo(keep_modified: bool = False) -> Iterator[None]:
        """Knob changes the plugin makes itself: no undo steps (nuke.Undo.disable). With
        `keep_modified` (status and progress lines), the script's modified flag is left as it
        was, so a track does not make the script need saving."""
        root = nuke.root()
        was_modified = bool(root.modified())
        nuke.Undo.disable()
        try:
            yield
        finally:
            nuke.Undo.enable()
            if keep_modified and not was_modified:
                root.setModified(False)

    @staticmethod
    def our_nodes() -> List[NukeNode]:
        """Every SAM2Matte node of the script, inside groups too."""
        return [
            NukeNode(n)
            for n in nuke.allNodes(group=nuke.root(), recurseGroups=True)
            if n.knob(STATE_KNOB) is not None
        ]

    @staticmethod
    def ensure_layer(name: str, channels: Sequence[str]) -> None:
        nuke.Layer(name, list(channels))

    @staticmethod
    def node_at(full_name: str) -> Optional[NukeNode]:
        """A node from its fullName() ('Group1.Blur1'), looked up from the root down."""
        if not full_name:
            return None
        found: Optional[nuke.Node] = nuke.root()
        for part in full_name.split("."):
            if not isinstance(found, nuke.Group):
                return None
            found = found.node(part)
        return NukeNode(found) if found is not None else None

    @staticmethod
    def views() -> List[str]:
        """The script's views; the first is the main one (the one the node tracks)."""
        return [str(v) for v in nuke.views()]

    @staticmethod
    def this_view() -> str:
        return str(nuke.thisView())

    @staticmethod
    def viewer_sample() -> Optional[List[float]]:
        """The active Viewer's colour-sample area (a Ctrl+click there) as its node's
        `colour_sample_bbox` knob holds it (unverified: viewer_click.py); None without one."""
        viewer = nuke.activeViewer()
        knob = viewer.node().knob("colour_sample_bbox") if viewer is not None else None
        if knob is None:
            return None
        return [float(knob.value(i)) for i in range(4)]

    # ------------------------------------------------------------ callbacks and menus

    @staticmethod
    def on_render(before_render: Callable[[], None], before_frame: Callable[[], None]) -> None:
        nuke.addBeforeRender(before_render)
        nuke.addBeforeFrameRender(before_frame)

    @staticmethod
    def on_create_group(call: Callable[[], None]) -> None:
        nuke.addOnCreate(call, nodeClass="Group")

    @staticmethod
    def on_script_close(call: Callable[[], None]) -> None:
        nuke.addOnScriptClose(call)

    @staticmethod
    def on_destroy(call: Callable[[], None]) -> None:
        nuke.addOnDestroy(call, nodeClass="Group")

    @staticmethod
    def add_menu_command(menu_name: str, path: str, call: Callable[[], object]) -> None:
        nuke.menu(menu_name).addCommand(path, call)


@contextlib.contextmanager
def full_resolution() -> Iterator[None]:
    """Proxy mode off for the duration (renders and formats at full resolution), then restored."""
    root = nuke.root()
    was = bool(root["proxy"].value())
    if was:
        root["proxy"].setValue(False)
    try:
        yield
    finally:
        if was:
            root["proxy"].setValue(True)


def _as_group(node: nuke.Node) -> nuke.Group:
    if not isinstance(node, nuke.Group):
        raise TypeError(f"{node.name()} is not a group")
    return node


def filename_filter(path: str) -> str:
    """A path as Nuke hands it to the OS: through the studio's filename filters
    (nuke.addFilenameFilter), as Foundry's createWriteDir example does after nuke.filename."""
    return str(nuke.filenameFilter(path))  # type: ignore[no-untyped-call]


def _make_knob(spec: KnobSpec) -> nuke.Knob:
    knob: nuke.Knob
    if spec.kind == "tab":
        knob = nuke.Tab_Knob(spec.name, spec.label)
    elif spec.kind in ("text", "divider"):
        knob = nuke.Text_Knob(
            spec.name, spec.label, "" if spec.default is None else str(spec.default)
        )
    elif spec.kind == "button":
        knob = nuke.PyScript_Knob(spec.name, spec.label, spec.command)
    elif spec.kind == "enum":
        knob = nuke.Enumeration_Knob(spec.name, spec.label, list(spec.values))
    else:
        knob = _simple_knob(spec)
    if spec.tooltip:
        knob.setTooltip(spec.tooltip)
    if spec.same_line:
        knob.clearFlag(nuke.STARTLINE)
    if spec.hidden:
        knob.setFlag(nuke.INVISIBLE)
    return knob


def _simple_knob(spec: KnobSpec) -> nuke.Knob:
    kinds: Dict[str, Callable[[str, str], nuke.Knob]] = {
        "bool": nuke.Boolean_Knob,
        "xy": nuke.XY_Knob,
        "bbox": nuke.BBox_Knob,
        "int": nuke.Int_Knob,
        "float": nuke.Double_Knob,
        "string": nuke.String_Knob,
        "file": nuke.File_Knob,
    }
    return kinds[spec.kind](spec.name, spec.label)
