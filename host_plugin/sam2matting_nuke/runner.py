"""Running a node's jobs: the worker, the progress bar and its Cancel, and the main-thread half
of every job (renders, replies turned into state, status lines, reloading the cache Read).

Every method runs on Nuke's main thread; the worker reaches them through `_post` (later,
failures shown) or the host's run_in_main_with_result (renders).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Union

from . import build, cache_paths, frames, graph, jobs, messages, options, payloads, plate_files
from .debounce import Debouncer
from .jobs import CancelledError, JobUI
from .messages import UserError
from .plate_files import PlateFiles
from .viewer import Viewer

if TYPE_CHECKING:
    from .backend import Settings
    from .host import Progress
    from .nodeui import NodeUI
    from .state import NodeState
    from .worker import Worker

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.25
QUIET_ACTIVITIES = ("preview",)  # their failures go to the status line only (no dialog)


class JobRunner(JobUI):
    """The worker, the progress bar and the job callbacks of one node."""

    def __init__(self, ui: NodeUI, viewer: Viewer) -> None:
        self.ui = ui
        self.viewer = viewer
        self.worker: Optional[Worker] = None
        self.progress: Optional[Progress] = None
        self.activity: Optional[str] = None  # connect, prompt, preview, track, check
        self.describe: Optional[Dict[str, Any]] = None
        self.debouncer = Debouncer(0.5, ui.host.run_in_main)
        self._ticker_stop = threading.Event()
        self._cancel_sent = False
        self.plate_note = ""  # how this job's plate frames went, for the status line
        self.plate_by_path = False

    @property
    def idle(self) -> bool:
        return self.activity is None

    # ------------------------------------------------------------ submitting

    def submit(self, activity: str, job: Callable[..., Any], *args: Any) -> None:
        if not self.idle:
            raise UserError(
                f"{self.ui.node.name()} is busy ({self.activity}): wait, or press Cancel"
            )
        if not self._worker().submit(job, self, *args):
            raise UserError(
                f"{self.ui.node.name()} is still finishing a job: try again in a moment"
            )
        self.activity = activity
        self._cancel_sent = False
        self.plate_note, self.plate_by_path = "", False
        if activity in ("track", "check"):
            self.progress = self.ui.host.progress(f"SAM2Matte {self.ui.node.name()}")
            self.progress.update("Starting...", 0)
            self._ticker_stop.clear()
            threading.Thread(target=self._tick, daemon=True, name="sam2matting-ticker").start()

    def _worker(self) -> Worker:
        if self.worker is None:
            from .backend import load_settings
            from .worker import MainThread, Worker

            settings: Settings = load_settings()
            main = MainThread(self._post, self.ui.host.run_in_main_with_result)
            self.worker = Worker(
                settings, main, self.on_job_error, name="sam2matting-" + self.ui.node.name()
            )
        return self.worker

    def _post(self, call: Callable[..., Any], *args: Any) -> None:
        """From the worker: run a JobUI method on the main thread, failures shown, not lost."""
        self.ui.host.run_in_main(self._guarded, call, *args)

    def _guarded(self, call: Callable[..., Any], *args: Any) -> None:
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - Nuke would only print it; the artist sees it
            self.on_job_error(exc)

    # ------------------------------------------------------------ cancel and the end of a job

    def _tick(self) -> None:
        # The ProgressTask can only be asked on the main thread: ask it there, regularly.
        while not self._ticker_stop.wait(CANCEL_POLL_S):
            self.ui.host.run_in_main(self.poll_cancel)

    def poll_cancel(self) -> None:
        if self.progress is not None and self.progress.cancelled() and not self._cancel_sent:
            self.cancel()

    def cancel(self) -> None:
        self._cancel_sent = True
        self.ui.set_status("cancelling...")
        if self.worker is not None:
            self.worker.cancel()

    def _end_job(self) -> Optional[str]:
        self._ticker_stop.set()
        if self.progress is not None:
            self.progress.close()
            self.progress = None
        activity, self.activity = self.activity, None
        return activity

    def shutdown(self) -> None:
        self.debouncer.cancel_all()
        self._ticker_stop.set()
        if self.worker is not None:
            self.worker.shutdown()
            self.worker = None

    def on_job_error(self, exc: BaseException) -> None:
        activity = self._end_job()
        if self.ui.node.alive():
            self.ui.fail(exc, dialog=activity not in QUIET_ACTIVITIES)

    # ------------------------------------------------------------ JobUI: replies into state

    def on_described(self, describe: Dict[str, Any]) -> None:
        self.describe = describe
        state = self.ui.state()
        with self.ui.quiet():
            build.set_choices(
                self.ui.node, "tracker", messages.available(describe["trackers"]), state.tracker
            )
            build.set_choices(
                self.ui.node, "engine", messages.available(describe["engines"]), state.engine
            )
            options.sync(self.ui.node, describe, state.tracker, state.engine)
        self.ui.set_status(messages.status_from_describe(describe, state.tracker, state.engine))

    def on_shot_opened(self, reply: Dict[str, Any]) -> None:
        state = self.ui.state()
        where = str(reply["cache_dir"]).replace("\\", "/").rstrip("/")
        if not cache_paths.same_folder(where, self.ui.node.evaluated("cache_dir")):
            # The backend keeps the shot elsewhere (not under its allowed roots, or an older
            # backend): the node reads the mattes from where they are.
            log.warning("%s: the backend keeps the shot in %s", self.ui.node.name(), where)
            state.cache_dir = where
        state.matte_pattern = str(reply["matte_pattern"])
        state.revision = int(reply["revision"])
        state.stale = {str(s["object_id"]): s["ranges"] for s in reply.get("frames_stale", [])}
        self._save(state)
        with self.ui.quiet():
            self.ui.node.update("cache_dir", state.cache_dir)
            build.sync_read(self.ui.node, state)
        self.viewer.stale(state)

    def on_plate_route(self, note: str, by_path: bool) -> None:
        self.plate_note, self.plate_by_path = note, by_path
        self.ui.set_status(note)

    def on_sending(self, done: int, total: int, frame: int) -> None:
        how = " by path" if self.plate_by_path else ""
        text = f"Sending plate frames{how}: {done} of {total}"
        self.ui.set_status(text)
        if self.progress is not None:
            self.progress.update(text, int(100 * done / max(1, total)))

    def on_plate_digests(self, digests: Dict[int, str]) -> None:
        """What each plate frame was when sent; '' forgets a frame's (sent again unprobed)."""
        state = self.ui.state()
        for frame, digest in digests.items():
            if digest:
                state.plate_digests[str(frame)] = digest
            else:
                state.plate_digests.pop(str(frame), None)
        state.changed_inputs = [c for c in state.changed_inputs if not c.startswith("plate:")]
        self._save(state)

    def on_frames_put(self, reply: Dict[str, Any]) -> None:
        invalidated = reply.get("invalidated") or []
        if not invalidated:
            return
        state = self.ui.state()  # replaced plate frames: every object's mattes are stale
        for obj in state.objects:
            self._add_stale(state, obj.id, invalidated)
        state.resend_plate = False
        self._save(state)
        self.viewer.stale(state)

    def on_object_removed(self, reply: Dict[str, Any]) -> None:
        state = self.ui.state()
        state.removed_objects = [o for o in state.removed_objects if o != reply["object_id"]]
        self._save(state)
        self.viewer.reload(force=True)

    def on_prompt_removed(self, reply: Dict[str, Any]) -> None:
        state = self.ui.state()
        state.revision = int(reply["revision"])
        self._add_stale(state, int(reply["object_id"]), reply["invalidated"])
        self._save(state)
        self.viewer.stale(state)
        self.ui.set_status(
            f"prompt on frame {reply['frame']} removed; its mattes stay, marked stale"
        )

    def on_prompt_added(self, reply: Dict[str, Any], mask_digest: str) -> None:
        state = self.ui.state()
        state.revision = int(reply["revision"])
        object_id, frame = int(reply["object_id"]), int(reply["frame"])
        self._add_stale(state, object_id, reply["invalidated"])
        self._drop_stale(state, object_id, [frame])
        if mask_digest:
            prompt = state.prompt_at(object_id, frame)
            if prompt is not None:
                prompt.mask_digest = mask_digest
            state.sent_masks[payloads.mask_key(object_id, frame)] = mask_digest
            key = f"mask:{object_id}:{frame}"
            state.changed_inputs = [c for c in state.changed_inputs if c != key]
        self._save(state)
        self.viewer.reload(force=True)
        self.viewer.stale(state)
        self.ui.set_status(f"prompt on frame {frame} stored (revision {state.revision})")

    def on_inputs_checked(self, changed: List[str], checked: int) -> None:
        state = self.ui.state()
        state.changed_inputs = sorted(set(changed))
        self._save(state)
        self.ui.set_text("inputs_info", inputs_text(state, checked))

    def on_track_started(self, reply: Dict[str, Any]) -> None:
        text = f"Tracking {reply['frames_planned']} frames"
        self.ui.set_status(text)
        if self.progress is not None:
            self.progress.update(text, 0)

    def on_progress(self, event: Dict[str, Any]) -> None:
        text, percent = messages.progress_text(event)
        self.ui.set_status(text)
        if self.progress is not None:
            self.progress.update(text, percent)
        state = self.ui.state()
        for object_id in event["objects"]:
            self._drop_stale(state, int(object_id), [int(event["frame"])])
        self._save(state, keep_modified=True)
        self.viewer.reload()
        self.poll_cancel()

    def on_finished(self, kind: str, content: Dict[str, Any]) -> None:
        self._end_job()
        if kind == "connected":
            return  # on_described has set the status line
        state = self.ui.state()
        self.viewer.reload(force=True)
        with self.ui.quiet(keep_modified=True):
            build.report_cache(self.ui.node, state)
        self.viewer.stale(state)
        self.viewer.prompted(state)
        note = f"; {self.plate_note}" if self.plate_note else ""
        self.ui.set_status(finished_text(kind, content, state) + note)

    # ------------------------------------------------------------ renders (worker asks, waits)

    def render_plate(self, frames_: Sequence[int], folder: str) -> Dict[int, str]:
        pattern = (Path(folder) / "plate.####.exr").as_posix()
        self._render(graph.PLATE_CROP, frames_, pattern, "rgb", "the plate (input 1)")
        return {f: self._rendered(pattern, f) for f in frames_}

    def plate_read(self) -> str:
        read = plate_files.bare_read(self.ui.node)
        return read.name() if read is not None else ""

    def plate_files(self, frames_: Sequence[int]) -> Union[PlateFiles, str]:
        node = self.ui.node
        fmt = node.input_format(0)
        if fmt is None:
            return "input 1 is not connected"
        colourspace = str(node.get("colourspace"))
        return plate_files.resolve(node, self.ui.host, frames_, fmt, colourspace)

    def render_mask(self, object_id: int, frame: int, folder: str) -> str:
        if self.ui.node.input(1) is None:
            raise UserError(
                f"the prompt on frame {frame} uses input 2 as a mask, but input 2 is not connected"
            )
        pattern = jobs.mask_pattern(folder, object_id)
        self._render(graph.MASK_CROP, [frame], pattern, "alpha", "the mask (input 2)")
        return self._rendered(pattern, frame)

    def _render(
        self, source: str, frames_: Sequence[int], pattern: str, channels: str, what: str
    ) -> None:
        try:
            with self.ui.quiet(keep_modified=True):
                self.ui.node.render(source, frames_, pattern, channels)
        except RuntimeError as exc:
            if "cancel" in str(exc).lower():  # the artist cancelled Nuke's own render progress
                raise CancelledError() from exc
            ranges = frames.describe_ranges(frames.to_ranges(frames_))
            raise UserError(f"rendering {what} failed on frames {ranges}: {exc}") from exc

    @staticmethod
    def _rendered(pattern: str, frame: int) -> str:
        path = frames.frame_file(pattern, frame)
        if not Path(path).is_file():
            raise UserError(f"rendering frame {frame} wrote no file ({path})")
        return path

    # ------------------------------------------------------------ helpers

    def _save(self, state: NodeState, keep_modified: bool = False) -> None:
        with self.ui.quiet(keep_modified):
            build.save(self.ui.node, state)

    @staticmethod
    def _add_stale(state: NodeState, object_id: int, ranges: Sequence[Sequence[int]]) -> None:
        have = set(state.stale_frames(object_id)) | set(frames.from_ranges(ranges))
        _set_stale(state, object_id, have)

    @staticmethod
    def _drop_stale(state: NodeState, object_id: int, done: Sequence[int]) -> None:
        _set_stale(state, object_id, set(state.stale_frames(object_id)) - set(done))


