"""One render: which frames remain, sending the plate, running the passes, writing outputs.

Plate frames that are missing or that the backend cannot read are set aside and the passes
re-planned around them, so one bad file costs the frames that cannot be reached without it,
not the whole render.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from sam2matting.backend.render.client import (
    FRAME_ERRORS,
    matte_source,
    put_frames,
    run_propagation,
)
from sam2matting.backend.render.outputs import OutputSequence, object_alphas
from sam2matting.backend.render.plan import MISSING, RenderPlan, TrackPass, plan_render
from sam2matting.backend.render.progress import ProgressBar
from sam2matting.backend.render.shot import RenderShot
from sam2matting.protocol.client import Client
from sam2matting.protocol.envelope import Message
from sam2matting.protocol.errors import ProtocolError
from sam2matting.protocol.frames import SequencePattern, describe

log = logging.getLogger(__name__)

UNSEEDED = "prompted frame {frames} is missing or unreadable, so the tracker cannot be seeded"


class RenderJob:
    """The frames of one `render` command and their state."""

    def __init__(
        self,
        shot: RenderShot,
        plate: SequencePattern,
        output: SequencePattern,
        frames: Tuple[int, int],
        scratch: Path,
    ) -> None:
        self.shot = shot
        self.plate = plate
        self.output = output
        self.outputs = OutputSequence(
            output,
            shot.identity,
            (shot.settings.first_frame, shot.settings.last_frame),
            scratch / "staging",
        )
        self.count = frames[1] - frames[0] + 1
        asked = range(frames[0], frames[1] + 1)
        self.remaining = [f for f in asked if not self.outputs.finished(f)]
        self.written: List[int] = []
        self.skipped: Dict[int, str] = {}  # frame -> why it was not produced
        self.bad: Dict[int, str] = {}  # plate frames that cannot be used -> why
        self.tracker = self.engine = "?"
        self._sent: Set[int] = set()
        self._matted: Dict[int, Set[int]] = {}  # frame -> objects matted in this run
        self._targets: Set[int] = set()  # frames the current plan writes
        self._progress = ProgressBar(0, "tracking and matting")

    # ------------------------------------------------------------ plate

    def plate_roots(self) -> Tuple[Path, ...]:
        """Folders the backend may read plates from: each plate file's real folder."""
        s = self.shot.settings
        paths = (self.plate.path(f) for f in range(s.first_frame, s.last_frame + 1))
        return tuple(sorted({p.resolve().parent for p in paths if p.is_file()}))

    def available(self) -> Set[int]:
        s = self.shot.settings
        frames = range(s.first_frame, s.last_frame + 1)
        return {f for f in frames if f not in self.bad and self.plate.path(f).is_file()}

    # ------------------------------------------------------------ running

    def execute(self, client: Client, tracker: Optional[str], engine: Optional[str]) -> None:
        """Open the shot on the backend and produce every frame the plate allows.

        Raises:
            ProtocolError: a failure that is not about one plate frame.
        """
        shared = bool(client.describe()["shares_filesystem"])
        self._open(client, tracker, engine)
        while True:
            plan = self._plan()
            if plan is None:
                return
            needed = plan.frames_to_store(self.shot.all_prompt_frames())
            todo = {f: self.plate.path(f) for f in needed if f not in self._sent}
            refused = put_frames(client, self.shot.settings.shot_id, todo, shared)
            self._sent.update(todo)
            for frame, exc in refused.items():
                self.bad[frame] = f"unreadable plate: {exc.message}"
            if refused:
                continue  # re-plan around the refused frames
            if self._run_passes(client, plan, shared):
                self.skipped = dict(plan.skipped)
                return

    def _open(self, client: Client, tracker: Optional[str], engine: Optional[str]) -> None:
        """Open the shot; the shot file's options go with its own tracker and engine (a
        --tracker or --engine naming another one starts from that one's defaults)."""
        s = self.shot.settings
        content = {
            "shot_id": s.shot_id,
            "width": s.width,
            "height": s.height,
            "pixel_aspect": s.pixel_aspect,
            "first_frame": s.first_frame,
            "last_frame": s.last_frame,
            "colourspace": s.colourspace,
            "tracker": tracker or s.tracker,
            "engine": engine or s.engine,
            "tracker_params": _options(s.params, "tracker", tracker, s.tracker),
            "engine_params": _options(s.params, "engine", engine, s.engine),
        }
        state = client.request("open_shot_request", content).content
        self.tracker, self.engine = state["tracker"], state["engine"]
        log.info("shot %s open: tracker %s, engine %s", s.shot_id, self.tracker, self.engine)

    def _plan(self) -> Optional[RenderPlan]:
        """The passes for what is left, or None (with `skipped` set) when nothing can run."""
        left = [f for f in self.remaining if f not in self.written]
        available = self.available()
        lost = [f for f in self.shot.all_prompt_frames() if f not in available]
        if lost:
            why = UNSEEDED.format(frames=describe(lost))
            self.skipped = dict.fromkeys(left, why)
            return None
        plan = plan_render(left, available, self.shot.prompt_frames)
        for frame, why in plan.skipped.items():
            if why == MISSING and frame in self.bad:
                plan.skipped[frame] = self.bad[frame]
        if not plan.passes:
            self.skipped = dict(plan.skipped)
            return None
        return plan

    def _run_passes(self, client: Client, plan: RenderPlan, shared: bool) -> bool:
        """Run every pass; False when a plate frame failed mid-way (re-plan and go on)."""
        self._targets = set(plan.produced)
        self._progress = ProgressBar(
            sum(len(p.frames()) for p in plan.passes), "tracking and matting"
        )
        with self._progress:
            for track_pass in plan.passes:
                try:
                    self._run_pass(client, track_pass, shared)
                except ProtocolError as exc:
                    frame = self._bad_frame(exc)
                    if frame is None:
                        raise
                    log.warning("plate frame %d failed while tracking: %s", frame, exc.message)
                    self.bad[frame] = f"unreadable plate: {exc.message}"
                    return False
        unwritten = sorted(self._targets - set(self.written))
        for frame in unwritten:
            plan.skipped[frame] = "the backend produced no matte for it"
        return True

    def _run_pass(self, client: Client, track_pass: TrackPass, shared: bool) -> None:
        request = {
            "shot_id": self.shot.settings.shot_id,
            "start_frame": track_pass.start,
            "direction": track_pass.direction,
            "first_frame": track_pass.first,
            "last_frame": track_pass.last,
            "objects": list(track_pass.objects),
            "matte": "path" if shared else "exr",
        }

        def on_frame(frame: int, event: Message) -> None:
            self._matted.setdefault(frame, set()).update(track_pass.objects)
            if frame in self._targets and frame not in self.written:
                self._maybe_write(frame, event)

        run_propagation(client, request, on_frame, self._progress)

    def _maybe_write(self, frame: int, event: Message) -> None:
        """Write the frame's output once every rendered object has been matted on it."""
        if not set(self.shot.objects) <= self._matted[frame]:
            return
        s = self.shot.settings
        alphas = object_alphas(matte_source(event), self.shot.objects, (s.width, s.height))
        extra = {"tracker": self.tracker, "engine": self.engine}
        self.outputs.write(frame, alphas, self.shot.names, extra)
        self.written.append(frame)
        self._progress.note = f"{len(self.written)} written"

    def _bad_frame(self, exc: ProtocolError) -> Optional[int]:
        """The plate frame a job error is about, when it is about one frame's file."""
        if exc.code not in FRAME_ERRORS:
            return None
        frame = exc.details.get("frame")
        if isinstance(frame, int) and frame in self._sent:
            return frame
        image = exc.details.get("image")
        for sent in self._sent:
            if image is not None and str(self.plate.path(sent).resolve()) == image:
                return sent
        return None


def _options(
    params: Mapping[str, Any], side: str, override: Optional[str], own: str
) -> Dict[str, Any]:
    """The shot file's options of `side`, unless the command line chose another method."""
    if override not in (None, own):
        return {}
    return dict(params.get(side, {}))
