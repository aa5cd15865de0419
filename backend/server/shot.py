"""One open shot: its plate, prompt journal, matte cache, tracker session and engine.

Everything that changes a shot runs on the GPU worker thread; the I/O thread only reads state
and stores incoming frames (the frame store is thread-safe).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting import phases
from sam2matting.backend.matting.base import MattePrior, MattingEngine
from sam2matting.backend.server.models import Choice, ModelPool
from sam2matting.backend.server.staleness import reached_through
from sam2matting.backend.shots.frame_store import FrameStore
from sam2matting.backend.shots.journal import ShotJournal
from sam2matting.backend.shots.matte_cache import MatteCache
from sam2matting.backend.shots.records import ShotSettings
from sam2matting.backend.tracking.base import Prompt, TrackedFrame, TrackerSession
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import to_ranges as frame_ranges

log = logging.getLogger(__name__)

# Settings that define a shot's identity: re-opening with other values is a different shot.
_IDENTITY = ("width", "height", "first_frame", "last_frame")


class Shot:
    def __init__(
        self, settings: ShotSettings, root: Path, config: BackendConfig, models: ModelPool
    ):
        self.root = root
        self.models = models
        # Names and options are checked before anything is written: a refused choice changes
        # nothing on disk.
        self.choice = models.resolve(settings.tracker, settings.engine, settings.params)
        self.journal = ShotJournal.open_or_create(root, settings)
        self.settings = self.journal.settings
        _check_same_shot(self.settings, settings)
        s = self.settings
        self.store = plate_store(s, root, config)
        self.cache = MatteCache(
            root, s.shot_id, s.first_frame, s.last_frame, compression=config.exr_compression
        )
        self._session: Optional[TrackerSession] = None
        self.lock = threading.RLock()  # shot state seen by the I/O thread and the worker

    # ------------------------------------------------------------ identity and state

    @property
    def shot_id(self) -> str:
        return self.settings.shot_id

    def index(self, frame: int) -> int:
        if not self.settings.first_frame <= frame <= self.settings.last_frame:
            raise ProtocolError(
                ErrorCode.FRAME_OUT_OF_RANGE,
                f"frame {frame} is outside shot {self.shot_id} "
                f"({self.settings.first_frame}-{self.settings.last_frame})",
                details={"frame": frame},
            )
        return frame - self.settings.first_frame

    def frame_of(self, index: int) -> int:
        return index + self.settings.first_frame

    @property
    def tracker_name(self) -> str:
        return self.choice.tracker

    @property
    def engine_name(self) -> str:
        return self.choice.engine

    def reconfigure(self, settings: ShotSettings) -> bool:
        """The shot re-opened, maybe with another tracker, engine or options: check them, then
        switch (engines are stateless, the next frame uses the new one). Returns whether the
        tracker changed, in which case its session must be released (on the worker).

        Raises:
            ProtocolError: SHOT_MISMATCH for another format or range; the choice's errors
                (unknown, unavailable, bad option), with nothing changed.
        """
        _check_same_shot(self.settings, settings)
        choice: Choice = self.models.resolve(settings.tracker, settings.engine, settings.params)
        chosen = replace(
            self.settings, tracker=settings.tracker, engine=settings.engine, params=settings.params
        )
        with self.lock:
            if chosen != self.settings:
                self.journal.update_settings(chosen)
                self.settings = self.journal.settings
            old, self.choice = self.choice, choice
        return (old.tracker, old.tracker_params) != (choice.tracker, choice.tracker_params)

    def state(self) -> Dict[str, Any]:
        """The shot part of open_shot_reply."""
        return {
            "shot_id": self.shot_id,
            "revision": self.journal.revision,
            "objects": [{"id": i, "name": n} for i, n in self.journal.objects.items()],
            "prompts": [p.summary() for p in self.journal.prompts],
            "frames_stale": self.journal.stale_ranges(),
            "frames_stored": self.store.stored_ranges(),
            "frames_matted": frame_ranges(self.cache.frames()),
            "cache_dir": str(self.root),
            "matte_pattern": self.cache.pattern,
            "tracker": self.tracker_name,
            "engine": self.engine_name,
        }

    # ------------------------------------------------------------ tracker session

    @property
    def session(self) -> TrackerSession:
        """The tracker session, created on first use and fed the journal's prompts in order
        (after a backend restart the shot resumes without re-prompting)."""
        if self._session is None:
            tracker = self.models.tracker(self.choice.tracker, self.choice.tracker_params)
            session = tracker.open_session(self.store)
            for record in self.journal.prompts:
                session.add_prompt(
                    self.index(record.frame), record.object_id, self.journal.as_prompt(record)
                )
            self._session = session
            log.info(
                "shot %s: tracker session ready (%d prompts replayed)",
                self.shot_id,
                len(self.journal.prompts),
            )
        return self._session

    def release(self) -> None:
        """Drop the tracker session (its memory); the journal and cache stay."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def conditioning_frames(self, obj_id: int) -> List[int]:
        return sorted({p.frame for p in self.journal.prompts_for(obj_id)})

    # ------------------------------------------------------------ prompts

    def add_prompt(
        self, frame: int, obj_id: int, name: str, prompt: Prompt
    ) -> Tuple[Path, List[int]]:
        """Segment `frame` with a new prompt; matte and cache it. Returns (matte path, stale
        frames): the frames of this object whose mattes now predate the change (kept, marked
        stale). A prompt on a frame that had one replaces it (`prompt.clear_old`)."""
        index = self.index(frame)
        was_prompted = frame in self.conditioning_frames(obj_id)
        # The tracker first: a prompt it refuses must not enter the journal (it would be
        # replayed, and refused, after every restart).
        tracked = self.session.add_prompt(index, obj_id, prompt)
        with self.lock:
            self.journal.add_prompt(frame, obj_id, name, prompt)
        path = self.write_matte(frame, self.matte(tracked, [obj_id]))
        stale = self._stale_after_change(frame, obj_id, was_prompted)
        with self.lock:
            self.journal.invalidate(obj_id, stale)
            self.journal.mark_valid(obj_id, [frame])
        return path, stale

    def _stale_after_change(self, frame: int, obj_id: int, was_prompted: bool) -> List[int]:
        """Matted frames whose track ran through `frame` before its prompt changed
        (staleness.py has the rule)."""
        s = self.settings
        reached = reached_through(
            frame, self.conditioning_frames(obj_id), s.first_frame, s.last_frame, was_prompted
        )
        return sorted(reached & set(self.journal.valid_frames(obj_id)))

    def remove_prompt(self, frame: int, obj_id: int) -> List[int]:
        """Forget the object's prompt on `frame`; no matte is deleted. Returns the frames made
        stale: `frame` itself and those whose track ran through it."""
        self.index(frame)
        with self.lock:
            s = self.settings
            reached = reached_through(
                frame, self.conditioning_frames(obj_id), s.first_frame, s.last_frame, True
            )
            stale = self.journal.remove_prompt(frame, obj_id, reached | {frame})
        # The tracker memory holds the removed prompt: rebuilt from the journal on next use.
        self.release()
        return stale

    def plate_replaced(self) -> Dict[int, List[int]]:
        """Plate frames that were stored got new pixels: every matte is stale, per object.
        (The caller releases the tracker session on the GPU worker.)"""
        with self.lock:
            return {obj: self.journal.invalidate(obj) for obj in self.journal.objects}

    def remove_object(self, obj_id: int) -> None:
        if obj_id not in self.journal.objects:
            raise ProtocolError(
                ErrorCode.UNKNOWN_OBJECT, f"shot {self.shot_id} has no object {obj_id}",
                details={"object_id": obj_id},
            )  # fmt: skip
        if self._session is not None:
            self._session.remove_object(obj_id)
        with self.lock:
            self.journal.remove_object(obj_id)
            self.cache.invalidate(self.cache.frames(), [obj_id])

    # ------------------------------------------------------------ matting

    def matte(self, tracked: TrackedFrame, objects: Sequence[int]) -> Dict[int, np.ndarray]:
        """Alpha per object for one tracked frame, at plate resolution, float32 on the CPU."""
        rgb, priors = self.track_phase(tracked, objects)
        return phases.native_phase(self.engine(), rgb, priors)

    def track_phase(
        self, tracked: TrackedFrame, objects: Sequence[int]
    ) -> Tuple[torch.Tensor, Dict[int, MattePrior]]:
        """The engine's tracker-side phase (the farm's Track step stops here): the frame's RGB
        on the pipeline device and each found object's prior."""
        size = (self.settings.width, self.settings.height)
        rgb = self.store.rgb(tracked.index).to(self.models.device, non_blocking=True)
        return rgb, phases.track_phase(self.engine(), rgb, tracked, objects, size)

    def engine(self) -> MattingEngine:
        """The shot's matting engine with its options (loaded once, shared by shots)."""
        return self.models.engine(self.choice.engine, self.choice.engine_params)

    def write_matte(self, frame: int, alphas: Dict[int, np.ndarray]) -> Path:
        names = self.journal.objects
        meta = {
            "shot": self.shot_id,
            "tracker": self.tracker_name,
            "engine": self.engine_name,
            "revision": str(self.journal.revision),
        }
        if not alphas:  # the tracker lost every object: still a (black) matte, never a gap
            alphas = {
                obj: np.zeros((self.settings.height, self.settings.width), np.float32)
                for obj in names
            }
        return self.cache.write(frame, alphas, {i: names.get(i, f"obj{i}") for i in alphas}, meta)

    def mark_matted(self, objects: Iterable[int], frames: Iterable[int], revision: int) -> None:
        frames = list(frames)
        with self.lock:
            for obj_id in objects:
                if obj_id in self.journal.objects:
                    self.journal.mark_valid(obj_id, frames, revision)

    def release_caches(self) -> None:
        """After CUDA OOM: free what can be rebuilt (tracker session, decoded frames)."""
        self.release()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def plate_store(settings: ShotSettings, root: Path, config: BackendConfig) -> FrameStore:
    """The shot's frame store under `root`: its frames decoded and converted as the tracker and
    the engines see them (the farm's Matte step reads its plate through one too)."""
    s = settings
    return FrameStore(
        root, s.first_frame, s.last_frame, s.width, s.height,
        colourspace=s.colourspace, allowed_roots=config.allowed_roots,
        ocio_config=config.ocio_config or None,
    )  # fmt: skip


def _check_same_shot(existing: ShotSettings, wanted: ShotSettings) -> None:
    diffs = [
        f"{k} {getattr(existing, k)} != {getattr(wanted, k)}"
        for k in _IDENTITY
        if getattr(existing, k) != getattr(wanted, k)
    ]
    if diffs:
        raise ProtocolError(
            ErrorCode.SHOT_MISMATCH,
            f"shot {existing.shot_id} exists with another format or range: {', '.join(diffs)}",
            details={"shot_id": existing.shot_id},
        )
