"""One open shot: its plate, prompt journal, matte cache, tracker session and engine.

Everything that changes a shot runs on the GPU worker thread; the I/O thread only reads state
and stores incoming frames (the frame store is thread-safe).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, TypeVar

import numpy as np
import torch

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting import phases
from sam2matting.backend.matting.base import MattePrior, MattingEngine
from sam2matting.backend.server.models import Choice, ModelPool
from sam2matting.backend.server.staleness import reached_through
from sam2matting.backend.shots.frame_store import FrameStore
from sam2matting.backend.shots.journal import ShotJournal
from sam2matting.backend.shots.matte_cache import CacheTransaction, DamagedMatteError, MatteCache
from sam2matting.backend.shots.reconcile import reconcile
from sam2matting.backend.shots.records import PromptRecord, ShotSettings
from sam2matting.backend.tracking.base import Prompt, TrackedFrame, TrackerSession
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import to_ranges as frame_ranges

log = logging.getLogger(__name__)
T = TypeVar("T")

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
        # A killed process, a disk fault or an outside edit may have left the cache disagreeing
        # with the journal: repair before any request sees it (reconcile.py).
        self.warnings: List[Dict[str, Any]] = self.store.warnings + reconcile(
            self.journal, self.cache
        )
        self._session: Optional[TrackerSession] = None
        # (frame, object, revision, choice) of the matte the last add_prompt wrote
        self._prompt_matte: Optional[Tuple[int, int, int, Choice]] = None
        self.lock = threading.RLock()  # shot state seen by the I/O thread and the worker
        self.last_used = time.monotonic()

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
            "warnings": list(self.warnings),
        }

    # ------------------------------------------------------------ tracker session

    @property
    def session(self) -> TrackerSession:
        """The tracker session, created on first use and fed the journal's prompts in order
        (after a backend restart, or after a failed change, the shot resumes from the journal)."""
        if self._session is None:
            tracker = self.models.tracker(self.choice.tracker, self.choice.tracker_params)
            session = tracker.open_session(self.store)
            for record in self.journal.prompts:
                prompt = self._replayable(record)
                if prompt is not None:
                    session.add_prompt(self.index(record.frame), record.object_id, prompt)
            self._session = session
            log.info(
                "shot %s: tracker session ready (%d prompts replayed)",
                self.shot_id,
                len(self.journal.prompts),
            )
        return self._session

    def _replayable(self, record: PromptRecord) -> Optional[Prompt]:
        """A journal prompt as the tracker gets it; a damaged mask file is left out (the open
        shot's warnings say so) rather than making the shot untrackable."""
        try:
            return self.journal.as_prompt(record)
        except ProtocolError:
            rest = replace(record, mask=None)
            if not rest.points and rest.box is None:
                return None
            return self.journal.as_prompt(rest)

    def reset_session(self) -> None:
        """Forget the tracker's state: the next use rebuilds it from the journal.

        Called whenever a change failed after the tracker took it (tracker = journal again).
        """
        if self._session is not None:
            log.warning(
                "shot %s: tracker state dropped; it is rebuilt from the journal", self.shot_id
            )
            self.release()

    def tracker_agrees(self) -> bool:
        """Whether the live tracker holds exactly the journal's objects and prompted frames."""
        if self._session is None:
            return True
        prompts: Dict[int, Set[int]] = {}
        for record in self.journal.prompts:
            if self._replayable(record) is not None:
                prompts.setdefault(record.object_id, set()).add(self.index(record.frame))
        for obj in set(prompts) | set(self.journal.objects):
            if self._session.conditioning_frames(obj) != prompts.get(obj, set()):
                return False
        return self._session.conditioning_frames() == set().union(*prompts.values())

    def release(self) -> None:
        """Drop the tracker session and decoded frames (memory); the journal and cache stay."""
        if self._session is not None:
            self._session.close()
            self._session = None
        self.store.release_memory()

    def conditioning_frames(self, obj_id: int) -> List[int]:
        return sorted({p.frame for p in self.journal.prompts_for(obj_id)})

    # ------------------------------------------------------------ prompts

    def add_prompt(
        self, frame: int, obj_id: int, name: str, prompt: Prompt
    ) -> Tuple[Path, List[int]]:
        """Segment `frame` with a new prompt; matte and cache it. Returns (matte path, stale
        frames): the frames of this object whose mattes now predate the change (kept, marked
        stale). A prompt on a frame that had one replaces it (`prompt.clear_old`).

        All or nothing: the tracker takes the prompt first (a prompt it refuses never enters
        the journal), then one transaction writes the frame's matte and commits the prompt to
        the journal. If anything fails, the matte file is put back, the journal is unchanged
        and the tracker is rebuilt from the journal.
        """
        index = self.index(frame)
        self.journal.check_prompt(frame, obj_id, prompt)
        was_prompted = frame in self.conditioning_frames(obj_id)
        try:
            tracked = self.session.add_prompt(index, obj_id, prompt)
            alphas = self.matte(tracked, [obj_id])
            alphas.setdefault(obj_id, self._empty())  # the tracker found nothing there
            done = self._retrying(
                lambda: self._commit_prompt(frame, obj_id, name, prompt, alphas, was_prompted)
            )
        except BaseException:
            self.reset_session()
            raise
        self._prompt_matte = (frame, obj_id, self.journal.revision, self.choice)
        return done

    def prompt_matte_current(self, frame: int, objects: Sequence[int], revision: int) -> bool:
        """Whether the matte `add_prompt` wrote on `frame` is what a job tracking `objects`
        from the journal at `revision` would write there: the same prompts (nothing changed
        since: `revision` is still the prompt's), the same object, tracker and engine, and the
        matte still valid (not replaced, not made stale by new plate pixels). The job then
        keeps it instead of matting the frame again (a second engine call of the same frame).
        """
        if self._prompt_matte is None:
            return False
        at, obj_id, made, choice = self._prompt_matte
        return (
            (at, made, choice) == (frame, revision, self.choice)
            and set(objects) == {obj_id}
            and self.journal.valid_revisions(obj_id).get(frame) == made
        )

    def _commit_prompt(
        self,
        frame: int,
        obj_id: int,
        name: str,
        prompt: Prompt,
        alphas: Dict[int, np.ndarray],
        was_prompted: bool,
    ) -> Tuple[Path, List[int]]:
        with self.cache.transaction() as files, self.journal.transaction() as revision:
            self.journal.add_prompt(frame, obj_id, name, prompt)
            stale = self._stale_after_change(frame, obj_id, was_prompted)
            self.journal.invalidate(obj_id, stale)
            path = self._write(files, frame, alphas, revision)
            self.journal.mark_valid(obj_id, [frame], revision)
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
        with self.lock, self.journal.transaction():  # one commit: all objects, or none
            return {obj: self.journal.invalidate(obj) for obj in self.journal.objects}

    def remove_object(self, obj_id: int) -> None:
        """Forget an object: journal and cache in one transaction, then the tracker."""
        if obj_id not in self.journal.objects:
            raise ProtocolError(
                ErrorCode.UNKNOWN_OBJECT,
                f"shot {self.shot_id} has no object {obj_id}",
                details={"object_id": obj_id},
            )
        self._retrying(lambda: self._commit_removal(obj_id))
        # Committed. The tracker is derived state: update it, or rebuild it from the journal.
        if self._session is not None:
            try:
                self._session.remove_object(obj_id)
            except Exception:  # any failure: the journal is the truth
                log.exception("tracker could not drop object %d", obj_id)
                self.reset_session()

    def _commit_removal(self, obj_id: int) -> None:
        holding = self._frames_holding(obj_id)
        with self.cache.transaction() as files, self.journal.transaction():
            self.journal.remove_object(obj_id)
            for frame in holding:
                files.drop_objects(frame, [obj_id])

    def _frames_holding(self, obj_id: int) -> List[int]:
        """Frames whose file has the object's channel (headers only: cheap)."""
        frames = []
        for frame in self.cache.frames():
            try:
                if obj_id in self.cache.header(frame).objects:
                    frames.append(frame)
            except DamagedMatteError:
                frames.append(frame)  # the removal reads it, meets the damage, sets it aside
            except ProtocolError:
                continue  # deleted meanwhile
        return frames

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

    def commit_frame(self, frame: int, alphas: Dict[int, np.ndarray], revision: int) -> Path:
        """A propagation job's frame: its mattes written and marked valid, all or nothing.

        `revision` is the journal revision whose prompts produced them (the job's). Objects
        removed since are left out; an object the tracker did not find is written empty.
        """

        def commit() -> Path:
            with self.cache.transaction() as files, self.journal.transaction():
                known = self.journal.objects
                kept = {o: a for o, a in alphas.items() if o in known}
                if not kept:  # every object was removed meanwhile: nothing to keep
                    return self.cache.path(frame)
                path = self._write(files, frame, kept, revision)
                for obj in kept:
                    self.journal.mark_valid(obj, [frame], revision)
                return path

        return self._retrying(commit)

    def _write(
        self, files: CacheTransaction, frame: int, alphas: Dict[int, np.ndarray], revision: int
    ) -> Path:
        names = self.journal.objects
        meta = {
            "shot": self.shot_id,
            "tracker": self.tracker_name,
            "engine": self.engine_name,
            "revision": str(revision),  # the prompts' revision, the same for a job's frames
        }
        return files.write(
            frame,
            alphas,
            {i: names.get(i, f"obj{i}") for i in alphas},
            meta,
            revisions=dict.fromkeys(alphas, revision),
        )

    def _empty(self) -> np.ndarray:
        return np.zeros((self.settings.height, self.settings.width), np.float32)

    def _retrying(self, change: Callable[[], T]) -> T:
        """Run a change; a damaged matte file it meets is set aside (its frame marked stale,
        in a transaction of its own) and the change runs again."""
        for _ in range(self.settings.last_frame - self.settings.first_frame + 2):
            try:
                return change()
            except DamagedMatteError as exc:
                self.quarantine(exc.frame)
        raise ProtocolError(ErrorCode.INTERNAL, f"shot {self.shot_id}: cache keeps failing")

    def quarantine(self, frame: int) -> None:
        """Set a damaged matte aside: its frame is stale for every object, the file kept."""
        with self.journal.transaction():
            for obj in self.journal.objects:
                self.journal.invalidate(obj, [frame])
        aside = self.cache.quarantine(frame)
        self.warnings.append(
            {
                "code": ErrorCode.DAMAGED_STATE.value,
                "message": f"the matte of frame {frame} was damaged and was set aside; track again",
                "path": str(aside) if aside else None,
            }
        )

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
        root,
        s.first_frame,
        s.last_frame,
        s.width,
        s.height,
        colourspace=s.colourspace,
        allowed_roots=config.allowed_roots,
        ocio_config=config.ocio_config or None,
    )


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
