"""The SAM2Matte node's panel, as plain data: every knob's kind, name, label and behaviour.

host.py turns these into Nuke knobs; graph.py writes them as `addUserKnob` lines of a .nk Group.
Buttons and callbacks are one-line calls into sam2matting_nuke.callbacks; the onCreate code is
self-contained so that a farm machine without the plugin still switches the cache Read to
"error on missing frames" (a missing matte then fails the render instead of rendering black).
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple

from .state import OUTPUTS

STATE_KNOB = "sam2_state"  # hidden: the node's versioned JSON state; also marks our nodes
MATTE_READ = "MatteCache"  # the internal Read (named here because onCreate refers to it)
POINT_SLOTS = 4  # positive and negative points each
DIRECTION_VALUES = ("both", "forward", "backward")


class KnobSpec(NamedTuple):
    kind: str  # tab, text, divider, button, enum, bool, xy, bbox, int, string, file
    name: str
    label: str = ""
    default: object = None
    values: Tuple[str, ...] = ()
    tooltip: str = ""
    same_line: bool = False  # continue the previous knob's row
    hidden: bool = False
    command: str = ""  # buttons: the Python they run


def button_command(action: str) -> str:
    return f"import sam2matting_nuke.callbacks\nsam2matting_nuke.callbacks.button({action!r})"


KNOB_CHANGED_CODE = "import sam2matting_nuke.callbacks\nsam2matting_nuke.callbacks.knob_changed()"

ON_CREATE_CODE = f"""\
_s2m_read = nuke.thisNode().node({MATTE_READ!r})
if _s2m_read is not None:
    _s2m_read['on_error'].setValue('black' if nuke.GUI else 'error')
try:
    import sam2matting_nuke.callbacks as _s2m
except ImportError:
    _s2m = None
if _s2m is not None:
    _s2m.on_create()
"""


def _button(name: str, label: str, tooltip: str, same_line: bool = False) -> KnobSpec:
    return KnobSpec(
        "button", name, label, tooltip=tooltip, same_line=same_line, command=button_command(name)
    )


def _points(sign: str, word: str, label_value: int) -> List[KnobSpec]:
    out = []
    for i in range(1, POINT_SLOTS + 1):
        out.append(
            KnobSpec(
                "bool",
                f"use_{word}{i}",
                f"{sign}{i}",
                tooltip=f"Use point {sign}{i} ({_SIGN[label_value]}) on this frame.",
            )
        )
        out.append(
            KnobSpec(
                "xy",
                f"{word}{i}",
                f"{sign}{i} {_SIGN[label_value]}",
                same_line=True,
                tooltip=f"Drag the {sign}{i} handle in the Viewer.",
            )
        )
    return out


_SIGN = {1: "object", 0: "background"}


def panel() -> List[KnobSpec]:
    """Every user knob of the node, in panel order."""
    return [
        KnobSpec("tab", "sam2matte", "SAM2Matte"),
        KnobSpec("text", "status", "backend", default="not connected yet: press Connect"),
        _button(
            "connect",
            "Connect",
            "Connect to the backend (or reconnect) and refresh its trackers and engines.",
            same_line=True,
        ),
        KnobSpec(
            "enum",
            "tracker",
            "tracker",
            values=("auto",),
            tooltip="Tracker for this shot (from the backend; auto: the best installed).",
        ),
        KnobSpec(
            "enum",
            "engine",
            "matting engine",
            values=("auto",),
            tooltip="Matting engine turning masks into soft alpha.",
        ),
        KnobSpec("divider", "div_objects", "objects"),
        KnobSpec(
            "enum",
            "object",
            "object",
            values=("object1",),
            tooltip="The object the prompt knobs below belong to (one matte per object).",
        ),
        _button("add_object", "Add", "Add an object (it gets its own matte and layer).", True),
        _button("rename_object", "Rename", "Rename the current object.", True),
        _button("remove_object", "Remove", "Remove the current object and its prompts.", True),
        KnobSpec("divider", "div_prompt", "prompt on this frame"),
        *_points("+", "pos", 1),
        *_points("-", "neg", 0),
        KnobSpec("bool", "use_box", "box", tooltip="Use the box on this frame."),
        KnobSpec("bbox", "box", "", same_line=True, tooltip="Drag the box in the Viewer."),
        KnobSpec(
            "bool",
            "use_mask",
            "use input 2 as mask on this frame",
            tooltip="Render input 2 (a Roto or any alpha) on this frame as a mask prompt.",
        ),
        KnobSpec(
            "bool",
            "live_preview",
            "update this frame's matte while editing",
            tooltip="After you stop editing points, send the prompt and show the frame's "
            "matte (needs the backend).",
        ),
        _button(
            "set_prompt",
            "Set prompt on this frame",
            "Store the prompt for the current object on this frame and show its matte.",
        ),
        _button("clear_prompt", "Clear", "Delete the current object's prompt on this frame.", True),
        _button(
            "load_prompt",
            "Load",
            "Show the current object's prompt of this frame in the knobs.",
            True,
        ),
        KnobSpec("text", "prompts_info", "prompts", default="none yet"),
        KnobSpec("divider", "div_track", "tracking"),
        KnobSpec("int", "first_frame", "frame range", default=1),
        KnobSpec("int", "last_frame", "", default=1, same_line=True),
        _button("input_range", "input range", "Set the range to the plate's frame range.", True),
        KnobSpec("enum", "direction", "direction", values=DIRECTION_VALUES),
        _button("track", "Track", "Track from the latest prompted frame in the chosen direction."),
        _button(
            "retrack",
            "Re-track from this frame",
            "Track again from the current frame in the chosen direction (after fixing drift).",
            same_line=True,
        ),
        _button("cancel", "Cancel", "Stop the running job (frames done stay in the cache).", True),
        KnobSpec("divider", "div_output", "output"),
        KnobSpec(
            "enum",
            "output",
            "output",
            values=OUTPUTS,
            tooltip="rgba.alpha: all objects combined; object layers: one layer per object "
            "named after it; both.",
        ),
        KnobSpec(
            "file",
            "cache_dir",
            "cache folder",
            tooltip="The shot's cache folder (the backend fills it in). Point it at the same "
            "folder as seen from the farm if it is mounted elsewhere there.",
        ),
        KnobSpec(
            "string",
            "colourspace",
            "plate colourspace",
            default="scene_linear",
            tooltip="Colourspace of the plate pixels as rendered raw (Nuke's working space).",
        ),
        _button(
            "export_shot",
            "Export shot file...",
            "Write the farm shot file (prompts, objects, settings) for 'sam2matting render'.",
        ),
        _button(
            "export_farm_job",
            "Export farm job...",
            "Write the shot file and an Open Job Description job (Track per object, Matte in "
            "frame chunks) for AWS Deadline Cloud or openjd (docs/FARM.md).",
            same_line=True,
        ),
        KnobSpec("string", STATE_KNOB, "", hidden=True),
    ]


def spec(name: str, knobs: Optional[Sequence[KnobSpec]] = None) -> KnobSpec:
    for item in knobs if knobs is not None else panel():
        if item.name == name:
            return item
    raise KeyError(name)


def point_knobs() -> List[Tuple[str, str, int]]:
    """(checkbox knob, XY knob, label) for every point slot: label 1 object, 0 background."""
    out = []
    for word, label in (("pos", 1), ("neg", 0)):
        for i in range(1, POINT_SLOTS + 1):
            out.append((f"use_{word}{i}", f"{word}{i}", label))
    return out


EDITOR_KNOBS = frozenset(
    [n for pair in point_knobs() for n in pair[:2]] + ["use_box", "box", "use_mask"]
)
