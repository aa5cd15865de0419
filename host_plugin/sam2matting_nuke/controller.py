"""One SAM2Matte node's main-thread logic: its buttons and its knob changes. Jobs (the worker,
progress, the main-thread half of each job) are in nodejobs.py.

Every method here runs on Nuke's main thread. Network work goes to the node's Worker; nothing
here waits on the backend.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Callable, Optional

from . import build, editor, farm_job, jobs, payloads, shot_file
from .knobs import EDITOR_KNOBS
from .messages import UserError
from .nodejobs import NodeJobs
from .state import NodeState, Prompt, Shot, new_shot_id

if TYPE_CHECKING:
    from .coords import Format


class Controller(NodeJobs):
    """Buttons (do_<name>) and knob changes of one SAM2Matte node."""

    def button(self, action: str) -> None:
        handler: Optional[Callable[[], None]] = getattr(self, "do_" + action, None)
        if handler is None:
            self.fail(UserError(f"unknown button {action!r}"))
            return
        try:
            handler()
        except Exception as exc:  # noqa: BLE001 - fail() shows it to the artist and logs it
            self.fail(exc)

    def do_connect(self) -> None:
        self.set_status("connecting...")
        self._submit("connect", jobs.connect_job)

    def do_add_object(self) -> None:
        state = self.state()
        name = self.host.get_input("Name of the new object", f"object{len(state.objects) + 1}")
        if not name:
            return
        state.add_object(name)
        self._objects_changed(state)

    def do_rename_object(self) -> None:
        state = self.state()
        obj = state.object(state.current_object)
        name = self.host.get_input(f"New name for {obj.name}", obj.name)
        if not name or name == obj.name:
            return
        state.rename_object(obj.id, name)
        self._objects_changed(state)

    def do_remove_object(self) -> None:
        state = self.state()
        obj = state.object(state.current_object)
        if len(state.objects) == 1:
            raise UserError(f"{obj.name} is the only object; rename it instead")
        count = len([p for p in state.prompts if p.object_id == obj.id])
        if not self.host.ask(f"Remove object {obj.name} and its {count} prompt(s)?"):
            return
        state.remove_object(obj.id)
        self._objects_changed(state)

    def _objects_changed(self, state: NodeState) -> None:
        self.save(state)
        with self.quiet():
            build.show_objects(self.node, state)
            editor.show_prompt(self.node, state.prompt_at(state.current_object, self.host.frame()))
        build.rebuild_output(self.host, self.node, state)

    def do_set_prompt(self) -> None:
        frame = self.host.frame()
        state = self.state()
        prompt = self._commit(state, frame)
        if prompt is None:
            raise UserError("tick at least one point, the box or the mask first")
        self._submit("prompt", jobs.sync_job, self.snapshot(state, preview=frame))
        self.set_status(f"sending the prompt on frame {frame}...")

    def do_clear_prompt(self) -> None:
        state = self.state()
        frame = self.host.frame()
        if state.remove_prompt(state.current_object, frame):
            self.save(state)
        with self.quiet():
            editor.show_prompt(self.node, None)
        self.set_status(f"no prompt for {state.object(state.current_object).name} on frame {frame}")

    def do_load_prompt(self) -> None:
        state = self.state()
        with self.quiet():
            editor.show_prompt(self.node, state.prompt_at(state.current_object, self.host.frame()))

    def do_input_range(self) -> None:
        found = self.node.input_range(0)
        if found is None:
            raise UserError("connect the plate to input 1 first")
        self.node.set("first_frame", found[0])
        self.node.set("last_frame", found[1])

    def do_track(self) -> None:
        self._track(from_current=False)

    def do_retrack(self) -> None:
        self._track(from_current=True)

    def do_cancel(self) -> None:
        if self.worker is None or self.idle:
            self.set_status("nothing to cancel")
            return
        self._request_cancel()

    def do_export_shot(self) -> None:
        path = self.host.get_filename("Export shot file", "*.json")
        if not path:
            return
        self.set_status(f"shot file written: {self.write_shot_file(path)}")

    def do_export_farm_job(self) -> None:
        farm_job.export(self)

    def write_shot_file(self, path: str) -> str:
        """Write the node's shot file to `path` (.json added); returns the path written."""
        if not path.endswith(".json"):
            path += ".json"
        state = self.state()
        fmt = self._shot(state).format
        shot_file.write(
            path, shot_file.build(state, fmt, state.cache_dir, str(self.node.get("colourspace")))
        )
        return path

    def _commit(self, state: NodeState, frame: int) -> Optional[Prompt]:
        """Store the prompt knobs as the current object's prompt on `frame` (None: empty)."""
        prompt = editor.read_prompt(self.node, state.current_object, frame)
        state.editor_dirty, state.editor_frame = False, frame
        if prompt.is_empty():
            state.remove_prompt(prompt.object_id, frame)
            self.save(state)
            return None
        fmt = self._plate_format()
        for point in prompt.points:
            if not (fmt.box[0] <= point[0] <= fmt.box[2] and fmt.box[1] <= point[1] <= fmt.box[3]):
                raise UserError(
                    f"a point at ({point[0]:.1f}, {point[1]:.1f}) is outside the plate {fmt.box}"
                )
        committed = state.set_prompt(prompt)
        self.save(state)
        return committed

    def _track(self, from_current: bool) -> None:
        state = self.state()
        if state.editor_dirty and state.editor_frame is not None:
            self._commit(state, state.editor_frame)
        latest = state.latest_prompt()
        if latest is None:
            raise UserError(
                "set a prompt first: tick a point, place it on the object and press "
                "'Set prompt on this frame'"
            )
        start = self.host.frame() if from_current else latest.frame
        if not state.first_frame <= start <= state.last_frame:
            raise UserError(
                f"frame {start} is outside the frame range {state.first_frame}-{state.last_frame}"
            )
        self._submit("track", jobs.sync_job, self.snapshot(state, start=start))

    def snapshot(
        self, state: NodeState, start: Optional[int] = None, preview: Optional[int] = None
    ) -> payloads.Snapshot:
        shot = self._shot(state)
        fmt = shot.format
        build.place_plate(self.node, fmt)
        if state.first_frame < shot.first_frame or state.last_frame > shot.last_frame:
            raise UserError(
                f"the frame range {state.first_frame}-{state.last_frame} is outside the plate's "
                f"{shot.first_frame}-{shot.last_frame}"
            )
        prompts = [
            payloads.payload(state, p, fmt) for p in sorted(state.prompts, key=lambda p: p.seq)
        ]
        return payloads.Snapshot(
            shot_id=state.shot_id,
            fmt=fmt,
            shot_first=shot.first_frame,
            shot_last=shot.last_frame,
            first=state.first_frame,
            last=state.last_frame,
            direction=state.direction,
            tracker=state.tracker,
            engine=state.engine,
            colourspace=str(self.node.get("colourspace")),
            objects=[(o.id, o.name) for o in state.objects],
            prompts=prompts,
            start=start,
            preview_frame=preview,
        )

    def _plate_format(self) -> Format:
        fmt = self.node.input_format(0)
        if fmt is None:
            raise UserError("connect the plate to input 1 first")
        return fmt

    def _shot(self, state: NodeState) -> Shot:
        """The shot's format and range; a new shot when the plate changed under the node."""
        fmt = self._plate_format()
        first, last = self.node.input_range(0) or (state.first_frame, state.last_frame)
        first, last = min(first, state.first_frame), max(last, state.last_frame)
        shot = state.shot
        if shot is not None and (
            shot.format != fmt or first < shot.first_frame or last > shot.last_frame
        ):
            if not self.host.ask(
                f"The plate of {self.node.name()} changed (format or frame range) since its "
                "shot was made.\n"
                "Start a new shot? Prompts are kept; frames are sent and tracked again."
            ):
                raise UserError("the plate changed: tracking needs a new shot (answer Yes)")
            shot_id = new_shot_id(self.host.script_path(), self.node.name(), secrets.token_hex(3))
            state.start_new_shot(shot_id, build.default_cache_dir(shot_id))
            shot = None
        if shot is None:
            shot = Shot(fmt.width, fmt.height, first, last, fmt.pixel_aspect, list(fmt.box))
            state.shot = shot
            self.save(state)
            self._set_cache_dir(state)
        return shot

    def knob_changed(self, name: str) -> None:
        """Cheap reactions only: never render or talk to the backend from here."""
        if self._quiet:
            return
        try:
            self._knob_changed(name)
        except Exception as exc:  # noqa: BLE001 - fail() shows it to the artist and logs it
            self.fail(exc)

    def _knob_changed(self, name: str) -> None:
        if name == "object":
            state = self.state()
            self.save(state)
            with self.quiet():
                editor.show_prompt(
                    self.node, state.prompt_at(state.current_object, self.host.frame())
                )
        elif name in EDITOR_KNOBS:
            state = self.state()
            state.editor_dirty, state.editor_frame = True, self.host.frame()
            self.save(state)
            with self.quiet():
                editor.update_visibility(self.node)
            if self.node.get_bool("live_preview"):
                self.debouncer.trigger(self.node.key, self.live_preview, state.editor_frame)
        elif name == "output":
            build.rebuild_output(self.host, self.node, self.state())
        elif name in ("cache_dir", "first_frame", "last_frame"):
            build.sync_read(self.node, self.state())
        elif name in ("tracker", "engine", "direction"):
            self.save(self.state())

    def live_preview(self, frame: int) -> None:
        """Debounced: send the edited prompt once the artist stopped dragging."""
        if not self.idle or not self.node.alive() or self.host.frame() != frame:
            return
        try:
            state = self.state()
            if self._commit(state, frame) is not None:
                self._submit("prompt", jobs.sync_job, self.snapshot(state, preview=frame))
        except Exception as exc:  # noqa: BLE001 - fail() shows it to the artist and logs it
            self.fail(exc)
