"""What a SAM2Matte node keeps in its script: versioned JSON in one hidden knob.

Shot id, cache folder, the shot's format and range, objects (with their finishing: grow,
feather, fill holes), every prompt (points with their sign and knob slot, box, mask flag and the
digest of the mask pixels used; in Nuke knob space), the artist's uncommitted edits (drafts),
the stale frames the backend reported, the plate's provenance, the tracker and engine, frame
range, output choice and the backend revision last seen. A script reopens with all of it, so the
backend can be given the shot back (open_shot restores it from its journal; prompts are re-sent
if the backend lost them). Version 1 states (before drafts) are read and upgraded. Nothing here
imports Nuke.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from . import coords
from .frames import from_ranges

STATE_FORMAT = "sam2matting-nuke-node"
STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)
OUTPUTS = ("rgba.alpha", "object layers", "both")
MAX_NAME = 64
_RESERVED_LAYERS = {
    "rgba",
    "rgb",
    "alpha",
    "depth",
    "motion",
    "forward",
    "backward",
    "mask",
    "none",
    "all",
    "other",
}


class StateError(ValueError):
    """The node's saved state cannot be read (damaged, or written by a newer plugin)."""


@dataclass
class ObjectInfo:
    id: int
    name: str
    grow: float = 0.0  # pixels: > 0 grows the matte, < 0 shrinks it
    feather: float = 0.0  # pixels of blur on the matte edge
    fill_holes: float = 0.0  # pixels: holes up to about twice this wide are closed


@dataclass
class Prompt:
    """One object's prompt on one frame, in Nuke knob space (full resolution, y up)."""

    object_id: int
    frame: int
    points: List[Tuple[float, float]] = field(default_factory=list)
    labels: List[int] = field(default_factory=list)  # 1: object (+), 0: background (-)
    box: Optional[List[float]] = None  # x, y, r, t as BBox_Knob holds it
    mask: bool = False  # input 2 rendered on this frame
    seq: int = 0  # commit order within the node
    slots: List[str] = field(default_factory=list)  # the knob slot of each point ("pos1")
    mask_digest: str = ""  # pixels of input 2 this prompt uses; "" until first sent

    def __post_init__(self) -> None:
        if not self.slots:  # made without slots (version 1, tests): + fill pos1.., - neg1..
            self.slots = default_slots(self.labels)

    def is_empty(self) -> bool:
        return not self.points and self.box is None and not self.mask

    def slot_points(self) -> Dict[str, Tuple[float, float]]:
        return dict(zip(self.slots, self.points))


@dataclass
class Draft:
    """What the artist changed in one object's prompt knobs on one frame, not committed yet.

    Only these are sent for that frame: moved points, points unticked there, the box if
    touched, the mask flag if toggled. A point added but never moved is not a prompt yet.
    """

    object_id: int
    frame: int
    points: Dict[str, List[float]] = field(default_factory=dict)  # slot -> moved position
    removed: List[str] = field(default_factory=list)  # slots unticked on this frame
    added: List[str] = field(default_factory=list)  # slots ticked, not moved yet
    box: Optional[List[float]] = None
    box_touched: bool = False  # box None + touched: the box was removed on this frame
    mask: Optional[bool] = None  # the mask flag, if toggled on this frame

    def is_empty(self) -> bool:
        return not (self.points or self.removed or self.box_touched or self.mask is not None)


@dataclass
class Shot:
    """The shot as first opened on the backend: plate format and full frame range."""

    width: int
    height: int
    first_frame: int
    last_frame: int
    pixel_aspect: float = 1.0
    box: List[int] = field(default_factory=list)  # x, y, r, t of the format's image area

    @property
    def format(self) -> coords.Format:
        x, y, r, t = self.box or [0, 0, self.width, self.height]
        return coords.Format(self.width, self.height, x, y, r, t, self.pixel_aspect)


