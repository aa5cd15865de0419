"""The SAM2Matte node's panel, as plain data: every knob's kind, name, label and behaviour.

host.py turns these into Nuke knobs; graph.py writes them as `addUserKnob` lines of a .nk Group.
Buttons and callbacks are one-line calls into sam2matting_nuke.callbacks. Nothing a render needs
depends on them: the cache Read's "missing frames" knob is an expression (graph.MISSING_FRAMES),
so a render machine without the plugin still fails on a missing matte instead of writing black.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple

from .state import OUTPUTS

STATE_KNOB = "sam2_state"  # hidden: the node's versioned JSON state; also marks our nodes
MATTE_READ = "MatteCache"  # the internal Read (named here because onCreate refers to it)
POINT_SLOTS = 8  # positive and negative points each
CLICK_ADDS = ("off", "+", "-")  # the `click_adds` knob: what a Ctrl+click in the Viewer adds
VIEWS = ("result", "overlay", "matte", "cutout")  # the `view` knob (GUI only: renders: result)


class KnobSpec(NamedTuple):
    kind: str  # tab, text, divider, button, enum, bool, xy, bbox, int, float, string, file
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


CACHE_INFO_KNOB = "cache_info"  # what the cache folder holds, or where it was looked for

KNOB_CHANGED_CODE = "import sam2matting_nuke.callbacks\nsam2matting_nuke.callbacks.knob_changed()"

ON_CREATE_CODE = """\
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
    return _top() + _prompt_knobs() + _tracking() + _bottom()


def _top() -> List[KnobSpec]:
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
        KnobSpec(
            "enum",
            "view",
            "view",
            values=VIEWS,
            tooltip="What the node shows in the Viewer: result, a colour overlay of every object "
            "over the plate (stale frames tinted red, + points green, - points red), the matte, "
            "or the cutout. Renders (Write, farm) always get the result.",
        ),
        KnobSpec("divider", "div_objects", "objects"),
        KnobSpec(
            "enum",
            "object",
            "object",
            values=("object1",),
            tooltip="The object the prompt knobs below belong to (one matte per object). "
            "Switching keeps the other object's unsent edits.",
        ),
        _button("add_object", "Add", "Add an object (it gets its own matte and layer).", True),
        _button("rename_object", "Rename", "Rename the current object.", True),
        _button(
            "remove_object",
            "Remove",
            "Remove the current object: its prompts and its mattes (the only button that "
            "deletes mattes).",
            True,
        ),
        KnobSpec(
            "float",
            "grow",
            "grow / shrink",
            default=0.0,
            tooltip="Pixels to grow (> 0) or shrink (< 0) this object's matte (after the cache; "
            "non-destructive).",
        ),
        KnobSpec("float", "feather", "feather", default=0.0, tooltip="Pixels of edge blur."),
        KnobSpec(
            "float",
            "fill_holes",
            "fill holes",
            default=0.0,
            tooltip="Close holes up to about twice this many pixels wide.",
        ),
    ]


def _prompt_knobs() -> List[KnobSpec]:
    return [
        KnobSpec("divider", "div_prompt", "prompt on this frame"),
        _button("add_pos", "Add +", "Add a point on the object (appears at the centre)."),
        _button("add_neg", "Add -", "Add a point on the background (appears at the centre).", True),
        _button("remove_point", "Remove last point", "Untick the point added last.", True),
        KnobSpec(
            "enum",
            "click_adds",
            "Ctrl+click in the Viewer adds",
            values=CLICK_ADDS,
            tooltip="With + or -, each Ctrl+click in the Viewer (Nuke's colour sample) adds a "
            "point of that kind where you clicked, to the current object on this frame, while "
            "this panel is open. GUI only; how it works and what is unverified: "
            "docs/NUKE_PLUGIN.md.",
        ),
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
            "Send what you changed on this frame as the current object's prompt there and show "
            "its matte. With nothing changed on a frame without a prompt, the points shown "
            "become its prompt.",
        ),
        _button(
            "clear_prompt",
            "Clear",
            "Remove the current object's prompt on this frame. Its mattes stay (marked stale "
            "until re-tracked).",
            True,
        ),
        _button(
            "load_prompt",
            "Load",
            "Show the current object's prompt of this frame in the knobs.",
            True,
        ),
        KnobSpec("text", "prompts_info", "prompts", default="none yet"),
        KnobSpec(
            "float",
            "prompted",
            "prompted frames",
            tooltip="Keyed on every prompted frame (its value: how many objects are prompted "
            "there), so the prompted frames show as keys. Set by the node.",
        ),
    ]


def _tracking() -> List[KnobSpec]:
    return [
        KnobSpec("divider", "div_track", "tracking"),
        KnobSpec("int", "first_frame", "frame range", default=1),
        KnobSpec("int", "last_frame", "", default=1, same_line=True),
        _button("input_range", "input range", "Set the range to the plate's frame range.", True),
        _button(
            "track",
            "Track",
            "Track every object over the frame range, both ways from the latest prompt.",
        ),
        _button(
            "retrack",
            "Re-track In-Out",
            "Send this frame's edits and track the current object again over In-Out (default: "
            "from this frame to the frame before its next prompt, or the end).",
            same_line=True,
        ),
        _button("cancel", "Cancel", "Stop the running job (frames done stay in the cache).", True),
        KnobSpec(
            "bool",
            "use_range",
            "custom In-Out",
            tooltip="Use the In-Out below for Re-track; off: filled in from this frame on press.",
        ),
        KnobSpec("int", "retrack_in", "In", default=1, same_line=True),
        KnobSpec("int", "retrack_out", "Out", default=1, same_line=True),
        KnobSpec("text", "stale_info", "stale", default="none"),
        KnobSpec("divider", "div_inputs", "inputs"),
        _button(
            "check_inputs",
            "Check inputs",
            "Compare the plate and every mask prompt (input 2) with what was sent.",
        ),
        _button(
            "resend",
            "Re-send changed",
            "Send the changed plate frames / mask prompts again (their mattes turn stale).",
            True,
        ),
        KnobSpec("text", "inputs_info", "inputs", default="not checked yet"),
    ]


def _bottom() -> List[KnobSpec]:
    return [
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
            tooltip="The shot's cache folder: the mattes renders read. Made from the cache "
            "template (docs/CONFIGURATION.md); TCL such as [file dirname [value root.name]] or "
            "[getenv SHOW_ROOT] keeps it valid on the farm.",
        ),
        KnobSpec("text", CACHE_INFO_KNOB, "", default="cache not checked yet"),
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
FINISH_KNOBS = ("grow", "feather", "fill_holes")
