"""A propagation job: planned segments of frames, advanced one frame per step by the worker.

Stepping one frame at a time is what makes cancel (within one frame) and pre-emption by
interactive prompts possible: between two steps the worker may run anything else. If something
else touched the job's shot meanwhile, the job restarts its tracker pass at its next frame.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

from sam2matting.backend.server.shot import Shot
from sam2matting.backend.shots.prefetch import AHEAD as PREFETCH_AHEAD
from sam2matting.backend.tracking.base import TrackedFrame
from sam2matting.protocol.envelope import Message
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import to_ranges as frame_ranges

log = logging.getLogger(__name__)


@dataclass
class Segment:
    """Frames `start` to `stop` inclusive, in the direction from one to the other."""

    start: int
    stop: int
    skip_first: bool = False  # the start frame was already matted by the previous segment

    @property
    def step(self) -> int:
        return 1 if self.stop >= self.start else -1

    def frames(self) -> List[int]:
        frames = list(range(self.start, self.stop + self.step, self.step))
        return frames[1:] if self.skip_first else frames


def plan(
    shot: Shot,
    start: Optional[int],
    direction: str,
    first: Optional[int],
    last: Optional[int],
) -> List[Segment]:
    """Segments for a propagate request; checks prompts, range and that the frames are stored."""
    s = shot.settings
    first = s.first_frame if first is None else first
    last = s.last_frame if last is None else last
    if not shot.journal.prompts:
        raise ProtocolError(ErrorCode.NO_PROMPT, f"shot {shot.shot_id} has no prompt to track from")
    if start is None:
        start = shot.journal.prompts[-1].frame  # the frame the artist worked on last
    for frame in (start, first, last):
        shot.index(frame)
    if not first <= start <= last:
        raise ProtocolError(
            ErrorCode.FRAME_OUT_OF_RANGE,
            f"start frame {start} is outside the range {first}-{last}",
            details={"frame": start},
        )
    segments = []
    if direction in ("forward", "both"):
        segments.append(Segment(start, last))
    if direction in ("backward", "both"):
        segments.append(Segment(start, first, skip_first=bool(segments)))
    missing = shot.store.missing(first, last)
    planned = {f for seg in segments for f in seg.frames()}
    lacking = sorted(planned & set(missing))
    if lacking:
        raise ProtocolError(
            ErrorCode.FRAME_MISSING,
            f"{len(lacking)} frames to track have no pixels yet: {frame_ranges(lacking)[:5]}",
            details={"missing": frame_ranges(lacking)},
        )
    return segments


class PropagationJob:
    """Tracks and mattes the planned frames; reports each frame through `on_frame`."""

    def __init__(
        self,
        shot: Shot,
        segments: Sequence[Segment],
        objects: Optional[Sequence[int]],
        request: Message,
        on_frame: Callable[[PropagationJob, int, Optional[Dict[int, np.ndarray]], int], None],
    ) -> None:
        self.request = request  # replies and events of the job answer this message
        self.client_id = str(request.header.get("client_id", ""))
        self.write_error: Optional[ProtocolError] = None  # set if a matte could not be written
        self.job_id = "job-" + uuid.uuid4().hex[:12]
        self.shot = shot
        self.segments = list(segments)
        self.objects = list(objects) if objects else list(shot.journal.objects)
        unknown = [o for o in self.objects if o not in shot.journal.objects]
        if unknown:
            raise ProtocolError(
                ErrorCode.UNKNOWN_OBJECT,
                f"shot {shot.shot_id} has no object {unknown[0]}",
                details={"object_id": unknown[0]},
            )
        self.on_frame = on_frame
        self.revision = shot.journal.revision
        self.total = len({f for seg in self.segments for f in seg.frames()})
        self.done = 0
        self.started = time.monotonic()
        self.cancel_requested = False
        self.held = False  # registered, but waits until its reply has been sent
        self.cancel_reason = "requested"  # one of messages.CANCEL_REASONS
        self.replaced_by: Optional[str] = None
        self._queue: List[List[int]] = [seg.frames() for seg in self.segments]
        self._pass: Optional[Iterator[TrackedFrame]] = None
        self._pass_next: Optional[int] = None

    @property
    def finished(self) -> bool:
        return not any(self._queue)

    def unchanged(self) -> List[List[int]]:
        planned = {f for frames in self._queue for f in frames}
        s = self.shot.settings
        return frame_ranges([f for f in range(s.first_frame, s.last_frame + 1) if f not in planned])

    def cancel(self, reason: str, replaced_by: Optional[str] = None) -> None:
        """Stop before the next frame; `reason` travels in the `cancelled` event."""
        if not self.cancel_requested:
            self.cancel_reason, self.replaced_by = reason, replaced_by
        self.cancel_requested = True

    def interrupt(self) -> None:
        """Something else changed the shot's tracker: restart the pass at the next frame.

        Frames from then on come from the shot's new prompts, so they carry its new revision.
        """
        self._pass = None
        self.revision = self.shot.journal.revision

    def step(self) -> None:
        """Track, matte and hand over one frame."""
        while self._queue and not self._queue[0]:
            self._queue.pop(0)
            self._pass = None
        frames = self._queue[0]
        frame = frames[0]
        # The next frames decode on the store's prefetch thread while this one is tracked and
        # matted. This frame is named too: it is most likely being decoded already (asked for
        # one step earlier), and only the frames named stay wanted. Kept across a pre-emption
        # (the pass resumes at this frame; a replaced plate frame is dropped by the store);
        # dropped when the job ends (GpuWorker._end).
        self.shot.store.prefetch([self.shot.index(f) for f in frames[: 1 + PREFETCH_AHEAD]])
        tracked = self._next_tracked(frame, frames[-1])  # tracked anyway: the pass needs it
        alphas: Optional[Dict[int, np.ndarray]] = None  # None: the cached matte is kept
        if not self.shot.prompt_matte_current(frame, self.objects, self.revision):
            alphas = self.shot.matte(tracked, self.objects)
            width, height = self.shot.settings.width, self.shot.settings.height
            for obj in self.objects:  # the tracker found nothing of it on this frame
                alphas.setdefault(obj, np.zeros((height, width), np.float32))
        frames.pop(0)
        self.done += 1
        self.on_frame(self, frame, alphas, self.revision)

    def _next_tracked(self, frame: int, stop: int) -> TrackedFrame:
        if self._pass is None or self._pass_next != frame:
            shot = self.shot
            if not shot.tracker_agrees():  # never track from state the journal does not hold
                log.error("shot %s: tracker disagrees with the journal", shot.shot_id)
                shot.reset_session()
            self._pass = shot.session.propagate(shot.index(frame), shot.index(stop), self.objects)
        tracked = next(self._pass)
        got = self.shot.frame_of(tracked.index)
        if got != frame:
            raise ProtocolError(
                ErrorCode.INTERNAL, f"tracker produced frame {got}, expected {frame}"
            )
        step = 1 if stop >= frame else -1
        self._pass_next = frame + step
        return tracked

    def elapsed(self) -> float:
        return time.monotonic() - self.started
