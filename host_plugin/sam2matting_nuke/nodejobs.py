"""The part of a SAM2Matte node's controller that runs its jobs: the worker, the progress bar,
cancel, and the main-thread half of every job (renders, status, reloading the cache Read).

Every method here runs on Nuke's main thread; the worker thread reaches them through
`_post` (later, failures shown) or the host's run_in_main_with_result (renders).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional, Sequence

from . import build, cache_paths, editor, frames, graph, messages, options
from .debounce import Debouncer
from .jobs import CancelledError, JobUI
from .messages import UserError
from .state import NodeState, StateError

if TYPE_CHECKING:
    from .backend import Settings
    from .host import NukeHost, NukeNode, Progress
    from .worker import Worker

log = logging.getLogger(__name__)

RELOAD_EVERY_S = 0.5  # re-read the cache at most this often while frames land
CANCEL_POLL_S = 0.25


class NodeJobs(JobUI):
    """State access, status line and job plumbing of one node."""

    def __init__(self, host: NukeHost, node: NukeNode) -> None:
        self.host = host
        self.node = node
        self.worker: Optional[Worker] = None
        self.progress: Optional[Progress] = None
        self.activity: Optional[str] = None  # "connect", "prompt" or "track" while a job runs
        self.describe: Optional[Dict[str, Any]] = None
        self.debouncer = Debouncer(0.5, host.run_in_main)
        self._quiet = 0
        self._last_reload = 0.0
        self._ticker_stop = threading.Event()
        self._cancel_sent = False

    @property
    def idle(self) -> bool:
        return self.activity is None

    def state(self) -> NodeState:
        state = build.load(self.node)
        name = str(self.node.get("object"))
        for obj in state.objects:
            if obj.name == name:
                state.current_object = obj.id
        return state

    def save(self, state: NodeState) -> None:
        with self.quiet():
            build.save(self.node, state)
            self.node.set("prompts_info", editor.summary(state))

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Knob changes made by the plugin itself are not artist edits."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def set_status(self, text: str) -> None:
        with self.quiet():
            self.node.set("status", text)

    def fail(self, exc: BaseException) -> None:
        """Never silent: status line, a dialog, and the log."""
        status, dialog = messages.error_texts(exc)
        if isinstance(exc, (UserError, ValueError, StateError)) or hasattr(exc, "hint"):
            log.warning("%s: %s", self.node.name(), exc)
        else:
            log.error("%s: unexpected error", self.node.name(), exc_info=exc)
        self.set_status(status)
        self.host.message(dialog)

    def _set_cache_dir(self, state: NodeState) -> None:
        with self.quiet():
            self.node.set("cache_dir", state.cache_dir)
        build.sync_read(self.node, state)

    def _submit(self, activity: str, job: Callable[..., Any], *args: Any) -> None:
        if not self.idle:
            raise UserError(f"{self.node.name()} is busy ({self.activity}): wait, or press Cancel")
        worker = self._worker()
        if not worker.submit(job, self, *args):
            raise UserError(f"{self.node.name()} is still finishing a job: try again in a moment")
        self.activity = activity
        self._cancel_sent = False
        if activity == "track":
            self.progress = self.host.progress(f"SAM2Matte {self.node.name()}")
            self.progress.update("Starting...", 0)
            self._ticker_stop.clear()
            threading.Thread(target=self._tick, daemon=True, name="sam2matting-ticker").start()

    def _worker(self) -> Worker:
        if self.worker is None:
            from .backend import load_settings
            from .worker import MainThread, Worker

            settings: Settings = load_settings()
            main = MainThread(self._post, self.host.run_in_main_with_result)
            self.worker = Worker(
                settings, main, self.on_job_error, name="sam2matting-" + self.node.name()
            )
        return self.worker

    def _post(self, call: Callable[..., Any], *args: Any) -> None:
        """From the worker: run a JobUI method on the main thread, failures shown, not lost."""
        self.host.run_in_main(self._guarded, call, *args)

    def _guarded(self, call: Callable[..., Any], *args: Any) -> None:
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - Nuke would only print it; the artist sees it
            self._end_job()
            if self.node.alive():
                self.fail(exc)

    def _tick(self) -> None:
        # The ProgressTask can only be asked on the main thread: ask it there, regularly.
        while not self._ticker_stop.wait(CANCEL_POLL_S):
            self.host.run_in_main(self.poll_cancel)

    def poll_cancel(self) -> None:
        if self.progress is not None and self.progress.cancelled() and not self._cancel_sent:
            self._request_cancel()

    def _request_cancel(self) -> None:
        self._cancel_sent = True
        self.set_status("cancelling...")
        if self.worker is not None:
            self.worker.cancel()

    def _end_job(self) -> None:
        self._ticker_stop.set()
        if self.progress is not None:
            self.progress.close()
            self.progress = None
        self.activity = None

    def shutdown(self) -> None:
        self.debouncer.cancel_all()
        self._ticker_stop.set()
        if self.worker is not None:
            self.worker.shutdown()
            self.worker = None

    def on_job_error(self, exc: BaseException) -> None:
        self._end_job()
        if self.node.alive():
            self.fail(exc)

    def on_described(self, describe: Dict[str, Any]) -> None:
        self.describe = describe
        state = self.state()
        with self.quiet():
            build.set_choices(
                self.node, "tracker", messages.available(describe["trackers"]), state.tracker
            )
            build.set_choices(
                self.node, "engine", messages.available(describe["engines"]), state.engine
            )
            options.sync(self.node, describe, state.tracker, state.engine)
        self.set_status(messages.status_from_describe(describe, state.tracker, state.engine))

    def on_shot_opened(self, reply: Dict[str, Any]) -> None:
        state = self.state()
        where = str(reply["cache_dir"]).replace("\\", "/").rstrip("/")
        if not cache_paths.same_folder(where, self.node.evaluated("cache_dir")):
            # The backend keeps the shot elsewhere (not under its allowed roots, or an older
            # backend): the node reads the mattes from where they are.
            log.warning("%s: the backend keeps the shot in %s", self.node.name(), where)
            state.cache_dir = where
        state.matte_pattern = str(reply["matte_pattern"])
        if reply["revision"] != state.revision:
            log.info(
                "%s: backend revision %s, node saw %s: prompts are compared and re-sent as needed",
                self.node.name(),
                reply["revision"],
                state.revision,
            )
        state.revision = int(reply["revision"])
        self.save(state)
        self._set_cache_dir(state)

    def on_sending(self, done: int, total: int, frame: int) -> None:
        text = f"Sending plate frames: {done} of {total}"
        self.set_status(text)
        if self.progress is not None:
            self.progress.update(text, int(100 * done / max(1, total)))

    def render_plate(self, frames_: Sequence[int], folder: str) -> Dict[int, str]:
        pattern = (Path(folder) / "plate.####.exr").as_posix()
        self._render(graph.PLATE_CROP, frames_, pattern, "rgb", "the plate (input 1)")
        return {f: self._rendered(pattern, f) for f in frames_}

    def render_mask(self, frame: int, folder: str) -> str:
        if self.node.input(1) is None:
            raise UserError(
                f"the prompt on frame {frame} uses input 2 as a mask, but input 2 is not connected"
            )
        pattern = (Path(folder) / "mask.####.exr").as_posix()
        self._render(graph.MASK_CROP, [frame], pattern, "alpha", "the mask (input 2)")
        return self._rendered(pattern, frame)

    def _render(
        self, source: str, frames_: Sequence[int], pattern: str, channels: str, what: str
    ) -> None:
        try:
            self.node.render(source, frames_, pattern, channels)
        except RuntimeError as exc:
            if "cancel" in str(exc).lower():  # the artist cancelled Nuke's own render progress
                raise CancelledError() from exc
            ranges = frames.describe_ranges(frames.to_ranges(frames_))
            raise UserError(f"rendering {what} failed on frames {ranges}: {exc}") from exc

    def _rendered(self, pattern: str, frame: int) -> str:
        path = frames.frame_file(pattern, frame)
        if not Path(path).is_file():
            raise UserError(f"rendering frame {frame} wrote no file ({path})")
        return path

    def on_prompt_added(self, reply: Dict[str, Any]) -> None:
        state = self.state()
        state.revision = int(reply["revision"])
        self.save(state)
        self._reload(force=True)
        self.set_status(f"prompt on frame {reply['frame']} stored (revision {state.revision})")

    def on_track_started(self, reply: Dict[str, Any]) -> None:
        text = f"Tracking {reply['frames_planned']} frames"
        self.set_status(text)
        if self.progress is not None:
            self.progress.update(text, 0)

    def on_progress(self, event: Dict[str, Any]) -> None:
        text, percent = messages.progress_text(event)
        self.set_status(text)
        if self.progress is not None:
            self.progress.update(text, percent)
        self._reload()
        self.poll_cancel()

    def on_finished(self, kind: str, content: Dict[str, Any]) -> None:
        self._end_job()
        if kind == "connected":
            return  # on_described has set the status line
        self._reload(force=True)
        with self.quiet():
            build.report_cache(self.node, self.state())
        if kind == "done":
            text = f"tracked {content['frames_done']} frames in {content['elapsed_s']:.1f} s"
        elif kind == "cancelled":
            text = f"cancelled after {content['frames_done']} frames (those stay in the cache)"
        elif content.get("preview") is not None:
            text = f"prompt sent: the matte of frame {content['preview']} is up to date"
        else:
            text = "backend up to date"
        self.set_status(text)

    def _reload(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_reload >= RELOAD_EVERY_S:
            read = self.node.child(graph.MATTE_READ)
            if read is not None:
                read.reload()
            self._last_reload = now
