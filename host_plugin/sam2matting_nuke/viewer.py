"""What the node shows beyond its matte: the insides that follow the artist's edits without a
rebuild (finishing sizes, the + / - dots, the stale tint per frame), the prompted frames as keys,
and the stale line. Main thread only; every change here is quiet (no undo, no modified flag
for what only mirrors the backend).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Dict, List, Optional

from . import build, frames, graph, graph_view
from .edits import Shown
from .knobs import point_knobs
from .state import NodeState

if TYPE_CHECKING:
    from .nodeui import NodeUI

RELOAD_EVERY_S = 0.5  # re-read the cache at most this often while frames land


class Viewer:
    def __init__(self, ui: NodeUI) -> None:
        self.ui = ui
        self._last_reload = 0.0

    @property
    def node(self):  # type: ignore[no-untyped-def]
        return self.ui.node

    def rebuild(self, state: NodeState, shown: Optional[Shown] = None) -> None:
        """Everything after the cache Read again (objects or output changed), then its values."""
        with self.ui.quiet():
            build.rebuild_output(self.ui.host, self.node, state)
        self.refresh(state, shown)

    def refresh(self, state: NodeState, shown: Optional[Shown] = None) -> None:
        for obj in state.objects:
            self.finishing(state, obj.id)
        if shown is not None:
            self.dots(shown)
        self.stale(state)
        self.prompted(state)

    def finishing(self, state: NodeState, object_id: int) -> None:
        obj = state.object(object_id)
        with self.ui.quiet():
            for name, size in graph_view.finish_values(obj):
                child = self.node.child(name)
                if child is not None:
                    child.update("size", size)
                    child.update("disable", size == 0)

    def dots(self, shown: Shown) -> None:
        """The overlay's + (green) and - (red) dots follow the handles the knobs show."""
        fmt = self.node.input_format(0)
        width = fmt.width if fmt is not None else 1920
        with self.ui.quiet():
            for _use, slot, _label in point_knobs():
                child = self.node.child(graph_view.dot_name(slot))
                if child is None:
                    continue
                point = shown.points.get(slot)
                if point is not None:
                    child.update("area", graph_view.dot_area(point[0], point[1], width))
                child.update("disable", point is None)

    def stale(self, state: NodeState) -> None:
        """The stale frames, tinted in the overlay (keys on the stale switch) and listed."""
        stale = state.stale_frames()
        switch = self.node.child(graph_view.STALE_SWITCH)
        with self.ui.quiet(keep_modified=True):
            if switch is not None:
                switch.set_keys("which", dict.fromkeys(stale, 1.0))
        self.ui.set_text("stale_info", stale_text(state))

    def prompted(self, state: NodeState) -> None:
        """Every prompted frame as a key (its value: how many objects are prompted there)."""
        counts: Dict[int, float] = {}
        for prompt in state.prompts:
            counts[prompt.frame] = counts.get(prompt.frame, 0.0) + 1.0
        with self.ui.quiet(keep_modified=True):  # mirrors the state, which is saved anyway
            self.node.set_keys("prompted", counts)

    def reload(self, force: bool = False) -> None:
        """Nuke caches what a Read read: make the cache Read look at new mattes."""
        now = time.monotonic()
        if force or now - self._last_reload >= RELOAD_EVERY_S:
            read = self.node.child(graph.MATTE_READ)
            if read is not None:
                with self.ui.quiet(keep_modified=True):
                    read.reload()
            self._last_reload = now


def stale_text(state: NodeState) -> str:
    """'object1: 1043-1050 (re-track to refresh)' per object with stale frames, or 'none'."""
    lines: List[str] = []
    for obj in state.objects:
        ranges = state.stale.get(str(obj.id)) or []
        if ranges:
            lines.append(f"{obj.name}: {frames.describe_ranges(ranges)}")
    if not lines:
        return "none"
    return "\n".join(lines) + "\n(mattes kept from before a prompt change: re-track them)"
