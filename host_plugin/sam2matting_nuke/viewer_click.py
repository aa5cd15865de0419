"""Click to add: a Ctrl+click in the Viewer adds a point where it lands, while a SAM2Matte's panel
is open with **Ctrl+click in the Viewer adds** set to + or -.

GUI only, and the one module that touches Qt: `install()` (menu.py, through startup.menu)
imports PySide6 (Nuke 16) or PySide2 (Nuke 13-15) then. Importing this module imports neither,
so `nuke -t`, `nuke -x` and the farm never load Qt; without a Qt binding `install()` says so in
the log and the node works as before (Add + / Add - and dragging).

How, and what no Foundry document states (docs/NUKE_PLUGIN.md lists them for TDs):

- Nuke's Python API has no Viewer mouse events. A Ctrl+click in the Viewer samples a colour,
  and the sampled area is kept in the active Viewer node's `colour_sample_bbox` knob, in units
  of half the format's width, centred on the format (community: hagbarth.net, "grab the mouse
  position in the viewer", after Ben Dickson's example on the Nuke mailing list). Unverified.
- A Qt event filter on the application (Python dev guide, "Extending Nuke with PySide": Nuke's
  own Qt application) sees every Ctrl+mouse release; a moment later (a zero-time Qt timer, so
  Nuke has stored the sample) `ClickAdder.on_sample` reads the sample and adds a point when it
  changed. Whether Nuke has stored it by then is unverified; a click that leaves the sample
  unchanged (the same spot twice) adds nothing.
- The conversion assumes square pixels in the sample's units (see the pixel-aspect item).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from .host import NukeHost, NukeNode

log = logging.getLogger(__name__)

KNOB = "click_adds"
LABELS = {"+": 1, "-": 0}  # click_adds value -> point label
_installed: List[Any] = []  # the Qt event filter, kept alive while Nuke runs


def sample_to_pixel(bbox: Sequence[float], width: int, height: int) -> Tuple[float, float]:
    """The centre of a colour-sample area in Nuke pixels (origin bottom-left): the sample's
    units are half the format's width, its origin the format's centre."""
    cx, cy = (bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0
    return width / 2.0 + cx * width / 2.0, height / 2.0 + cy * width / 2.0


class ClickAdder:
    """Turns a new Viewer colour sample into a point on the armed node (main thread)."""

    def __init__(self, host: NukeHost) -> None:
        self.host = host
        self.last: Optional[List[float]] = None

    def on_sample(self) -> Optional[str]:
        """After a Ctrl+click: add a point where the new sample is; returns the slot added."""
        sample = self.host.viewer_sample()
        if sample is None or sample == self.last:
            return None
        self.last = sample
        node = self.armed()
        if node is None:
            return None
        from .callbacks import controller_for

        fmt = node.input_format(0)
        if fmt is None:
            return None
        x, y = sample_to_pixel(sample, fmt.width, fmt.height)
        label = LABELS[str(node.get(KNOB))]
        return controller_for(node, self.host).add_point_at(label, x, y)

    def armed(self) -> Optional[NukeNode]:
        """The SAM2Matte whose panel is open with Ctrl+click adds set to + or - (the first)."""
        for node in self.host.our_nodes():
            if node.has(KNOB) and str(node.get(KNOB)) in LABELS and node.panel_open():
                return node
        return None


def install(host: NukeHost) -> bool:
    """Watch Ctrl+clicks (GUI sessions: menu.py). False, logged, when Qt cannot be imported."""
    if _installed:
        return True
    try:
        from PySide6 import QtCore, QtWidgets  # type: ignore[import-not-found]  # Nuke 16
    except ImportError:
        try:
            from PySide2 import QtCore, QtWidgets  # type: ignore[import-not-found]  # Nuke 13-15
        except ImportError:
            log.info("no PySide: Ctrl+click in the Viewer does not add points (Add + / Add -)")
            return False
    app = QtWidgets.QApplication.instance()
    if app is None:
        return False
    adder = ClickAdder(host)
    release = QtCore.QEvent.Type.MouseButtonRelease
    ctrl = QtCore.Qt.KeyboardModifier.ControlModifier

    class CtrlClickFilter(QtCore.QObject):  # type: ignore[misc]
        def eventFilter(self, watched: Any, event: Any) -> bool:  # Qt calls it by this name
            if event.type() == release and event.modifiers() & ctrl:
                QtCore.QTimer.singleShot(0, adder.on_sample)
            return False  # Nuke still gets every event

    watcher = CtrlClickFilter()
    app.installEventFilter(watcher)
    _installed.append(watcher)
    return True
