"""The prompt knobs: eight + points, eight - points, a box and the mask flag, for one object.

Reading them gives what they show (edits.Shown); showing sets them. A slot not in use is hidden
in the panel and in the Viewer (both its checkbox and its handle), so only the points that exist
are on screen; Add + / Add - reveal the next slot with its handle at the centre of the format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional

from .edits import Point, Shown
from .knobs import point_knobs
from .state import NodeState

if TYPE_CHECKING:
    from .coords import Format
    from .host import NukeNode

SPREAD = 0.04  # new handles fan out from the centre by this fraction of the width per slot


def use_knob(slot: str) -> str:
    return "use_" + slot


def used_slots(node: NukeNode) -> List[str]:
    return [xy for use, xy, _label in point_knobs() if node.get_bool(use)]


def read(node: NukeNode, frame: int) -> Shown:
    """What the knobs show, in Nuke space (values at `frame` if a knob is animated)."""
    points: Dict[str, Point] = {s: node.get_xy(s, frame) for s in used_slots(node)}
    box = node.get_box("box", frame) if node.get_bool("use_box") else None
    return Shown(points, box, node.get_bool("use_mask"))


def show(node: NukeNode, shown: Shown) -> None:
    """Set the knobs to what `shown` holds; every other slot is unticked and hidden."""
    for use, xy, _label in point_knobs():
        point = shown.points.get(xy)
        if point is not None:
            node.set(xy, list(point))
        node.set(use, point is not None)
    node.set("use_box", shown.box is not None)
    if shown.box is not None:
        node.set("box", list(shown.box))
    node.set("use_mask", shown.mask)
    update_visibility(node)


def update_visibility(node: NukeNode) -> None:
    """Only slots in use appear, in the panel and as Viewer handles (INVISIBLE flag)."""
    for use, xy, _label in point_knobs():
        used = node.get_bool(use)
        node.set_visible(use, used)
        node.set_visible(xy, used)
    node.set_visible("box", node.get_bool("use_box"))


def free_slot(node: NukeNode, label: int) -> Optional[str]:
    for use, xy, slot_label in point_knobs():
        if slot_label == label and not node.get_bool(use):
            return xy
    return None


def place_new(node: NukeNode, slot: str, fmt: Format) -> Point:
    """Tick a slot and put its handle near the centre of the format's image area (fanned out
    per slot, so two new points never sit on each other)."""
    x0, y0, r, t = fmt.box
    index = int(slot[3:]) - 1
    sign = 1 if slot.startswith("pos") else -1
    point = ((x0 + r) / 2.0 + sign * (index + 1) * SPREAD * (r - x0), (y0 + t) / 2.0)
    node.set(slot, list(point))
    node.set(use_knob(slot), True)
    update_visibility(node)
    return point


def place_box(node: NukeNode, fmt: Format) -> List[float]:
    """The box, when first ticked, covers the middle of the image area."""
    x0, y0, r, t = fmt.box
    w, h = r - x0, t - y0
    box = [x0 + w / 4.0, y0 + h / 4.0, r - w / 4.0, t - h / 4.0]
    node.set("box", box)
    return box


def summary(state: NodeState) -> str:
    """One line per object: its prompted frames, what each holds, and an unsent edit."""
    lines = []
    for obj in state.objects:
        items = []
        for prompt in sorted(
            (p for p in state.prompts if p.object_id == obj.id), key=lambda p: p.frame
        ):
            parts = []
            pos = prompt.labels.count(1)
            neg = prompt.labels.count(0)
            if pos:
                parts.append(f"+{pos}")
            if neg:
                parts.append(f"-{neg}")
            if prompt.box is not None:
                parts.append("box")
            if prompt.mask:
                parts.append("mask")
            items.append(f"{prompt.frame} ({' '.join(parts)})")
        draft = state.draft(obj.id)
        pending = f"; unsent edit on {draft.frame}" if draft and not draft.is_empty() else ""
        lines.append(f"{obj.name}: {', '.join(items) if items else 'no prompt yet'}{pending}")
    return "\n".join(lines) if lines else "no objects"
