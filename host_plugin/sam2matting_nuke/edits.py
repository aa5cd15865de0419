"""The artist's edits to the prompt knobs, as prompts: pure functions on NodeState, no Nuke.

The knobs show one object's points (slots pos1.., neg1..), box and mask flag. What they show may
come from another frame (carried over); only what the artist touches on a frame becomes that
frame's prompt (a Draft until committed). Committing merges the draft into the frame's prompt:
touched slots replace theirs, unticked slots leave, untouched slots of that frame's own prompt
stay. Nothing here deletes anything but the one prompt an edit empties.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

from .state import Draft, NodeState, Prompt

Point = Tuple[float, float]


class Shown(NamedTuple):
    """What the prompt knobs display for one object."""

    points: Dict[str, Point]  # slot -> Nuke position, for the slots in use
    box: Optional[List[float]]
    mask: bool


def label_of(slot: str) -> int:
    return 1 if slot.startswith("pos") else 0


def _slot_key(slot: str) -> Tuple[int, int]:
    return (0 if slot.startswith("pos") else 1, int(slot[3:]))


def build_prompt(
    object_id: int, frame: int, points: Dict[str, Point], box: Optional[List[float]], mask: bool
) -> Prompt:
    slots = sorted(points, key=_slot_key)
    return Prompt(
        object_id,
        frame,
        [tuple(points[s]) for s in slots],  # type: ignore[misc]
        [label_of(s) for s in slots],
        None if box is None else list(box),
        bool(mask),
        slots=slots,
    )


def apply(draft: Draft, base: Optional[Prompt]) -> Prompt:
    """The prompt a draft makes of its frame's prompt (`base`, None when it has none)."""
    points: Dict[str, Point] = base.slot_points() if base is not None else {}
    for slot in draft.removed:
        points.pop(slot, None)
    points.update({s: (float(v[0]), float(v[1])) for s, v in draft.points.items()})
    box = draft.box if draft.box_touched else (base.box if base is not None else None)
    mask = draft.mask if draft.mask is not None else (base.mask if base is not None else False)
    prompt = build_prompt(draft.object_id, draft.frame, points, box, mask)
    if base is not None and prompt.mask == base.mask:
        prompt.mask_digest = base.mask_digest  # the same input 2 snapshot
    return prompt


def shown(state: NodeState, object_id: int, frame: int) -> Shown:
    """What the knobs show: the pending edit, else the frame's prompt, else the nearest one."""
    draft = state.draft(object_id)
    prompt: Optional[Prompt]
    if draft is not None:  # on a frame without a prompt, the edit is over what was carried
        base = state.prompt_at(object_id, draft.frame) or state.nearest_prompt(
            object_id, draft.frame
        )
        prompt = apply(draft, base)
    else:
        prompt = state.prompt_at(object_id, frame) or state.nearest_prompt(object_id, frame)
    if prompt is None:
        return Shown({}, None, False)
    return Shown(prompt.slot_points(), prompt.box, prompt.mask)


def draft_for(state: NodeState, object_id: int, frame: int) -> Tuple[Draft, Optional[int]]:
    """The object's draft on `frame`, made if needed. An edit pending on another frame is
    committed first (kept as that frame's prompt, sent with the next sync): its frame is
    returned so the artist can be told."""
    draft = state.draft(object_id)
    moved_from = None
    if draft is not None and draft.frame != frame:
        moved_from = draft.frame if commit(state, object_id) is not None else None
        draft = None
    if draft is None:
        draft = Draft(object_id, frame)
        state.drafts.append(draft)
    return draft, moved_from


def commit(state: NodeState, object_id: int) -> Optional[Tuple[int, Optional[Prompt]]]:
    """Make the object's draft its frame's prompt: (frame, prompt), or (frame, None) when the
    edit emptied it (the prompt is removed). None when there was nothing to commit."""
    draft = state.draft(object_id)
    state.drop_draft(object_id)
    if draft is None or draft.is_empty():
        return None
    prompt = apply(draft, state.prompt_at(object_id, draft.frame))
    if prompt.is_empty():
        state.remove_prompt(object_id, draft.frame)
        return draft.frame, None
    return draft.frame, state.set_prompt(prompt)


def confirm(state: NodeState, object_id: int, frame: int, knobs: Shown) -> Draft:
    """'Set prompt' with nothing touched on a frame that has no prompt: what the knobs show
    (carried over from another frame) becomes this frame's prompt."""
    state.drop_draft(object_id)
    draft = Draft(
        object_id,
        frame,
        points={s: [p[0], p[1]] for s, p in knobs.points.items()},
        box=knobs.box,
        box_touched=knobs.box is not None,
        mask=knobs.mask or None,
    )
    state.drafts.append(draft)
    return draft


def retrack_range(state: NodeState, object_id: int, frame: int) -> Tuple[int, int]:
    """The default re-track range: this frame up to the frame before the object's next
    prompted frame (it keeps its own matte), or the end of the range."""
    later = [f for f in state.prompted_frames(object_id) if f > frame]
    last = min(later) - 1 if later else state.last_frame
    return frame, max(frame, min(last, state.last_frame))
