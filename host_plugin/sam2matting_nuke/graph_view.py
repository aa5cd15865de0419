"""The output side of the SAM2Matte Group, as plain data: per-object finishing after the cache
Read, and the Viewer's views, all built from ordinary Nuke nodes.

    MatteOffset -> per object: FillGrow, FillShrink (close holes), Grow, Feather (Dilate/Blur on
                   obj<id>.alpha) -> combined alpha = max over the finished objects -> SAM2Finished
    plate + SAM2Finished -> Copy chain (graph.copy_nodes) -> SAM2Result
    SAM2Result -> SAM2MatteView (alpha in rgb) | SAM2Cutout (Premult)
    plate -> per object a tinted matte over it -> stale tint (switched per frame) -> + / - point
             dots (Rectangles) -> SAM2Overlay
    SAM2ViewSwitch: which = $gui ? parent.view : 0 (documented: $gui is 0 at render time, so a
    Write or the farm always gets the result) -> Output1

Everything is float and after the cache: the cached mattes are never changed. Values that change
with the artist's edits (finishing sizes, dot positions, stale frames) are set on these nodes by
viewer.py without rebuilding them.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple

from .state import ObjectInfo

FINISHED, RESULT, OVERLAY = "SAM2Finished", "SAM2Result", "SAM2Overlay"
MATTE_VIEW, CUTOUT, VIEW_SWITCH = "SAM2MatteView", "SAM2Cutout", "SAM2ViewSwitch"
STALE_TINT, STALE_SWITCH = "SAM2StaleTint", "SAM2StaleSwitch"
VIEW_EXPRESSION = "$gui ? parent.view : 0"
OVERLAY_MIX = 0.5
STALE_COLOUR = [1.0, 0.45, 0.45, 1.0]  # stale frames look reddish in the overlay
DOT_COLOURS = {1: [0.1, 1.0, 0.1, 1.0], 0: [1.0, 0.1, 0.1, 1.0]}  # + green, - red
PALETTE = [
    [0.2, 0.6, 1.0],
    [1.0, 0.8, 0.1],
    [0.9, 0.3, 0.9],
    [0.2, 0.9, 0.8],
    [1.0, 0.5, 0.2],
    [0.6, 0.4, 1.0],
]


class Expression(NamedTuple):
    """A knob value that is a Nuke expression."""

    text: str


class NodeSpec(NamedTuple):
    """One node inside the Group: class, name, knob values, inputs by node name."""

    cls: str
    name: str
    knobs: Tuple[Tuple[str, object], ...] = ()
    inputs: Tuple[Optional[str], ...] = ()


Spec = NodeSpec


def finish_names(object_id: int) -> Tuple[str, str, str, str]:
    """(fill grow, fill shrink, grow, feather) node names of one object."""
    return (
        f"SAM2FillGrow{object_id}",
        f"SAM2FillShrink{object_id}",
        f"SAM2Grow{object_id}",
        f"SAM2Feather{object_id}",
    )


def finish_values(obj: ObjectInfo) -> List[Tuple[str, float]]:
    """(node name, size) for one object's finishing nodes; size 0 means disabled."""
    names = finish_names(obj.id)
    fill = max(0.0, obj.fill_holes)
    return [(names[0], fill), (names[1], -fill), (names[2], obj.grow), (names[3], obj.feather)]


def finishing(objects: Sequence[ObjectInfo], source: str) -> List[Spec]:
    """Per-object finishing, then the combined alpha recomputed over the finished objects."""
    specs: List[Spec] = []
    previous = source
    for obj in objects:
        for (name, size), cls in zip(finish_values(obj), ("Dilate", "Dilate", "Dilate", "Blur")):
            specs.append(
                Spec(
                    cls,
                    name,
                    (("channels", f"obj{obj.id}"), ("size", size), ("disable", size == 0)),
                    (previous,),
                )
            )
            previous = name
    for index, obj in enumerate(objects):
        channel = f"obj{obj.id}.alpha"
        if index == 0:  # the first object's alpha replaces the cached combination
            knobs: Tuple[Tuple[str, object], ...] = (("from0", channel), ("to0", "rgba.alpha"))
            specs.append(Spec("Copy", f"SAM2Combine{obj.id}", knobs, (previous, previous)))
        else:  # both inputs the same stream: no dependence on which input is A or B
            knobs = (("A", channel), ("B", "rgba.alpha"), ("operation", "max"))
            specs.append(
                Spec(
                    "ChannelMerge",
                    f"SAM2Combine{obj.id}",
                    (*knobs, ("output", "rgba.alpha")),
                    (previous, previous),
                )
            )
        previous = f"SAM2Combine{obj.id}"
    specs.append(Spec("Dot", FINISHED, (), (previous,)))
    return specs


def views(
    objects: Sequence[ObjectInfo], plate: str, slots: Sequence[Tuple[str, int]]
) -> List[Spec]:
    """The matte, cutout and overlay views and the switch choosing among them."""
    rgb = ("rgba.red", "rgba.green", "rgba.blue")
    matte = tuple(
        item
        for i, channel in enumerate(rgb)
        for item in ((f"from{i}", "rgba.alpha"), (f"to{i}", channel))
    )
    specs = [
        Spec("Copy", MATTE_VIEW, matte, (RESULT, RESULT)),
        Spec("Premult", CUTOUT, (), (RESULT,)),
    ]
    specs += overlay(objects, plate, slots)
    specs.append(
        Spec(
            "Switch",
            VIEW_SWITCH,
            (("which", Expression(VIEW_EXPRESSION)),),
            (RESULT, OVERLAY, MATTE_VIEW, CUTOUT),
        )
    )
    return specs


def overlay(
    objects: Sequence[ObjectInfo], plate: str, slots: Sequence[Tuple[str, int]]
) -> List[Spec]:
    """Each object's finished matte as a colour over the plate, the stale tint, the dots."""
    specs: List[Spec] = []
    previous = plate
    for index, obj in enumerate(objects):
        channel = f"obj{obj.id}.alpha"
        spread = tuple(
            item
            for i, to in enumerate(("rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"))
            for item in ((f"from{i}", channel), (f"to{i}", to))
        )
        colour = PALETTE[index % len(PALETTE)] + [1.0]
        copy, tint, over = f"SAM2TintCopy{obj.id}", f"SAM2Tint{obj.id}", f"SAM2Over{obj.id}"
        specs += [
            Spec("Copy", copy, spread, (FINISHED, FINISHED)),
            Spec("Multiply", tint, (("channels", "rgb"), ("value", colour)), (copy,)),
            Spec("Merge2", over, (("operation", "over"), ("mix", OVERLAY_MIX)), (previous, tint)),
        ]
        previous = over
    specs += [
        Spec("Multiply", STALE_TINT, (("channels", "rgb"), ("value", STALE_COLOUR)), (previous,)),
        Spec("Switch", STALE_SWITCH, (("which", 0),), (previous, STALE_TINT)),
    ]
    previous = STALE_SWITCH
    for slot, label in slots:
        name = dot_name(slot)
        knobs = (("color", DOT_COLOURS[label]), ("disable", True))
        specs.append(Spec("Rectangle", name, knobs, (previous,)))
        previous = name
    specs.append(Spec("Dot", OVERLAY, (), (previous,)))
    return specs


def dot_name(slot: str) -> str:
    return f"SAM2Dot_{slot}"


def dot_area(x: float, y: float, width: int) -> List[float]:
    """A small square around a Nuke-space point (its side scales with the format)."""
    half = max(1.0, round(width / 320.0))
    return [x - half, y - half, x + half, y + half]
