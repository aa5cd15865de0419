"""One farm job as its tasks see it: the shot file, the plate, the job's frames and the priors.

Every task of a job (each object's Track, each chunk's Matte) rebuilds this from its command
line, so they agree on the plan without talking to each other: the plan is the one `render`
makes for the same shot and frames (`render/plan.py`), and a Track task runs its object's part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Protocol, Sequence, Set, Tuple

from sam2matting.backend.render.farm_store import FarmError, PriorStore, TrackKey
from sam2matting.backend.render.job import UNSEEDED
from sam2matting.backend.render.patterns import SequencePattern, check_within, sequence_pattern
from sam2matting.backend.render.plan import RenderPlan, plan_render
from sam2matting.backend.render.shot import RenderShot, load_render_shot
from sam2matting.protocol.frames import describe, padding


class TaskLog(Protocol):
    """What a task reports as it goes (the CLI prints it for the farm's task log)."""

    def start(self, frames: Sequence[int]) -> None:
        """The frames this run will produce (finished ones left out)."""

    def frame(self, frame: int, seconds: float) -> None:
        """One frame produced, in `seconds`."""


@dataclass(frozen=True)
class FarmJob:
    shot: RenderShot  # every prompted object: the job's outputs hold them all
    plate: SequencePattern
    frames: Tuple[int, int]  # the job's frames (every task gets them, for the plan)
    priors: PriorStore

    @classmethod
    def load(cls, shot_file: Path, plate: str, frames: Tuple[int, int], priors: Path) -> FarmJob:
        """Read the shot file and check the job's frames against it.

        Raises:
            UsageError: a bad pattern, shot file, or frames outside the shot.
        """
        shot = load_render_shot(shot_file, None)
        check_within(frames, shot.settings.first_frame, shot.settings.last_frame)
        s = shot.settings
        store = PriorStore(priors, padding(s.first_frame, s.last_frame))
        return cls(shot, sequence_pattern(plate, "plate pattern"), frames, store)

    def frame_list(self) -> List[int]:
        return list(range(self.frames[0], self.frames[1] + 1))

    def available(self) -> Set[int]:
        """Frames of the shot whose plate file exists."""
        s = self.shot.settings
        frames = range(s.first_frame, s.last_frame + 1)
        return {f for f in frames if self.plate.path(f).is_file()}

    def plate_roots(self, frames: List[int]) -> Tuple[Path, ...]:
        """Folders the tasks' frame store may read: the plate files' real folders."""
        paths = (self.plate.path(f) for f in frames)
        return tuple(sorted({p.resolve().parent for p in paths if p.is_file()}))

    def plan(self) -> RenderPlan:
        """The whole shot's tracking passes, as `render` plans them for these frames.

        Raises:
            FarmError: a prompted frame's plate is missing, so no tracker can be seeded.
        """
        available = self.available()
        lost = [f for f in self.shot.all_prompt_frames() if f not in available]
        if lost:
            frames = describe(lost)
            raise FarmError(
                f"{UNSEEDED.format(frames=frames)} ({self.plate.path(lost[0])})",
                "Restore the plate frames the prompts are on, or prompt on other frames in "
                "Nuke and export the farm job again.",
            )
        return plan_render(self.frame_list(), available, self.shot.prompt_frames)

    def key(self, tracker: str, engine: str) -> TrackKey:
        identity = self.shot.identity
        return TrackKey(identity.digest, identity.revision, tracker, engine)
