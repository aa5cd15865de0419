"""What a job sends: a snapshot of the node (taken on the main thread) and the protocol contents
built from it. Pure functions; coordinates are already top-left when they leave the snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import coords, frames
from .state import NodeState, Prompt

MATTE_ON_PREVIEW = "path"


@dataclass
class PromptPayload:
    """One prompt in protocol form (top-left pixels of the plate sent)."""

    object_id: int
    object_name: str
    frame: int
    points: List[List[float]]
    labels: List[int]
    box: Optional[List[float]]
    mask: bool
    seq: int

    def matches(self, summary: Dict[str, Any], tol: float = 1e-3) -> bool:
        """True when the backend's prompt summary says the same as this prompt."""
        if (summary.get("object_id"), summary.get("frame")) != (self.object_id, self.frame):
            return False
        if bool(summary.get("has_mask")) != self.mask or list(summary["labels"]) != self.labels:
            return False
        if len(summary["points"]) != len(self.points):
            return False
        if not _close(self.points, summary["points"], tol):
            return False
        theirs = summary.get("box")
        if self.box is None or theirs is None:
            return self.box is None and theirs is None
        return _close([self.box], [theirs], tol)


def _close(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], tol: float) -> bool:
    return all(abs(float(u) - float(v)) <= tol for pa, pb in zip(a, b) for u, v in zip(pa, pb))


@dataclass
class Snapshot:
    """Everything a job needs from the node, read on the main thread."""

    shot_id: str
    fmt: coords.Format
    shot_first: int
    shot_last: int
    first: int
    last: int
    direction: str
    tracker: str
    engine: str
    colourspace: str
    objects: List[Tuple[int, str]]
    prompts: List[PromptPayload] = field(default_factory=list)
    cache_dir: Optional[str] = None  # where the node wants the shot kept (cache_paths.py)
    # the chosen tracker's and engine's options (options.values): {"tracker": {}, "engine": {}}
    params: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    start: Optional[int] = None  # track from here (None: do not track)
    preview_frame: Optional[int] = None  # the frame whose matte the artist wants to see now

    @property
    def tracking(self) -> bool:
        return self.start is not None


def payload(state: NodeState, prompt: Prompt, fmt: coords.Format) -> PromptPayload:
    return PromptPayload(
        object_id=prompt.object_id,
        object_name=state.object(prompt.object_id).name,
        frame=prompt.frame,
        points=[list(coords.to_top_left(fmt, p)) for p in prompt.points],
        labels=list(prompt.labels),
        box=None if prompt.box is None else coords.box_to_top_left(fmt, prompt.box),
        mask=prompt.mask,
        seq=prompt.seq,
    )


def open_shot_content(snap: Snapshot) -> Dict[str, Any]:
    return {
        "shot_id": snap.shot_id,
        "width": snap.fmt.plate_width,
        "height": snap.fmt.plate_height,
        "pixel_aspect": snap.fmt.pixel_aspect,
        "first_frame": snap.shot_first,
        "last_frame": snap.shot_last,
        "colourspace": snap.colourspace,
        "tracker": snap.tracker,
        "engine": snap.engine,
        "cache_dir": snap.cache_dir,
        "tracker_params": dict(snap.params.get("tracker", {})),
        "engine_params": dict(snap.params.get("engine", {})),
    }


def prompt_content(
    shot_id: str, prompt: PromptPayload, mask: Optional[Dict[str, Any]], matte: str
) -> Dict[str, Any]:
    return {
        "shot_id": shot_id,
        "frame": prompt.frame,
        "object": {"id": prompt.object_id, "name": prompt.object_name},
        "points": prompt.points,
        "labels": prompt.labels,
        "box": prompt.box,
        "mask": mask,
        "clear_old": True,
        "matte": matte,
    }


def mask_image(buffer: int) -> Dict[str, Any]:
    """Input 2 rendered as an EXR whose alpha (channel A) is the mask."""
    return {
        "buffer": buffer,
        "encoding": "exr",
        "dtype": None,
        "shape": None,
        "channels": ["A"],
        "colourspace": "raw",
        "origin": "top_left",
    }


def frame_entry(
    frame: int, buffer: Optional[int], path: Optional[str], colourspace: str
) -> Dict[str, Any]:
    """A put_frames entry: an inline EXR buffer, or a path the backend reads itself."""
    if buffer is not None:
        image = {
            "buffer": buffer,
            "encoding": "exr",
            "dtype": None,
            "shape": None,
            "channels": ["R", "G", "B"],
            "colourspace": colourspace,
            "origin": "top_left",
        }
        return {"frame": frame, "image": image, "path": None, "colourspace": None}
    return {"frame": frame, "image": None, "path": path, "colourspace": colourspace}


def propagate_content(snap: Snapshot) -> Dict[str, Any]:
    return {
        "shot_id": snap.shot_id,
        "start_frame": snap.start,
        "direction": snap.direction,
        "first_frame": snap.first,
        "last_frame": snap.last,
        "objects": None,
        "matte": "path",
    }


def frames_needed(snap: Snapshot, stored: Sequence[Sequence[int]]) -> List[int]:
    """Plate frames the backend lacks for this job: prompted frames, and the tracked span."""
    wanted = {p.frame for p in snap.prompts}
    if snap.preview_frame is not None:
        wanted.add(snap.preview_frame)
    if snap.start is not None:
        wanted.update(frames.covered(snap.direction, snap.start, snap.first, snap.last))
    return frames.missing(wanted, stored)


@dataclass
class SyncPlan:
    remove_objects: List[int]  # reset on the backend before re-sending their prompts
    send: List[PromptPayload]  # in commit order


def plan_sync(
    prompts: Sequence[PromptPayload],
    backend_prompts: Sequence[Dict[str, Any]],
    backend_objects: Sequence[int],
) -> SyncPlan:
    """Make the backend's prompts equal the node's (the node is the source of truth).

    An object whose backend prompts are all in the node only gets the missing ones; an object
    the backend knows with a prompt the node does not have (cleared, edited, or left from an
    older session) is removed there and all its node prompts re-sent.
    """
    remove: List[int] = []
    send: List[PromptPayload] = []
    node_ids = sorted({p.object_id for p in prompts})
    for oid in sorted(set(backend_objects) - set(node_ids)):
        remove.append(oid)
    for oid in node_ids:
        mine = [p for p in prompts if p.object_id == oid]
        theirs = [s for s in backend_prompts if s.get("object_id") == oid]
        stale = [s for s in theirs if not any(p.matches(s) for p in mine)]
        if stale:
            remove.append(oid)
            send += mine
        else:
            send += [p for p in mine if not any(p.matches(s) for s in theirs)]
    send.sort(key=lambda p: p.seq)
    return SyncPlan(sorted(set(remove) & set(backend_objects)), send)