@dataclass
class NodeState:
    shot_id: str
    objects: List[ObjectInfo] = field(default_factory=list)
    prompts: List[Prompt] = field(default_factory=list)
    current_object: int = 0
    next_seq: int = 0
    cache_dir: str = ""
    matte_pattern: str = ""
    shot: Optional[Shot] = None
    tracker: str = "auto"
    engine: str = "auto"
    first_frame: int = 1
    last_frame: int = 1
    output: str = OUTPUTS[0]
    revision: int = 0  # the backend journal's revision last seen
    drafts: List[Draft] = field(default_factory=list)  # at most one per object
    removed_objects: List[int] = field(default_factory=list)  # to remove on the backend
    stale: Dict[str, List[List[int]]] = field(default_factory=dict)  # object id -> ranges
    plate_digests: Dict[str, str] = field(default_factory=dict)  # frame -> pixels as sent
    sent_masks: Dict[str, str] = field(default_factory=dict)  # "obj:frame" -> digest sent
    changed_inputs: List[str] = field(default_factory=list)  # "plate:1010", "mask:1:1010"
    resend_plate: bool = False  # the artist asked to send every plate frame again

    # ------------------------------------------------------------ objects

    def object(self, object_id: int) -> ObjectInfo:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(f"no object {object_id}")

    def add_object(self, name: str) -> ObjectInfo:
        obj = ObjectInfo(max([0] + [o.id for o in self.objects]) + 1, self._check_name(name))
        self.objects.append(obj)
        self.current_object = obj.id
        return obj

    def rename_object(self, object_id: int, name: str) -> None:
        self.object(object_id).name = self._check_name(name, exclude=object_id)

    def remove_object(self, object_id: int) -> int:
        """Drop an object, its prompts and edits (the artist's explicit Remove: the backend
        deletes its mattes at the next sync); returns how many prompts went with it."""
        self.objects.remove(self.object(object_id))
        before = len(self.prompts)
        self.prompts = [p for p in self.prompts if p.object_id != object_id]
        self.drafts = [d for d in self.drafts if d.object_id != object_id]
        self.stale.pop(str(object_id), None)
        if object_id not in self.removed_objects:
            self.removed_objects.append(object_id)
        if self.current_object == object_id:
            self.current_object = self.objects[0].id if self.objects else 0
        return before - len(self.prompts)

    def _check_name(self, name: str, exclude: int = -1) -> str:
        name = name.strip()
        if not 1 <= len(name) <= MAX_NAME:
            raise ValueError(f"an object name needs 1 to {MAX_NAME} characters")
        if any(o.name.lower() == name.lower() and o.id != exclude for o in self.objects):
            raise ValueError(f"there is already an object named {name!r}")
        return name

    def layer_names(self) -> Dict[int, str]:
        """Object id -> a valid, unique Nuke layer name made from the object's name."""
        out: Dict[int, str] = {}
        for obj in self.objects:
            base = layer_name(obj.name, obj.id)
            name, n = base, 2
            while name in out.values():
                name, n = f"{base}_{n}", n + 1
            out[obj.id] = name
        return out

    # ------------------------------------------------------------ prompts

    def set_prompt(self, prompt: Prompt) -> Prompt:
        """Commit a prompt, replacing the object's prompt on that frame (the backend does too)."""
        self.object(prompt.object_id)
        self.remove_prompt(prompt.object_id, prompt.frame)
        prompt.seq = self.next_seq
        self.next_seq += 1
        self.prompts.append(prompt)
        return prompt

    def prompt_at(self, object_id: int, frame: int) -> Optional[Prompt]:
        for prompt in self.prompts:
            if prompt.object_id == object_id and prompt.frame == frame:
                return prompt
        return None

    def remove_prompt(self, object_id: int, frame: int) -> bool:
        before = len(self.prompts)
        self.prompts = [p for p in self.prompts if (p.object_id, p.frame) != (object_id, frame)]
        return len(self.prompts) != before

    def start_new_shot(self, shot_id: str, cache_dir: str) -> None:
        """Same prompts, a new backend shot (the plate changed, or the node was copied)."""
        self.shot_id, self.cache_dir = shot_id, cache_dir
        self.matte_pattern, self.revision, self.shot = "", 0, None
        self.removed_objects, self.stale, self.plate_digests, self.sent_masks = [], {}, {}, {}
        self.changed_inputs, self.resend_plate = [], False
        for prompt in self.prompts:
            prompt.mask_digest = ""  # the new shot gets input 2 as it is now

    def draft(self, object_id: int) -> Optional[Draft]:
        for draft in self.drafts:
            if draft.object_id == object_id:
                return draft
        return None

    def drop_draft(self, object_id: int) -> None:
        self.drafts = [d for d in self.drafts if d.object_id != object_id]

    def prompted_frames(self, object_id: Optional[int] = None) -> List[int]:
        return sorted({p.frame for p in self.prompts if object_id in (None, p.object_id)})

    def nearest_prompt(self, object_id: int, frame: int) -> Optional[Prompt]:
        """The object's prompt closest in time to `frame` (later on ties): what is carried over."""
        mine = [p for p in self.prompts if p.object_id == object_id]
        if not mine:
            return None
        return min(mine, key=lambda p: (abs(p.frame - frame), -p.frame))

    def stale_frames(self, object_id: Optional[int] = None) -> List[int]:
        keys = [str(object_id)] if object_id is not None else list(self.stale)
        return from_ranges([r for k in keys for r in self.stale.get(k, [])])

    def latest_prompt(self) -> Optional[Prompt]:
        return max(self.prompts, key=lambda p: p.seq) if self.prompts else None

    # ------------------------------------------------------------ JSON

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        data["format"], data["version"] = STATE_FORMAT, STATE_VERSION
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> NodeState:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StateError(f"the node's saved state is not JSON: {exc}") from exc
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: Any) -> NodeState:
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise StateError(f"the node's saved state is not a {STATE_FORMAT} document")
        if data.get("version") not in READABLE_VERSIONS:
            raise StateError(
                f"the node was saved by a newer SAM2Matting plugin (state version "
                f"{data.get('version')}; this plugin reads {STATE_VERSION}): update the plugin"
            )
        try:
            return _parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"the node's saved state is damaged: {exc}") from exc


