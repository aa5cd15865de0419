"""What a SAM2Matte node keeps in its script: versioned JSON in one hidden knob.

Shot id, cache folder, the shot's format and range, objects, every prompt (points with their
sign, box, mask flag; in Nuke knob space), the tracker and engine, frame range, direction, output
choice and the backend revision last seen. A script reopens with all of it, so the backend can
be given the shot back (open_shot restores it from its journal; prompts are re-sent if the
backend lost them). Nothing here imports Nuke.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from . import coords

STATE_FORMAT = "sam2matting-nuke-node"
STATE_VERSION = 1
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

    def is_empty(self) -> bool:
        return not self.points and self.box is None and not self.mask


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
    direction: str = "both"
    output: str = OUTPUTS[0]
    revision: int = 0  # the backend journal's revision last seen
    editor_frame: Optional[int] = None  # the frame the artist last edited prompt knobs on
    editor_dirty: bool = False

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
        """Drop an object and its prompts; returns how many prompts went with it."""
        self.objects.remove(self.object(object_id))
        before = len(self.prompts)
        self.prompts = [p for p in self.prompts if p.object_id != object_id]
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
        if data.get("version") != STATE_VERSION:
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
    fields["objects"] = [ObjectInfo(int(o["id"]), str(o["name"])) for o in data["objects"]]
    fields["prompts"] = [
        Prompt(
            object_id=int(p["object_id"]),
            frame=int(p["frame"]),
            points=[(float(x), float(y)) for x, y in p["points"]],
            labels=[int(v) for v in p["labels"]],
            box=None if p["box"] is None else [float(v) for v in p["box"]],
            mask=bool(p["mask"]),
            seq=int(p["seq"]),
        )
        for p in data["prompts"]
    ]
    if data.get("shot") is not None:
        fields["shot"] = Shot(**data["shot"])
    return NodeState(**fields)


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
