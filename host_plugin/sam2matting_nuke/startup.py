"""What init.py and menu.py call. init() is safe in `nuke -t` / `nuke -x`: no GUI imports."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from . import bootstrap

_problems: List[str] = []
_initialised: List[bool] = []  # non-empty once init() ran (no `global` statement needed)

PLUGIN_DIR = Path(__file__).resolve().parent.parent
MENU_PATH = "SAM2Matting/SAM2Matte"


def init(plugin_dir: Optional[Path] = None) -> None:
    """Make the protocol and pyzmq importable; register the render check and clean-ups."""
    if _initialised:
        return
    _problems[:] = bootstrap.prepare(plugin_dir or PLUGIN_DIR)
    from . import callbacks, render_check
    from .host import NukeHost

    host = NukeHost()
    host.on_render(render_check.before_render, render_check.before_frame_render)
    host.on_create_group(render_check.group_created)
    host.on_script_close(callbacks.on_script_close)
    host.on_destroy(callbacks.on_destroy)
    _initialised.append(True)


def menu() -> None:
    """The toolbar/menu entry that creates a SAM2Matte node, and Ctrl+click in the Viewer
    (GUI only: the one place Qt is imported, viewer_click.py)."""
    from . import callbacks, viewer_click
    from .host import NukeHost

    NukeHost.add_menu_command("Nodes", MENU_PATH, callbacks.create_node)
    viewer_click.install(NukeHost())


def problem() -> Optional[str]:
    """What init() found wrong with the installation (shown on new nodes), if anything."""
    return _problems[0] if _problems else None


def reset() -> None:
    """Forget init() (a new Nuke process in tests)."""
    from . import render_check

    del _initialised[:]
    del _problems[:]
    render_check.reset()
