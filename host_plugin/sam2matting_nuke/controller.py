"""One SAM2Matte node's controller: its buttons and its knob changes, routed to small parts.

    NodeUI       the node's state, status line and failures (nodeui.py)
    PromptEditor the artist's edits as drafts and prompts, objects (promptedit.py)
    Viewer       the insides that follow the edits: dots, finishing, stale tint (viewer.py)
    ShotSync     the shot and the snapshot a job sends (shotsync.py)
    JobRunner    the worker, progress, and the main-thread half of jobs (runner.py)

Every method runs on Nuke's main thread; nothing here waits on the backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from . import build, cache_paths, edits, farm_job, jobs, options, shot_file
from .knobs import EDITOR_KNOBS, FINISH_KNOBS
from .messages import UserError
from .nodeui import NodeUI
from .promptedit import PromptEditor
from .runner import JobRunner
from .shotsync import ShotSync
from .state import NodeState
from .viewer import Viewer

if TYPE_CHECKING:
    from .debounce import Debouncer
    from .host import NukeHost, NukeNode


class Controller:
    """Buttons (see `_buttons`) and knob changes of one SAM2Matte node."""

    def __init__(self, host: NukeHost, node: NukeNode) -> None:
        self.ui = NodeUI(host, node)
        self.viewer = Viewer(self.ui)
        self.prompts = PromptEditor(self.ui, self.viewer)
        self.sync = ShotSync(self.ui)
        self.runner = JobRunner(self.ui, self.viewer)
        if not node.has_knob("view"):  # made by an older plugin: add what it lacks
            with self.ui.quiet():
                build.upgrade(host, node, self.ui.state())

    # ------------------------------------------------------------ what callers and tests see

    @property
    def node(self) -> NukeNode:
        return self.ui.node

    @property
    def idle(self) -> bool:
        return self.runner.idle

    @property
    def activity(self) -> Optional[str]:
        return self.runner.activity

    @property
    def debouncer(self) -> Debouncer:
        return self.runner.debouncer

    def state(self) -> NodeState:
        return self.ui.state()

    def set_status(self, text: str) -> None:
        self.ui.set_status(text)

    def shutdown(self) -> None:
        self.runner.shutdown()

    # ------------------------------------------------------------ buttons

    def _buttons(self) -> Dict[str, Callable[[], None]]:
        p = self.prompts
        return {
            "connect": lambda: self._submit("connect", jobs.connect_job),
            "add_object": p.add_object,
            "rename_object": p.rename_object,
            "remove_object": self.remove_object,
            "add_pos": lambda: self._note(f"{p.add_point(1)} added: drag it onto the object"),
            "add_neg": lambda: self._note(f"{p.add_point(0)} added: drag it onto the background"),
            "remove_point": lambda: self._note(f"{p.remove_point()} removed"),
            "set_prompt": self.set_prompt,
            "clear_prompt": self.clear_prompt,
            "load_prompt": lambda: self._note(p.load()),
            "input_range": self.input_range,
            "track": self.track,
            "retrack": self.retrack,
            "cancel": self.cancel,
            "check_inputs": self.check_inputs,
            "resend": self.resend,
            "export_shot": self.export_shot,
            "export_farm_job": self.export_farm_job,
        }

    def button(self, action: str) -> None:
        handler = self._buttons().get(action)
        if handler is None:
            self.ui.fail(UserError(f"unknown button {action!r}"))
            return
        try:
            handler()
        except Exception as exc:  # noqa: BLE001 - fail() shows it to the artist and logs it
            self.ui.fail(exc)

    def add_point_at(self, label: int, x: float, y: float) -> Optional[str]:
        """A Ctrl+click in the Viewer (viewer_click.py): a point there, as if added and
        dragged. Failures go to the status line (no dialog per click)."""
        try:
            slot = self.prompts.add_point_at(label, x, y)
        except Exception as exc:  # noqa: BLE001 - shown on the status line and logged
            self.ui.fail(exc, dialog=False)
            return None
        self._note(f"{slot} added where you clicked ({x:.0f}, {y:.0f})")
        if self.node.get_bool("live_preview"):
            self.debouncer.trigger(self.node.key, self.live_preview, self.ui.host.frame())
        return slot

    def _note(self, text: Optional[str]) -> None:
        if text:
            self.ui.set_status(text)

    def _submit(self, activity: str, job: Callable[..., Any], *args: Any) -> None:
        self.runner.submit(activity, job, *args)

    def remove_object(self) -> None:
        self.prompts.remove_object()

    def set_prompt(self) -> None:
        frame = self.prompts.set_prompt()
        state = self.ui.state()
        self._submit("prompt", jobs.sync_job, self.sync.snapshot(state, preview=frame))
        self.ui.set_status(f"sending the prompt on frame {frame}...")

    def clear_prompt(self) -> None:
        frame = self.prompts.clear()
        state = self.ui.state()
        self._submit("prompt", jobs.sync_job, self.sync.snapshot(state))
        self.ui.set_status(f"removing the prompt on frame {frame} (its mattes stay)...")

    def input_range(self) -> None:
        found = self.node.input_range(0)
        if found is None:
            raise UserError("connect the plate to input 1 first")
        self.node.set("first_frame", found[0])
        self.node.set("last_frame", found[1])

    def track(self) -> None:
        """Every object, over the frame range, both ways from the latest prompt."""
        state = self._committed()
        latest = state.latest_prompt()
        if latest is None:
            raise UserError(
                "set a prompt first: press Add +, drag the point onto the object and press "
                "'Set prompt on this frame'"
            )
        self._in_range(state, latest.frame)
        self._submit("track", jobs.sync_job, self.sync.snapshot(state, start=latest.frame))

    def retrack(self) -> None:
        """This frame's edits, then the current object over In-Out (default: from this frame
        to the frame before its next prompt, or the end)."""
        state = self._committed()
        frame = self.ui.host.frame()
        self._in_range(state, frame)
        if self.node.get_bool("use_range"):
            first, last = sorted(
                (self.node.get_int("retrack_in"), self.node.get_int("retrack_out"))
            )
        else:
            first, last = edits.retrack_range(state, state.current_object, frame)
            with self.ui.quiet():
                self.node.set("retrack_in", first)
                self.node.set("retrack_out", last)
        start = min(max(frame, first), last)
        for f in (first, last):
            self._in_range(state, f)
        snap = self.sync.snapshot(
            state, start=start, span=[first, last], objects=[state.current_object]
        )
        self._submit("track", jobs.sync_job, snap)

    def _committed(self) -> NodeState:
        state = self.ui.state()
        if self.prompts.commit_all(state):
            self.ui.save(state)
            self.prompts.show(state)
        return state

    @staticmethod
    def _in_range(state: NodeState, frame: int) -> None:
        if not state.first_frame <= frame <= state.last_frame:
            raise UserError(
                f"frame {frame} is outside the frame range {state.first_frame}-{state.last_frame}"
            )

    def cancel(self) -> None:
        if self.runner.worker is None or self.runner.idle:
            self.ui.set_status("nothing to cancel")
            return
        self.runner.cancel()

    def check_inputs(self) -> None:
        state = self.ui.state()
        self._submit("check", jobs.check_job, self.sync.snapshot(state))

    def resend(self) -> None:
        """Send the changed plate / mask prompts again: masks are snapshotted anew."""
        state = self.ui.state()
        if not state.changed_inputs:
            raise UserError("nothing changed since the last check: press Check inputs first")
        for item in state.changed_inputs:
            kind, _, rest = item.partition(":")
            if kind == "plate":
                state.resend_plate = True
            else:
                object_id, frame = (int(v) for v in rest.split(":"))
                prompt = state.prompt_at(object_id, frame)
                if prompt is not None:
                    prompt.mask_digest = ""  # a new snapshot of input 2 at the next send
        self.ui.save(state)
        self._submit("prompt", jobs.sync_job, self.sync.snapshot(state))

    def export_shot(self) -> None:
        cache = self.node.evaluated("cache_dir")
        path = self.ui.host.get_filename("Export shot file", "*.json", cache_paths.shot_file(cache))
        if not path:
            return
        self.ui.set_status(f"shot file written: {self.write_shot_file(path)}")

    def export_farm_job(self) -> None:
        farm_job.export(self)

    def write_shot_file(self, path: str) -> str:
        """Write the node's shot file to `path` (.json added); returns the path written."""
        if not path.endswith(".json"):
            path += ".json"
        state = self.ui.state()
        fmt = self.sync.shot(state).format
        params = options.values(self.node, state.tracker, state.engine)
        colourspace = str(self.node.get("colourspace"))
        cache = self.node.evaluated("cache_dir")
        shot_file.write(path, shot_file.build(state, fmt, cache, colourspace, params))
        return path

    # ------------------------------------------------------------ knob changes

    def knob_changed(self, name: str) -> None:
        """Cheap reactions only: never render or talk to the backend from here."""
        if self.ui.is_quiet:
            return
        try:
            self._knob_changed(name)
        except Exception as exc:  # noqa: BLE001 - fail() shows it to the artist and logs it
            self.ui.fail(exc)

    def _knob_changed(self, name: str) -> None:
        if name == "object":
            self.prompts.object_switched()
        elif name in EDITOR_KNOBS:
            self._note(self.prompts.touched(name))
            if self.node.get_bool("live_preview"):
                self.debouncer.trigger(self.node.key, self.live_preview, self.ui.host.frame())
        elif name in FINISH_KNOBS:
            self.prompts.finishing_changed(name)
        elif name == "output":
            state = self.ui.state()
            self.viewer.rebuild(
                state, edits.shown(state, state.current_object, self.ui.host.frame())
            )
        elif name in ("cache_dir", "first_frame", "last_frame"):
            with self.ui.quiet():
                build.sync_read(self.node, self.ui.state())
        elif name in ("tracker", "engine"):
            state = self.ui.state()
            self.ui.save(state)
            with self.ui.quiet():
                options.show(self.node, state.tracker, state.engine)
        elif name == "view" and self.node.get("view") != "result":
            # $gui is documented 0 at render time, but not for renders started in the GUI:
            # the render check fails those while the view is not the result (render_check.py).
            self.ui.set_status(
                f"view: {self.node.get('view')} (renders in this session fail until it is back "
                "on result; the farm always gets the result)"
            )
        elif name == "inputChange":  # unverified knob name: a hint only, nothing depends on it
            self.ui.set_text("inputs_info", "an input was reconnected: press Check inputs")

    def live_preview(self, frame: int) -> None:
        """Debounced: send the edited prompt once the artist stopped dragging. Its failures
        go to the status line only (one per pause in a drag would be a flood of dialogs)."""
        if not self.runner.idle or not self.node.alive() or self.ui.host.frame() != frame:
            return
        try:
            state = self.ui.state()
            draft = state.draft(state.current_object)
            if draft is None or draft.is_empty():
                return
            committed = self.prompts.commit_all(state)
            self.ui.save(state)
            snap = self.sync.snapshot(state, preview=committed[-1] if committed else frame)
            self._submit("preview", jobs.sync_job, snap)
        except Exception as exc:  # noqa: BLE001 - shown on the status line and logged
            self.ui.fail(exc, dialog=False)
