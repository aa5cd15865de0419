"""What a job sends: a snapshot of the node (taken on the main thread) and the protocol contents
built from it. Pure functions; coordinates are already top-left when they leave the snapshot.

Syncing makes the backend's prompts equal the node's without destroying work: a changed prompt
is sent again (it replaces that frame's prompt there), a prompt the node no longer has is
removed with remove_prompt (protocol 1.1: the mattes stay, marked stale), and only objects the
artist removed are removed there (the one request that deletes mattes).
"""

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
    mask_digest: str = ""  # the input 2 snapshot this prompt uses ("": take one when sending)

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
    track_objects: Optional[List[int]] = None  # None: every object
    removed_objects: List[int] = field(default_factory=list)  # the artist's explicit removals
    sent_masks: Dict[str, str] = field(default_factory=dict)  # "obj:frame" -> digest sent
    plate_digests: Dict[int, str] = field(default_factory=dict)  # frame -> as sent
    probe_frames: List[int] = field(default_factory=list)  # plate frames to keep digests of
    resend_plate: bool = False  # send every stored plate frame again (the plate changed)

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
        mask_digest=prompt.mask_digest,
    )


def mask_key(object_id: int, frame: int) -> str:
    return f"{object_id}:{frame}"


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
        "objects": snap.track_objects,
        "matte": "path",
    }


def remove_prompt_content(shot_id: str, object_id: int, frame: int) -> Dict[str, Any]:
    return {"shot_id": shot_id, "object_id": object_id, "frame": frame}


def frames_needed(snap: Snapshot, stored: Sequence[Sequence[int]]) -> List[int]:
    """Plate frames to send for this job: the prompted frames and the tracked span the backend
    lacks; every frame it has, too, when the artist asked to re-send a changed plate."""
    wanted = {p.frame for p in snap.prompts}
    if snap.preview_frame is not None:
        wanted.add(snap.preview_frame)
    if snap.start is not None:
        wanted.update(frames.covered(snap.direction, snap.start, snap.first, snap.last))
    needed = set(frames.missing(wanted, stored))
    if snap.resend_plate:
        needed.update(frames.from_ranges(stored))
    return sorted(needed)


@dataclass
class SyncPlan:
    remove_objects: List[int]  # removed by the artist: the backend deletes their mattes
    remove_prompts: List[Tuple[int, int]]  # (object, frame) the node no longer has
    send: List[PromptPayload]  # new or changed, in commit order


def plan_sync(
    snap: Snapshot, backend_prompts: Sequence[Dict[str, Any]], backend_objects: Sequence[int]
) -> SyncPlan:
    """Make the backend's prompts equal the node's (the node is the source of truth) with the
    smallest change: per object and frame, a prompt the backend has that differs is replaced by
    sending the node's (the backend replaces that frame's prompt), one the node lacks is removed
    on its own. A mask prompt is sent again when the backend did not get its input 2 snapshot.
    Objects are removed there only if the artist removed them."""
    node_keys = {(p.object_id, p.frame) for p in snap.prompts}
    send = [p for p in snap.prompts if not _backend_has(p, backend_prompts, snap.sent_masks)]
    gone = sorted(
        {
            (int(s["object_id"]), int(s["frame"]))
            for s in backend_prompts
            if (s["object_id"], s["frame"]) not in node_keys
            and s["object_id"] not in snap.removed_objects
        }
    )
    removed = sorted(set(snap.removed_objects) & set(backend_objects))
    return SyncPlan(removed, gone, sorted(send, key=lambda p: p.seq))


def _backend_has(
    prompt: PromptPayload, backend_prompts: Sequence[Dict[str, Any]], sent: Dict[str, str]
) -> bool:
    if not any(prompt.matches(s) for s in backend_prompts):
        return False
    if not prompt.mask:
        return True
    digest = sent.get(mask_key(prompt.object_id, prompt.frame), "")
    return bool(prompt.mask_digest) and digest == prompt.mask_digest