def _parse(data: Dict[str, Any]) -> NodeState:
    fields = dict(data)
    del fields["format"], fields["version"]
    for gone in ("direction", "editor_frame", "editor_dirty"):  # version 1 only
        fields.pop(gone, None)
    fields["objects"] = [
        ObjectInfo(
            int(o["id"]),
            str(o["name"]),
            float(o.get("grow", 0.0)),
            float(o.get("feather", 0.0)),
            float(o.get("fill_holes", 0.0)),
        )
        for o in data["objects"]
    ]
    fields["prompts"] = [_prompt(p) for p in data["prompts"]]
    fields["drafts"] = [Draft(**d) for d in data.get("drafts", [])]
    if data.get("shot") is not None:
        fields["shot"] = Shot(**data["shot"])
    return NodeState(**fields)


def _prompt(p: Dict[str, Any]) -> Prompt:
    labels = [int(v) for v in p["labels"]]
    slots = [str(s) for s in p.get("slots") or default_slots(labels)]
    if len(slots) != len(labels):
        raise ValueError(f"{len(slots)} slots for {len(labels)} points")
    return Prompt(
        object_id=int(p["object_id"]),
        frame=int(p["frame"]),
        points=[(float(x), float(y)) for x, y in p["points"]],
        labels=labels,
        box=None if p["box"] is None else [float(v) for v in p["box"]],
        mask=bool(p["mask"]),
        seq=int(p["seq"]),
        slots=slots,
        mask_digest=str(p.get("mask_digest", "")),
    )


def default_slots(labels: List[int]) -> List[str]:
    """Version 1 prompts had no slots: + points fill pos1.., - points neg1.., in order."""
    counts = {1: 0, 0: 0}
    out = []
    for label in labels:
        counts[label] += 1
        out.append(f"{'pos' if label == 1 else 'neg'}{counts[label]}")
    return out


def layer_name(name: str, object_id: int) -> str:
    """An object name as a Nuke layer name: letters, digits, '_'; not a built-in layer name."""
    text = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")[:MAX_NAME]
    if not text or text.lower() in _RESERVED_LAYERS:
        text = f"obj{object_id}_{text}" if text else f"obj{object_id}"
    if text[0].isdigit():
        text = "obj_" + text
    return text


def new_shot_id(script_path: str, node_name: str, token: str) -> str:
    """A shot id that is valid on the wire and unique per node: <script>_<node>_<token>."""
    stem = re.sub(r"\.nk$", "", script_path.replace("\\", "/").rsplit("/", 1)[-1]) or "untitled"
    text = f"{stem}_{node_name}"
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("._-")[:100] or "shot"
    if not text[0].isalnum():
        text = "s" + text
    return f"{text}_{token}"
