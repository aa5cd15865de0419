"""The prompt knobs: four + points, four - points, a box and the mask flag, for one object on
one frame. Reading them gives a Prompt in Nuke space; showing a Prompt sets them."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Tuple

from .knobs import POINT_SLOTS, point_knobs
from .state import NodeState, Prompt

if TYPE_CHECKING:
    from .host import NukeNode


def read_prompt(node: NukeNode, object_id: int, frame: int) -> Prompt:
    """The prompt the knobs describe on `frame` (values taken at that frame if animated)."""
    points: List[Tuple[float, float]] = []
    labels: List[int] = []
    for use, xy, label in point_knobs():
        if node.get_bool(use):
            points.append(node.get_xy(xy, frame))
            labels.append(label)
    box = node.get_box("box", frame) if node.get_bool("use_box") else None
    return Prompt(object_id, frame, points, labels, box, node.get_bool("use_mask"))


def show_prompt(node: NukeNode, prompt: Optional[Prompt]) -> None:
    """Set the knobs to a prompt (unused slots unticked, their handles hidden)."""
    positives = [p for p, lab in zip(prompt.points, prompt.labels) if lab == 1] if prompt else []
    negatives = [p for p, lab in zip(prompt.points, prompt.labels) if lab == 0] if prompt else []
    if len(positives) > POINT_SLOTS or len(negatives) > POINT_SLOTS:
        raise ValueError(f"a prompt holds at most {POINT_SLOTS} points of each sign")
    for use, xy, label in point_knobs():
        pool = positives if label == 1 else negatives
        if pool:
            node.set(xy, list(pool.pop(0)))
            node.set(use, True)
        else:
            node.set(use, False)
    has_box = prompt is not None and prompt.box is not None
    node.set("use_box", has_box)
    if prompt is not None and prompt.box is not None:
        node.set("box", list(prompt.box))
    node.set("use_mask", bool(prompt and prompt.mask))
    update_visibility(node)


def update_visibility(node: NukeNode) -> None:
    """Show a point's handle only when its slot is in use (the Viewer draws visible XY knobs)."""
    for use, xy, _label in point_knobs():
        node.set_visible(xy, node.get_bool(use))
    node.set_visible("box", node.get_bool("use_box"))


def summary(state: NodeState) -> str:
    """One line per object: its prompted frames and what each prompt holds."""
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
        lines.append(f"{obj.name}: {', '.join(items) if items else 'no prompt yet'}")
    return "\n".join(lines) if lines else "no objects"
