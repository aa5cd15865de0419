"""Renders never turn a missing matte into silent black.

Registered by init.py (so it runs in `nuke -t` / `nuke -x` on the farm too): before each frame a
Write renders, every SAM2Matte node upstream of it must have that frame's matte in its cache, if
the frame is in the node's range. Otherwise the render stops with the missing frames named and
the two ways to make them. (Without the plugin on a render machine, the node's own onCreate
code switches the cache Read to "error" on missing frames: the render fails, loudly, too.)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Tuple

from . import build, frames, knobs
from .host import NukeHost, NukeNode
from .state import StateError

log = logging.getLogger(__name__)

# Per render: node name -> (matte pattern, missing frames in its range). Filled lazily.
_missing_cache: Dict[str, Tuple[str, List[int]]] = {}


class MissingMatteError(RuntimeError):
    """A render reached a frame whose matte is not in the cache."""


def before_render() -> None:
    _missing_cache.clear()


def before_frame_render() -> None:
    host = NukeHost()
    write = host.this_node()
    frame = host.frame()
    problems = [text for node in _upstream_sam2(write) for text in _check(node, frame)]
    if problems:
        raise MissingMatteError("\n".join(problems))


def _upstream_sam2(write: NukeNode) -> List[NukeNode]:
    return [n for n in write.upstream() if n.is_ours() and not n.is_disabled()]


def _check(node: NukeNode, frame: int) -> List[str]:
    try:
        state = build.load(node)
    except StateError as exc:
        return [f"{node.name()}: {exc}"]
    if not state.first_frame <= frame <= state.last_frame:
        return []  # outside the node's range the output is black on purpose
    read = node.child(knobs.MATTE_READ)
    pattern = str(read.get("file")) if read is not None else build.matte_file(state)
    if Path(frames.frame_file(pattern, frame)).is_file():
        return []
    missing = _missing(node, pattern, state.first_frame, state.last_frame)
    ranges = frames.describe_ranges(frames.to_ranges(missing))
    text = (
        f"{node.name()}: no matte for frame {frame} in {Path(pattern).parent}.\n"
        f"  Missing in its range {state.first_frame}-{state.last_frame}: {ranges}.\n"
        "  Track these frames with the node in Nuke, or matte them on the farm with "
        "'sam2matting render <shot file>' (the node's 'Export shot file' button writes it)."
    )
    return [text]


def _missing(node: NukeNode, pattern: str, first: int, last: int) -> List[int]:
    cached = _missing_cache.get(node.full_name())
    if cached is None or cached[0] != pattern:
        lost = [
            f for f in range(first, last + 1) if not Path(frames.frame_file(pattern, f)).is_file()
        ]
        cached = (pattern, lost)
        _missing_cache[node.full_name()] = cached
        log.warning("%s: %d frames of %d-%d have no matte", node.name(), len(lost), first, last)
    return cached[1]
