"""Artist actions and checks shared by the plugin tests (on top of nuke._fake)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import nuke
from nuke import _exr, _pixels
from sam2matting_nuke import callbacks
from sam2matting_nuke.host import NukeNode

from . import plates

# The unverified Nuke behaviours (nuke._facts.UNVERIFIED) that sessions of the plugin touch,
# each with why no documented alternative exists. Tests compare what a session touched with
# the sets below, so a new unverified dependency fails them (docs/NUKE_PLUGIN.md, TD table).
WHY_UNAVOIDABLE: Dict[str, str] = {
    "input_number_knob": "relied on: an Input node inside a Group stands for the Group input "
    "its hidden `number` knob names (creation order); Nuke's Python API has no other link "
    "between a Group's inputs and its Input nodes, and none is documented",
    "createNode_group_has_io": "not relied on: the fake makes the Group either way and the "
    "node empties it (test_loop: test_the_node_does_not_depend_on_what_a_new_group_holds); "
    "createNode is the documented way to get the Tab menu's connections and selection",
    "knob_changed_by_code": "not relied on: the node's own knob changes are marked quiet, so "
    "a session gives the same result whether they run knobChanged or not (test_loop, both "
    "variants); Nuke has no documented way to set a knob without it",
    "progress_task_not_modal": "not relied on: plate preparation and tracking run in small "
    "main-thread steps under a ProgressTask either way; a modal bar would only keep the artist "
    "from scrubbing meanwhile. The alternative, nuke.execute's progress, is documented modal",
}
NODE_TOUCHES = {"createNode_group_has_io", "knob_changed_by_code"}  # making, showing a node
RENDER_TOUCHES = NODE_TOUCHES | {"input_number_knob"}  # ... and pulling pixels through it
TRACK_TOUCHES = RENDER_TOUCHES | {"progress_task_not_modal"}  # ... and tracking


def new_node(tmp: Path, first: int = plates.FIRST, last: int = plates.LAST, aspect: float = 1.0):
    """A plate Read and a SAM2Matte node made from the menu command, fed by it."""
    pattern = plates.write_plate(tmp / "plate", first, last, aspect)
    nuke._fake.set_format(plates.WIDTH, plates.HEIGHT, aspect)  # the project format = the plate's
    read = plates.read_node(pattern, first, last)
    made = callbacks.create_node()
    assert made is not None
    return made.node, read


def through_a_node(node, read):
    """Put a node between the plate Read and the SAM2Matte (anything but a Dot makes input 1 a
    graph, so the plate is rendered rather than read from the Read's files)."""
    between = nuke.nodes.NoOp(name="PlateFix")
    between.setInput(0, read)
    node.setInput(0, between)
    return between


def controller(node):
    return callbacks.controller_for(NukeNode(node))


def wait(node, timeout_s: float = 30.0) -> None:
    """Let Nuke's event loop run until the node's job has ended."""
    ctl = controller(node)
    nuke._fake.pump(until=lambda: ctl.idle, timeout_s=timeout_s)


def nuke_xy(x_top: float, y_top: float, height: int = plates.HEIGHT) -> List[float]:
    """A top-left plate position as the Viewer puts it in an XY knob (origin bottom-left)."""
    return [x_top, height - y_top]


def place_point(node, slot: str, x_top: float, y_top: float) -> None:
    """Tick a point slot ('pos1', 'neg2', ...) and drag its handle to a plate position."""
    nuke._fake.artist_sets(node, "use_" + slot, True)
    nuke._fake.artist_sets(node, slot, nuke_xy(x_top, y_top))


def add_point(node, sign: str, x_top: float, y_top: float) -> str:
    """Press Add + / Add - and drag the new handle to a plate position; returns its slot."""
    before = set(nuke._fake.viewer_handles(node))
    nuke._fake.press(node, "add_pos" if sign == "+" else "add_neg")
    (slot,) = set(nuke._fake.viewer_handles(node)) - before
    drag(node, slot, x_top, y_top)
    return slot


def drag(node, slot: str, x_top: float, y_top: float) -> None:
    """The artist drags a point's handle in the Viewer to a plate position."""
    nuke._fake.artist_sets(node, slot, nuke_xy(x_top, y_top))


def matte_files(cache: Path) -> Dict[int, bytes]:
    """Every cached matte file's bytes, by frame."""
    return {int(p.name.split(".")[1]): p.read_bytes() for p in (cache / "matte").glob("*.exr")}


def prompt_on(node, frame: int) -> None:
    """Go to `frame`, put +1 on the square there and press Set prompt; wait for the reply."""
    nuke._fake.set_frame(frame)
    place_point(node, "pos1", *square_centre(frame))
    nuke._fake.press(node, "set_prompt")
    wait(node)


def square_centre(frame: int) -> Tuple[float, float]:
    sx, sy = plates.square_top_left(frame)
    return sx + plates.SQUARE / 2.0, sy + plates.SQUARE / 2.0


def render(
    node, frames: List[int], folder: Path, channels: str = "all"
) -> Dict[int, _pixels.Image]:
    """Render the node's output through a Write downstream (as the artist would)."""
    write = downstream_write(node, folder, channels, name="WriteCheck")
    try:
        nuke.execute(write, frames[0], frames[-1])
    finally:
        nuke.delete(write)
    return {f: read_image(folder / f"out.{f:04d}.exr") for f in frames}


def downstream_write(node, folder: Path, channels: str = "all", name: str = "WriteMatte"):
    write = nuke.nodes.Write(name=name, file=str(folder / "out.####.exr"))
    write.setInput(0, node)
    write["file_type"].setValue("exr")
    write["datatype"].setValue("32 bit float")
    write["channels"].setValue(channels)
    write["create_directories"].setValue(True)
    return write


def read_image(path: Path) -> _pixels.Image:
    return _pixels.from_exr(_exr.decode(Path(path).read_bytes()))


def alpha_nuke(
    image: _pixels.Image, x_top: float, y_top: float, channel: str = "rgba.alpha"
) -> float:
    """A channel at a top-left plate position, looked up the way Nuke indexes pixels."""
    return image.at(channel, int(x_top), image.height - 1 - int(y_top))
