"""The artist's prompt editing and objects, on the main thread: knob edits become drafts (only
what was touched on a frame), buttons commit them, objects keep their edits when switched.

Nothing here talks to the backend; the controller syncs after the buttons that need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

from . import build, editor, edits
from .knobs import FINISH_KNOBS
from .messages import UserError
from .state import Draft, NodeState

if TYPE_CHECKING:
    from .coords import Format
    from .nodeui import NodeUI
    from .viewer import Viewer


class PromptEditor:
    def __init__(self, ui: NodeUI, viewer: Viewer) -> None:
        self.ui = ui
        self.viewer = viewer

    @property
    def frame(self) -> int:
        return self.ui.host.frame()

    def plate_format(self) -> Format:
        fmt = self.ui.node.input_format(0)
        if fmt is None:
            raise UserError("connect the plate to input 1 first")
        return fmt

    # ------------------------------------------------------------ knob edits -> drafts

    def touched(self, name: str) -> Optional[str]:
        """Record an edit of prompt knob `name` on this frame; returns a note for the artist."""
        state = self.ui.state()
        node, frame = self.ui.node, self.frame
        draft, moved_from = edits.draft_for(state, state.current_object, frame)
        if name.startswith("use_") and name[4:7] in ("pos", "neg"):
            self._ticked(state, draft, name[4:])
        elif name[:3] in ("pos", "neg"):
            if node.get_bool("use_" + name):
                draft.points[name] = list(node.get_xy(name, frame))
                draft.added = [s for s in draft.added if s != name]
        elif name == "use_box":
            if node.get_bool("use_box"):
                with self.ui.quiet():
                    editor.place_box(node, self.plate_format())
            else:
                draft.box, draft.box_touched = None, True
        elif name == "box" and node.get_bool("use_box"):
            draft.box, draft.box_touched = node.get_box("box", frame), True
        elif name == "use_mask":
            draft.mask = node.get_bool("use_mask")
        if draft.is_empty() and not draft.added:
            state.drop_draft(draft.object_id)
        self._after_edit(state)
        if moved_from is not None:
            return (
                f"your edit on frame {moved_from} is kept as its prompt (sent with the next sync)"
            )
        return None

    def _ticked(self, state: NodeState, draft: Draft, slot: str) -> None:
        if self.ui.node.get_bool("use_" + slot):
            if slot in draft.removed:
                draft.removed.remove(slot)
            elif slot not in draft.added:
                draft.added.append(slot)
            return
        draft.points.pop(slot, None)
        draft.added = [s for s in draft.added if s != slot]
        base = state.prompt_at(draft.object_id, draft.frame)
        if base is not None and slot in base.slots and slot not in draft.removed:
            draft.removed.append(slot)

    def _after_edit(self, state: NodeState) -> None:
        self.ui.save(state)
        with self.ui.quiet():
            editor.update_visibility(self.ui.node)
        self.viewer.dots(editor.read(self.ui.node, self.frame))

    def add_point(self, label: int) -> str:
        slot = editor.free_slot(self.ui.node, label)
        if slot is None:
            raise UserError(f"all {'+' if label else '-'} points are in use")
        with self.ui.quiet():
            editor.place_new(self.ui.node, slot, self.plate_format())
        self.touched("use_" + slot)
        return slot

    def add_point_at(self, label: int, x: float, y: float) -> str:
        """A new point placed at (x, y) in Nuke pixels (a Viewer click), as if dragged there."""
        x0, y0, r, t = self.plate_format().box
        if not (x0 <= x <= r and y0 <= y <= t):
            raise UserError(f"({x:.0f}, {y:.0f}) is outside the plate: no point added")
        slot = self.add_point(label)
        with self.ui.quiet():
            self.ui.node.set(slot, [x, y])
        self.touched(slot)
        return slot

    def remove_point(self) -> str:
        state = self.ui.state()
        draft = state.draft(state.current_object)
        used = editor.used_slots(self.ui.node)
        if draft is not None and draft.added:
            slot = draft.added[-1]
        elif used:
            slot = used[-1]
        else:
            raise UserError("no point to remove")
        with self.ui.quiet():
            self.ui.node.set("use_" + slot, False)
        self.touched("use_" + slot)
        return slot

    # ------------------------------------------------------------ buttons

    def set_prompt(self) -> int:
        """Commit the current object's edit (or confirm the points shown on a frame without a
        prompt); returns the frame whose matte to preview."""
        state = self.ui.state()
        oid, frame = state.current_object, self.frame
        draft = state.draft(oid)
        if draft is None or draft.is_empty():
            if state.prompt_at(oid, frame) is not None:
                return frame  # nothing changed: send (the backend may lack it) and preview
            draft = self._confirm(state, oid, frame, draft)
        self._check_inside(draft)
        unplaced = list(draft.added)
        result = edits.commit(state, oid)
        self.ui.save(state)
        self.show(state)
        if unplaced:
            self.ui.set_status(f"{', '.join(unplaced)} not placed yet: not sent")
        return result[0] if result is not None else frame

    def _confirm(self, state: NodeState, oid: int, frame: int, old: Optional[Draft]) -> Draft:
        shown = editor.read(self.ui.node, frame)
        added = set(old.added) if old is not None else set()
        points = {s: p for s, p in shown.points.items() if s not in added}
        if not points and shown.box is None and not shown.mask:
            raise UserError(
                "nothing to send: press Add + and drag the point onto the object"
                + (" (the points added are not placed yet)" if added else "")
            )
        draft = edits.confirm(state, oid, frame, edits.Shown(points, shown.box, shown.mask))
        draft.added = sorted(added)
        return draft

    def _check_inside(self, draft: Draft) -> None:
        x0, y0, r, t = self.plate_format().box
        for slot, (x, y) in draft.points.items():
            if not (x0 <= x <= r and y0 <= y <= t):
                raise UserError(f"point {slot} at ({x:.1f}, {y:.1f}) is outside the plate")

    def clear(self) -> int:
        """Remove the current object's prompt (and any edit) on this frame."""
        state = self.ui.state()
        oid, frame = state.current_object, self.frame
        draft = state.draft(oid)
        had_draft = draft is not None and draft.frame == frame
        if had_draft:
            state.drop_draft(oid)
        if not state.remove_prompt(oid, frame) and not had_draft:
            raise UserError(f"{state.object(oid).name} has no prompt on frame {frame}")
        self.ui.save(state)
        self.show(state)
        return frame

    def load(self) -> Optional[str]:
        """Show this frame's prompt; an edit pending on another frame is kept as its prompt."""
        state = self.ui.state()
        note = None
        draft = state.draft(state.current_object)
        if draft is not None and draft.frame != self.frame:
            edits.commit(state, state.current_object)
            note = f"your edit on frame {draft.frame} is kept as its prompt"
        self.ui.save(state)
        prompt = state.prompt_at(state.current_object, self.frame)
        shown = (
            edits.Shown({}, None, False)
            if prompt is None
            else edits.shown(state, state.current_object, self.frame)
        )
        self._show(shown)
        return note

    def commit_all(self, state: NodeState) -> List[int]:
        """Every object's pending edit becomes its frame's prompt; returns those frames."""
        committed = []
        for draft in list(state.drafts):
            self._check_inside(draft)
            result = edits.commit(state, draft.object_id)
            if result is not None:
                committed.append(result[0])
        return committed

    def show(self, state: NodeState) -> None:
        self._show(edits.shown(state, state.current_object, self.frame))
        self.viewer.prompted(state)

    def _show(self, shown: edits.Shown) -> None:
        with self.ui.quiet():
            editor.show(self.ui.node, shown)
        self.viewer.dots(shown)

    # ------------------------------------------------------------ objects

    def object_switched(self) -> None:
        """The object menu changed: show that object's edit or prompt; nothing is lost."""
        state = self.ui.state()
        self.ui.save(state)
        obj = state.object(state.current_object)
        with self.ui.quiet():
            for name in FINISH_KNOBS:
                self.ui.node.set(name, getattr(obj, name))
        self.show(state)

    def finishing_changed(self, name: str) -> None:
        state = self.ui.state()
        setattr(state.object(state.current_object), name, float(self.ui.node.get(name)))
        self.ui.save(state)
        self.viewer.finishing(state, state.current_object)

    def add_object(self) -> None:
        state = self.ui.state()
        name = self.ui.host.get_input("Name of the new object", f"object{len(state.objects) + 1}")
        if name:
            state.add_object(name)
            self._objects_changed(state)

    def rename_object(self) -> None:
        state = self.ui.state()
        obj = state.object(state.current_object)
        name = self.ui.host.get_input(f"New name for {obj.name}", obj.name)
        if name and name != obj.name:
            state.rename_object(obj.id, name)
            self._objects_changed(state)

    def remove_object(self) -> bool:
        """The one edit that deletes mattes: asked first."""
        state = self.ui.state()
        obj = state.object(state.current_object)
        if len(state.objects) == 1:
            raise UserError(f"{obj.name} is the only object; rename it instead")
        count = len([p for p in state.prompts if p.object_id == obj.id])
        if not self.ui.host.ask(f"Remove object {obj.name}, its {count} prompt(s) and its mattes?"):
            return False
        state.remove_object(obj.id)
        self._objects_changed(state)
        return True

    def _objects_changed(self, state: NodeState) -> None:
        self.ui.save(state)
        with self.ui.quiet():
            build.show_objects(self.ui.node, state)
        shown = edits.shown(state, state.current_object, self.frame)
        self.viewer.rebuild(state, shown)
        self.object_switched()
