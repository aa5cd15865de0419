"""Which tracking passes a render needs: from each object's nearest prompted frame to its frames.

A tracker can only walk through frames it has pixels for, so the plate is cut into runs of
frames that exist; inside a run, an object's frames are reached from its prompted frame nearest
to them (the first prompted frame among them, else the closest one before or after), forward,
backward or both ways. A frame is produced only when every rendered object reaches it; the rest
are reported with the reason. Objects whose passes agree share one propagate request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from sam2matting.protocol.frames import to_ranges

MISSING = "the plate frame is missing or unreadable"
UNREACHABLE = "no prompt of object {obj} is reachable without crossing a missing plate frame"


@dataclass(frozen=True)
class TrackPass:
    """One propagate request: from `start`, over `first`..`last`, for `objects`."""

    start: int
    direction: str  # "forward" | "backward" | "both"
    first: int
    last: int
    objects: Tuple[int, ...] = ()

    def frames(self) -> List[int]:
        return list(range(self.first, self.last + 1))


@dataclass
class RenderPlan:
    passes: List[TrackPass] = field(default_factory=list)
    skipped: Dict[int, str] = field(default_factory=dict)  # frame -> why it cannot be produced
    produced: Set[int] = field(default_factory=set)  # wanted frames every object reaches

    def frames_to_store(self, prompt_frames: Iterable[int]) -> List[int]:
        """Plate frames the backend needs: every pass's range and every prompted frame."""
        frames = set(prompt_frames)
        for item in self.passes:
            frames.update(item.frames())
        return sorted(frames)


def plan_render(
    wanted: Iterable[int], available: Iterable[int], prompts: Mapping[int, Sequence[int]]
) -> RenderPlan:
    """Passes that produce as many `wanted` frames as the plate and prompts allow.

    Args:
        wanted: frames to write.
        available: frames whose plate file exists and is readable.
        prompts: object id -> its prompted frames.
    """
    wanted_set, have = set(wanted), set(available)
    skipped = dict.fromkeys(wanted_set - have, MISSING)
    reachable = wanted_set & have
    for obj, frames in prompts.items():
        _, reached = _object_passes(reachable, have, frames)
        for frame in reachable - reached:
            skipped.setdefault(frame, UNREACHABLE.format(obj=obj))
        reachable &= reached
    groups: Dict[Tuple[int, str, int, int], List[int]] = {}
    for obj, frames in prompts.items():
        for key in _object_passes(reachable, have, frames)[0]:
            groups.setdefault(key, []).append(obj)
    passes = [TrackPass(*key, objects=tuple(sorted(objs))) for key, objs in sorted(groups.items())]
    return RenderPlan(passes=passes, skipped=dict(sorted(skipped.items())), produced=reachable)


def _object_passes(
    wanted: Set[int], available: Set[int], prompt_frames: Sequence[int]
) -> Tuple[List[Tuple[int, str, int, int]], Set[int]]:
    """One object's passes (start, direction, first, last) and the wanted frames they reach."""
    passes: List[Tuple[int, str, int, int]] = []
    reached: Set[int] = set()
    prompted = sorted(set(prompt_frames))
    for run_first, run_last in to_ranges(available):
        here = sorted(f for f in wanted if run_first <= f <= run_last)
        seeds = [f for f in prompted if run_first <= f <= run_last]
        if not here or not seeds:
            continue
        start = _nearest_seed(seeds, here[0], here[-1])
        first, last = min(here[0], start), max(here[-1], start)
        passes.append((start, _direction(start, first, last), first, last))
        reached.update(here)
    return passes, reached


def _nearest_seed(seeds: Sequence[int], low: int, high: int) -> int:
    """The first prompted frame in [low, high], else the closest one outside (earlier on a tie)."""
    inside = [f for f in seeds if low <= f <= high]
    if inside:
        return inside[0]
    before: Optional[int] = max((f for f in seeds if f < low), default=None)
    after: Optional[int] = min((f for f in seeds if f > high), default=None)
    if after is None or (before is not None and low - before <= after - high):
        assert before is not None  # seeds is not empty
        return before
    return after


def _direction(start: int, first: int, last: int) -> str:
    if start == first:
        return "forward"
    if start == last:
        return "backward"
    return "both"
