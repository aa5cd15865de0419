"""One SAM2Matte node as the rest of the controller sees it: its state, its status line, its
failures. Main thread only.

Knob changes the plugin makes itself are not artist edits: they run `quiet()` (knobChanged
ignores them, and they record no undo steps); status and progress lines also leave the script's
modified flag alone, so watching a track never makes the script need saving.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Iterator

from . import build, editor, messages
from .messages import UserError
from .state import NodeState, StateError

if TYPE_CHECKING:
    from .host import NukeHost, NukeNode

log = logging.getLogger(__name__)


class NodeUI:
    def __init__(self, host: NukeHost, node: NukeNode) -> None:
        self.host = host
        self.node = node
        self._quiet = 0

    @property
    def is_quiet(self) -> bool:
        return self._quiet > 0

    @contextlib.contextmanager
    def quiet(self, keep_modified: bool = False) -> Iterator[None]:
        """The plugin's own knob changes: not artist edits, no undo steps."""
        self._quiet += 1
        try:
            with self.host.no_undo(keep_modified):
                yield
        finally:
            self._quiet -= 1

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
        self.set_text("prompts_info", editor.summary(state))

    def set_status(self, text: str) -> None:
        with self.quiet(keep_modified=True):
            self.node.set("status", text)

    def set_text(self, knob: str, text: str) -> None:
        """An information line (stale frames, inputs): like the status line."""
        with self.quiet(keep_modified=True):
            self.node.set(knob, text)

    def fail(self, exc: BaseException, dialog: bool = True) -> None:
        """Never silent: the status line, the log, and (unless `dialog` is off: the live
        preview, which fails on every pause of a drag when the backend is down) a dialog."""
        status, text = messages.error_texts(exc)
        if isinstance(exc, (UserError, ValueError, StateError)) or hasattr(exc, "hint"):
            log.warning("%s: %s", self.node.name(), exc)
        else:
            log.error("%s: unexpected error", self.node.name(), exc_info=exc)
        self.set_status(status)
        if dialog:
            self.host.message(text)
