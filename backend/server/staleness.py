"""Which cached mattes a prompt change makes stale (protocol 1.1, "Edits are prompts").

A track carries a prompt's effect along the frames it runs through, so a change on frame `f`
reaches the frames whose track passed through `f`: forward up to the next prompted frame, and
backward down to the previous one. Which sides that is depends on what `f` was:

- `f` was prompted already (the prompt is replaced or removed): both sides were tracked from it.
- `f` is newly prompted: the frames after it were tracked through it only if an earlier prompt
  exists (forward), the frames before it only if a later prompt exists (backward).

Pure functions of frame numbers; the journal records the result.
"""

from __future__ import annotations

from typing import Iterable, Set


def reached_through(
    frame: int, prompted: Iterable[int], first: int, last: int, was_prompted: bool
) -> Set[int]:
    """Frames of first..last whose track ran through `frame` (not `frame` itself).

    Args:
        prompted: the object's prompted frames other than `frame` (it is ignored if present).
        was_prompted: `frame` held a prompt of this object before the change.
    """
    others = sorted(f for f in set(prompted) if f != frame)
    before = [f for f in others if f < frame]
    after = [f for f in others if f > frame]
    reached: Set[int] = set()
    if before or was_prompted:
        reached.update(range(frame + 1, after[0] if after else last + 1))
    if after or was_prompted:
        reached.update(range(before[-1] + 1 if before else first, frame))
    return reached
