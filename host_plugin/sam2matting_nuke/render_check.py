"""Renders never turn a missing matte into silent black.

Registered by init.py, so it runs in the GUI and in `nuke -t` / `nuke -x` alike. Before each
frame a Write renders (at the top level or inside a Group or gizmo: Nuke runs the callbacks of
the inner Write's class), every SAM2Matte node whose output reaches that Write (upstream.py) must
have its matte for the frame, at the path Nuke itself would read (nuke.filename, then the
filename filters). Otherwise the frame fails with every missing frame of the node's range and
the commands that make them (render_message.py). A render of a view other than the main one
fails too: the node tracks the main view only. So does a render started in the GUI session while
the node's `view` knob is not "result": renders get the result through `$gui`, documented as 0
at render time but not for renders started from the GUI, so the check does not rely on it.

Costs: nothing until a SAM2Matte node has existed in this Nuke (`group_created`, an onCreate
callback for Groups registered by init.py, and the node's own code call `node_seen`); then one
walk of the Write's upstream graph per render (per frame only where a Switch or disable is
animated) and one file check per node and frame.

Without the plugin on a render machine the cache Read itself errors on a missing frame at render
time (graph.MISSING_FRAMES). Nothing here needs the protocol package or the backend.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple, Type

from . import cache_paths, frames, graph, plate_files, render_message, upstream
from .host import NukeHost, NukeNode

log = logging.getLogger(__name__)


class RenderCheckError(RuntimeError):
    """A render would write black (or the wrong view's) mattes; the message says how to fix it."""


class MissingMatteError(RenderCheckError):
    """A render reached a frame whose matte is not in the cache."""


class ViewNotTrackedError(RenderCheckError):
    """A render computes a view the node has no mattes for."""


class ViewerViewError(RenderCheckError):
    """A render started in the GUI session while a node shows another view than its result."""


RESULT_VIEW = "result"  # knobs.VIEWS[0]: what renders get


class _Render(NamedTuple):
    walk: Optional[upstream.Walk]  # None until the first frame (then reused unless per_frame)
    missing: Dict[str, Tuple[str, List[int]]]  # node -> (matte pattern, frames missing)


_seen: List[bool] = []  # non-empty once a SAM2Matte node existed in this Nuke session
_renders: Dict[str, _Render] = {}  # Write full name -> what this render found so far


def node_seen() -> None:
    """A SAM2Matte node exists: from now on renders are checked."""
    if not _seen:
        _seen.append(True)


def group_created() -> None:
    """nuke.addOnCreate(..., nodeClass='Group'): Nuke runs it for every Group it creates, also
    while loading a script (documented), whatever the node's own onCreate code does."""
    if not _seen and NukeHost.this_node().is_ours():
        node_seen()


def reset() -> None:
    """Forget everything (a new Nuke process in tests)."""
    del _seen[:]
    _renders.clear()


def before_render() -> None:
    _renders.clear()
    if not _seen:
        return
    host = NukeHost()
    write = host.this_node()
    views = host.views()
    if len(views) > 1:
        _check_write_views(host, write, views)


def before_frame_render() -> None:
    if not _seen:
        return
    host = NukeHost()
    write = host.this_node()
    frame = host.frame()
    render = _renders.get(write.full_name()) or _Render(None, {})
    found_walk = render.walk
    if found_walk is None or found_walk.per_frame:
        found_walk = upstream.walk(write, frame, host.node_at)
        render = render._replace(walk=found_walk)
        _renders[write.full_name()] = render
    problems = [_check(host, render, found, frame) for found in found_walk.found]
    found = [p for p in problems if p is not None]
    if found:
        kinds = {kind for kind, _text in found}
        error = kinds.pop() if len(kinds) == 1 else MissingMatteError
        raise error("\n".join(text for _kind, text in found))


def _check_write_views(host: NukeHost, write: NukeNode, views: List[str]) -> None:
    """A Write set to render several views through a SAM2Matte fails before its first frame.
    (The plugin's own plate Writes inside a SAM2Matte pass views=[main] to nuke.execute.)"""
    parent = host.node_at(write.full_name().rpartition(".")[0])
    if parent is not None and parent.is_ours():
        return
    chosen = _write_views(write, views)
    if chosen[:1] == views[:1] and len(chosen) == 1:
        return
    walk = upstream.walk(write, host.frame(), host.node_at)
    if walk.found:
        node = walk.found[0].node.full_name()
        raise ViewNotTrackedError(
            render_message.writes_other_views(node, write.full_name(), chosen, views[0])
        )


def _write_views(write: NukeNode, views: List[str]) -> List[str]:
    """The views the Write is set to render (its `views` knob); all of them when unreadable."""
    try:
        text = str(write.get("views"))
    except (NameError, KeyError, AttributeError):
        return views
    named = text.replace(",", " ").replace("{", " ").replace("}", " ").split()
    chosen = [v for v in views if v in named]
    return chosen if chosen and len(chosen) == len(named) else views


def _check(
    host: NukeHost, render: _Render, found: upstream.Found, frame: int
) -> Optional[Tuple[Type[RenderCheckError], str]]:
    """(error class, message) when the node would not render its true mattes for this frame,
    else None."""
    node = found.node
    read = node.child(graph.MATTE_READ)
    problem = _node_problem(host, node, read)
    if problem is not None or read is None:
        return problem
    first, last = read.get_int("first"), read.get_int("last")
    if not found.whole_range and not first <= frame <= last:
        return None  # outside the node's range its alpha is black on purpose
    views = host.views()
    if len(views) > 1 and host.this_view() != views[0]:
        text = render_message.wrong_view(node.full_name(), host.this_view(), views[0])
        return ViewNotTrackedError, text
    if not found.whole_range:
        looked_for = read.file_path(at_frame=True) or ""
        if looked_for and Path(looked_for).is_file():
            return None
    pattern, missing = _missing(render, read, first, last)
    if not missing:
        return None
    return MissingMatteError, _message(node, found, frame, pattern, first, last, missing)


def _node_problem(
    host: NukeHost, node: NukeNode, read: Optional[NukeNode]
) -> Optional[Tuple[Type[RenderCheckError], str]]:
    """What makes any frame of the node fail: its cache Read is gone, or it shows another view
    than its result while this render runs in the GUI session (renders get the result through
    $gui, which is not documented to be 0 in renders started from the GUI)."""
    if read is None:
        return MissingMatteError, render_message.damaged(
            node.full_name(), "its MatteCache Read is missing"
        )
    view = str(node.get("view")) if node.has("view") else RESULT_VIEW
    if host.gui() and view != RESULT_VIEW:
        return ViewerViewError, render_message.viewer_view(node.full_name(), view)
    return None


def _missing(render: _Render, read: NukeNode, first: int, last: int) -> Tuple[str, List[int]]:
    """Every frame of first..last whose matte file is missing (once per node and render)."""
    pattern = read.file_path(at_frame=False) or ""
    key = read.full_name()
    cached = render.missing.get(key)
    if cached is None or cached[0] != pattern:
        have = set(cache_paths.frames_present(pattern, first, last))
        cached = (pattern, [f for f in range(first, last + 1) if f not in have])
        render.missing[key] = cached
        log.warning("%s: %d frames of %d-%d have no matte", key, len(cached[1]), first, last)
    return cached


def _message(
    node: NukeNode,
    found: upstream.Found,
    frame: int,
    pattern: str,
    first: int,
    last: int,
    missing: List[int],
) -> str:
    folder = node.evaluated("cache_dir")
    shot_file = cache_paths.shot_file(folder)
    at = None if found.whole_range else frame
    return render_message.missing_mattes(
        render_message.MissingMattes(
            node=node.full_name(),
            frame=at,
            looked_for=frames.frame_file(pattern, frame) if at is not None else pattern,
            first=first,
            last=last,
            missing=missing,
            plate=_plate(node, NukeHost.views()[0]),
            shot_file=shot_file,
            shot_file_exists=Path(shot_file).is_file(),
            output=pattern,
        )
    )


def _plate(node: NukeNode, main_view: str) -> Optional[str]:
    """The plate sequence when input 1 is a Read (through Dots), for the farm command: the main
    view's files when it names one per view (%V, %v)."""
    source = plate_files.bare_read(node)
    if source is None:
        return None
    pattern = source.file_path(at_frame=False)
    return pattern.replace("%V", main_view).replace("%v", main_view[:1]) if pattern else None