def _set_stale(state: NodeState, object_id: int, frames_: set) -> None:  # type: ignore[type-arg]
    if frames_:
        state.stale[str(object_id)] = frames.to_ranges(frames_)
    else:
        state.stale.pop(str(object_id), None)


def finished_text(kind: str, content: Dict[str, Any], state: NodeState) -> str:
    stale = state.stale_frames()
    suffix = f"; stale: {frames.describe_ranges(frames.to_ranges(stale))}" if stale else ""
    if kind == "done":
        return f"tracked {content['frames_done']} frames in {content['elapsed_s']:.1f} s{suffix}"
    if kind == "cancelled":
        return f"cancelled after {content['frames_done']} frames (those stay in the cache)"
    if kind == "inputs_changed":
        return "not tracked: the plate changed since it was sent: press Re-send changed"
    if kind == "checked":
        changed = content["changed"]
        return "inputs changed: press Re-send changed" if changed else "inputs match what was sent"
    if content.get("preview") is not None:
        return f"prompt sent: the matte of frame {content['preview']} is up to date{suffix}"
    return f"backend up to date{suffix}"


def inputs_text(state: NodeState, checked: int) -> str:
    if not state.changed_inputs:
        return f"{checked} checked: the plate and the mask prompts match what was sent"
    names = {o.id: o.name for o in state.objects}
    lines = []
    for item in state.changed_inputs:
        kind, _, rest = item.partition(":")
        if kind == "plate":
            lines.append(f"the plate changed (frame {rest})")
        else:
            object_id, frame = rest.split(":")
            name = names.get(int(object_id), f"object {object_id}")
            lines.append(f"input 2 changed on frame {frame} ({name}'s mask prompt)")
    return "\n".join(lines) + "\npress Re-send changed (their mattes turn stale until re-tracked)"
