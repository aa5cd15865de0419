"""The tracker interface every tracker implements, and the plain data it exchanges.

Conventions (shared with the protocol): frames inside the tracker are 0-based indices into the
shot's frame range; coordinates are continuous plate pixels with the origin at the top-left corner
of the top-left pixel, x to the right, y down, at full plate resolution.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Collection, Dict, Iterator, Mapping, Optional, Protocol, Set, Tuple

import numpy as np
import torch

from sam2matting.backend.capabilities import Capability
from sam2matting.backend.config import BackendConfig


@dataclass(frozen=True)
class Prompt:
    """One prompt for one object on one frame, in plate pixel coordinates (top-left origin)."""

    points: Tuple[Tuple[float, float], ...] = ()
    labels: Tuple[int, ...] = ()  # 1 = positive (object), 0 = negative (background)
    box: Optional[Tuple[float, float, float, float]] = None  # x0, y0, x1, y1
    mask: Optional[np.ndarray] = None  # (H, W) bool at plate resolution
    clear_old: bool = True  # replace earlier prompts of this object on this frame

    def is_empty(self) -> bool:
        return not self.points and self.box is None and self.mask is None


class FrameSource(Protocol):
    """The shot's plate, by 0-based index, decoded on demand (never loaded whole)."""

    @property
    def num_frames(self) -> int: ...

    @property
    def size(self) -> Tuple[int, int]:
        """(width, height) of the plate in pixels."""

    def rgb(self, index: int) -> torch.Tensor:
        """(3, H, W) float32 in [0, 1], display-referred (sRGB-encoded), on the CPU."""


@dataclass
class SAM2Features:
    """SAM2 backbone features of one frame, as the tracker computed them (for the matting heads)."""

    image: torch.Tensor  # (1, 3, S, S) the normalised square-resized frame the tracker saw
    # stride 4 (32 ch) and stride 8 (64 ch) after the mask decoder's conv_s0/conv_s1;
    # stride 16 (256 ch)
    fpn: Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class TrackedFrame:
    """The tracker's answer for one frame: mask logits per object, plus reusable features."""

    index: int
    # per object id: (h, w) float logits at the tracker's working resolution; > 0 means object
    logits: Dict[int, torch.Tensor] = field(default_factory=dict)
    features: Optional[SAM2Features] = None

    def mask(self, obj_id: int, size: Tuple[int, int]) -> torch.Tensor:
        """Binary mask of one object at plate size (width, height), as float32 0/1."""
        logits = self.logits[obj_id].float()[None, None]
        width, height = size
        if logits.shape[-2:] != (height, width):
            logits = torch.nn.functional.interpolate(
                logits, size=(height, width), mode="bilinear", align_corners=False
            )
        return (logits[0, 0] > 0).float()


class TrackerSession(abc.ABC):
    """Tracker memory for one shot: its objects, prompts and the frames tracked so far.

    Not thread-safe: the backend's one GPU worker owns every session.
    """

    @abc.abstractmethod
    def add_prompt(self, index: int, obj_id: int, prompt: Prompt) -> TrackedFrame:
        """Segment frame `index` for `obj_id` with this prompt; the frame becomes conditioning.

        Returns the frame's result for every object the session knows on that frame.
        """

    @abc.abstractmethod
    def remove_object(self, obj_id: int) -> None:
        """Forget an object, its prompts and its memory."""

    @abc.abstractmethod
    def propagate(
        self, start: int, stop: int, objects: Optional[Collection[int]] = None
    ) -> Iterator[TrackedFrame]:
        """Track from `start` to `stop` inclusive, a frame per step (stop < start: backward).

        Frames are produced lazily so the caller can cancel or pre-empt between frames.
        `objects`: the objects wanted (None: all). A tracker that can track objects apart
        leaves the others untouched, so an object's result never depends on which other
        objects were tracked before it (the farm tracks each object in its own task); one
        that tracks them jointly (SAM2) may track and return all.
        """

    @abc.abstractmethod
    def conditioning_frames(self, obj_id: Optional[int] = None) -> Set[int]:
        """Indices of prompted (conditioning) frames, for one object or for any."""

    @abc.abstractmethod
    def memory_bytes(self) -> int:
        """Bytes of tensors this session holds (host and device), for memory-bound checks."""

    def close(self) -> None:  # noqa: B027 - optional hook, most sessions hold nothing to free
        """Release what the session holds."""


class Tracker(abc.ABC):
    """A loaded tracker (model weights), shared by every shot's session.

    Registered by name in `tracking/registry.py`; the registry calls `capability` and `create`.
    """

    name: str = ""

    @classmethod
    @abc.abstractmethod
    def capability(cls, config: BackendConfig, name: str = "") -> Capability:
        """Describe the tracker registered as `name`: whether it runs here and why not, and its
        typed options (what `describe` advertises)."""

    @classmethod
    @abc.abstractmethod
    def create(
        cls, name: str, config: BackendConfig, device: torch.device, options: Mapping[str, Any]
    ) -> Tracker:
        """The tracker registered as `name` on `device`, options already checked."""

    @abc.abstractmethod
    def open_session(self, frames: FrameSource) -> TrackerSession:
        """Start an empty session over a shot's frames."""
