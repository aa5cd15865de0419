"""The weight-free fallback tracker: masks carried frame to frame by dense optical flow (DIS).

For machines without SAM2 weights. Each object's mask is propagated from the nearest prompted frame
behind it in the propagation direction and re-seeded at every prompted frame. Work happens at a
reduced resolution (long side `working_size`); logits come back at that resolution.

How a mask moves: DIS flow from the new frame to the previous one tells each new pixel where it came
from; the previous foreground probability is sampled there (backward warping, bilinear). Then the
colour snap (flow_colour.py): within a few pixels of the warped edge, each pixel moves towards the
side whose colours (learned on the nearest prompted frame) it has. Limits: flow errors still add
up where the object's colours also fill its surroundings (the snap has no evidence there),
background revealed behind a moving object can be dragged along (a trail), and objects that move
fast, blur or are occluded get lost. Mean IoU on three real DAVIS clips
(benchmarks/tracking_flow_cpu.py), from the first frame's mask only: 0.66 on a car, 0.34 on a
running dog, 0.36 on a twirling dancer (flow alone: 0.62, 0.17, 0.23); with a mask every 10
frames 0.90, 0.53 and 0.75 (flow alone: 0.91, 0.42, 0.71). It is a stand-in that needs frequent
prompts, not a SAM2 substitute.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Collection, Dict, Iterator, List, Mapping, Optional, Set, Tuple

import cv2
import numpy as np
import torch

from sam2matting.backend.capabilities import Capability, Param
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.tracking.base import (
    FrameSource,
    Prompt,
    TrackedFrame,
    Tracker,
    TrackerSession,
)
from sam2matting.backend.tracking.flow_colour import ColourModel, colour_model, snap
from sam2matting.backend.tracking.flow_seed import seed_probability
from sam2matting.backend.tracking.prompts import check_index, check_prompt
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

DIS_PRESETS: Dict[str, int] = {
    "ultrafast": cv2.DISOpticalFlow_PRESET_ULTRAFAST,
    "fast": cv2.DISOpticalFlow_PRESET_FAST,
    "medium": cv2.DISOpticalFlow_PRESET_MEDIUM,
}
_LOGIT_CLIP = 1e-4  # probabilities are clipped to [1e-4, 1 - 1e-4]: logits within +-9.2


@dataclass(frozen=True)
class FlowSettings:
    """Knobs of the flow tracker (`PARAMS` describes them to the host)."""

    working_size: int = 640  # long side in pixels of the working resolution (never upscaled)
    preset: str = "ultrafast"  # DIS preset; on DAVIS clips ultrafast tracked as well as medium
    memory_window: int = 16  # tracked frames kept on each side of the current frame
    colour_snap: float = 1.0  # strength of the colour snap near the mask's edge (0: flow only)


LABEL = "Optical flow (fallback: no model weights, rough masks)"
PARAMS: List[Param] = [
    Param(
        "working_size",
        "int",
        FlowSettings.working_size,
        "Long side in pixels of the resolution flow is computed at (plates are never upscaled).",
        minimum=64,
        maximum=4096,
    ),
    Param(
        "preset",
        "choice",
        FlowSettings.preset,
        "DIS optical-flow preset: ultrafast, fast or medium (slower, not always better).",
        choices=tuple(DIS_PRESETS),
    ),
    Param(
        "memory_window",
        "int",
        FlowSettings.memory_window,
        "Tracked frames kept in memory on each side of the current frame.",
        minimum=1,
        maximum=512,
    ),
    Param(
        "colour_snap",
        "float",
        FlowSettings.colour_snap,
        "How strongly the mask's edge is pulled to the object's colours from the prompted frame "
        "(0: flow only; lower it where the object's colours fill its surroundings).",
        minimum=0.0,
        maximum=4.0,
    ),
]
# Colour snap, in working-resolution pixels (flow_colour.py): how far from the warped mask's edge
# a pixel may change, and how far around the prompted mask the background's colours are taken.
SNAP_BAND = 8.0
SNAP_RING = 48.0


@dataclass
class _Object:
    # prompted frames: foreground probability at working resolution, and the prompt that made it
    seeds: Dict[int, np.ndarray] = field(default_factory=dict)
    prompts: Dict[int, Prompt] = field(default_factory=dict)
    # prompted frames: the object's and its surroundings' colours there (the colour snap)
    colours: Dict[int, ColourModel] = field(default_factory=dict)
    # tracked (non-prompted) frames, pruned to the memory window around the current frame
    results: Dict[int, np.ndarray] = field(default_factory=dict)


class FlowTracker(Tracker):
    """Optical-flow mask propagation; no weights, CPU only (results moved to `device`)."""

    name = "flow"

    def __init__(
        self, settings: Optional[FlowSettings] = None, device: Optional[torch.device] = None
    ) -> None:
        self.settings = settings or FlowSettings()
        if self.settings.preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {self.settings.preset!r}: {sorted(DIS_PRESETS)}")
        if (
            self.settings.working_size < 16
            or self.settings.memory_window < 1
            or not 0.0 <= self.settings.colour_snap <= 4.0
        ):
            raise ValueError(f"invalid flow settings: {self.settings}")
        self.device = torch.device(device or "cpu")

    def open_session(self, frames: FrameSource) -> FlowSession:
        return FlowSession(frames, self.settings, self.device)

    @classmethod
    def capability(cls, config: BackendConfig, name: str = "") -> Capability:
        return Capability(name or cls.name, LABEL, True, fallback=True, params=list(PARAMS))

    @classmethod
    def create(
        cls, name: str, config: BackendConfig, device: torch.device, options: Mapping[str, Any]
    ) -> FlowTracker:
        return cls(replace(FlowSettings(), **options), device)


class FlowSession(TrackerSession):
    """One shot's flow-tracking state: seeds per object and a bounded window of tracked masks."""

    def __init__(self, frames: FrameSource, settings: FlowSettings, device: torch.device) -> None:
        self._source = frames
        self._settings = settings
        self._device = device
        width, height = frames.size
        self.scale = min(1.0, settings.working_size / max(width, height))
        self.working_size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self._objects: Dict[int, _Object] = {}
        self._frames: OrderedDict[int, Tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._flows: OrderedDict[Tuple[int, int], np.ndarray] = OrderedDict()
        self._dis = cv2.DISOpticalFlow.create(DIS_PRESETS[settings.preset])
        w, h = self.working_size
        self._grid = np.mgrid[0:h, 0:w].astype(np.float32)  # (y, x) pixel grids for remap

    # ---------------------------------------------------------------- TrackerSession

    def add_prompt(self, index: int, obj_id: int, prompt: Prompt) -> TrackedFrame:
        check_index(index, self._source.num_frames)
        check_prompt(prompt, self._source.size)
        obj = self._objects.get(obj_id) or _Object()
        prompt = self._merged(obj.prompts.get(index), prompt)
        rgb = self._rgb(index)  # may fail: frame missing
        seed = seed_probability(prompt, rgb, self.scale)
        colours = colour_model(seed, rgb, SNAP_RING)
        self._objects[obj_id] = obj
        obj.seeds[index] = seed
        obj.prompts[index] = prompt
        obj.colours[index] = colours
        # masks tracked from the old seeds are stale; they are recomputed on the next propagate
        obj.results.clear()
        return self._result(index, self._known_at(index))

    def remove_object(self, obj_id: int) -> None:
        if self._objects.pop(obj_id, None) is None:
            raise ProtocolError(ErrorCode.UNKNOWN_OBJECT, f"object {obj_id} has no prompts")

    def propagate(
        self, start: int, stop: int, objects: Optional[Collection[int]] = None
    ) -> Iterator[TrackedFrame]:
        check_index(start, self._source.num_frames)
        check_index(stop, self._source.num_frames)
        if not self._objects:
            raise ProtocolError(ErrorCode.NO_PROMPT, "no object has a prompt yet")
        wanted = set(self._objects) if objects is None else set(objects) & set(self._objects)
        return self._propagate(start, stop, wanted)

    def conditioning_frames(self, obj_id: Optional[int] = None) -> Set[int]:
        if obj_id is not None:
            obj = self._objects.get(obj_id)
            return set(obj.seeds) if obj else set()
        return {f for o in self._objects.values() for f in o.seeds}

    def memory_bytes(self) -> int:
        arrays = [self._grid, *self._flows.values()]
        arrays += [image for pair in self._frames.values() for image in pair]
        for obj in self._objects.values():
            arrays += [*obj.seeds.values(), *obj.results.values()]
            arrays += [p.mask for p in obj.prompts.values() if p.mask is not None]
        models = sum(m.nbytes for o in self._objects.values() for m in o.colours.values())
        return int(sum(a.nbytes for a in arrays)) + models

    def close(self) -> None:
        self._objects.clear()
        self._frames.clear()
        self._flows.clear()

    # ---------------------------------------------------------------- extras

    def retained_outputs(self) -> int:
        """Tracked (non-prompted) masks held over all objects (bounded by the memory window)."""
        return sum(len(o.results) for o in self._objects.values())

    # ---------------------------------------------------------------- tracking

    def _propagate(self, start: int, stop: int, wanted: Set[int]) -> Iterator[TrackedFrame]:
        """Only the wanted objects move: the others keep their results for their own passes."""
        step = 1 if stop >= start else -1
        previous: Optional[int] = None
        for index in range(start, stop + step, step):
            objects = [(oid, obj) for oid, obj in self._objects.items() if oid in wanted]
            probs = {oid: self._track(obj, index, previous, step) for oid, obj in objects}
            for oid, prob in probs.items():
                if index not in self._objects[oid].seeds:
                    self._objects[oid].results[index] = prob
            self._prune(index)
            previous = index
            yield self._result(index, probs)

    def _track(self, obj: _Object, index: int, previous: Optional[int], step: int) -> np.ndarray:
        seed = obj.seeds.get(index)
        if seed is not None:
            return seed
        if previous is not None:
            return self._step(obj, self._known(obj, previous), previous, index)
        retained = obj.results.get(index)
        return retained if retained is not None else self._catch_up(obj, index, step)

    def _known(self, obj: _Object, index: int) -> np.ndarray:
        seed = obj.seeds.get(index)
        return seed if seed is not None else obj.results[index]

    def _catch_up(self, obj: _Object, index: int, step: int) -> np.ndarray:
        """A start frame with no result: carry the nearest seed to it, frame by frame.

        The nearest seed behind `index` in the propagation direction is preferred; where there is
        none (a forward run that starts before the first prompt), the nearest seed ahead.
        """
        behind = [s for s in obj.seeds if (s - index) * step < 0]
        pool = behind or list(obj.seeds)
        source = min(pool, key=lambda s: abs(s - index))
        direction = 1 if index > source else -1
        prob = obj.seeds[source]
        for frame in range(source, index, direction):
            prob = self._step(obj, prob, frame, frame + direction)
        return prob

    def _step(self, obj: _Object, prob: np.ndarray, src: int, dst: int) -> np.ndarray:
        """`prob` carried from frame src to dst: warped by the flow, then its edge snapped to
        the colours of the object's nearest prompted frame (flow_colour.py)."""
        warped = self._warp(prob, src, dst)
        if self._settings.colour_snap <= 0:
            return warped
        model = obj.colours[min(obj.colours, key=lambda s: (abs(s - dst), s))]
        strength = self._settings.colour_snap
        return snap(warped, self._rgb(dst), model, SNAP_BAND, strength)

    def _warp(self, prob: np.ndarray, src: int, dst: int) -> np.ndarray:
        """Sample `prob` (frame src) where each pixel of frame dst came from."""
        flow = self._flow(dst, src)
        grid_y, grid_x = self._grid
        return cv2.remap(
            prob,
            grid_x + flow[..., 0],
            grid_y + flow[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def _flow(self, dst: int, src: int) -> np.ndarray:
        """Flow from frame dst to frame src (dst(x) ~ src(x + flow)); the latest two are cached."""
        flow = self._flows.get((dst, src))
        if flow is None:
            width, height = self.working_size
            buffer = np.zeros((height, width, 2), np.float32)  # output only: no initial flow
            flow = np.asarray(self._dis.calc(self._grey(dst), self._grey(src), buffer))
            self._flows[(dst, src)] = flow
            while len(self._flows) > 2:
                self._flows.popitem(last=False)
        return flow

    def _grey(self, index: int) -> np.ndarray:
        """A frame's grey uint8 image at working resolution (what DIS sees)."""
        return self._working(index)[0]

    def _rgb(self, index: int) -> np.ndarray:
        """A frame's (H, W, 3) RGB uint8 image at working resolution (seeds, colour snap)."""
        return self._working(index)[1]

    def _working(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """(grey, RGB) uint8 images of a frame at working resolution, made from one read; the
        latest three frames are cached, which covers a propagation step and the flow it reuses."""
        cached = self._frames.get(index)
        if cached is not None:
            self._frames.move_to_end(index)
            return cached
        red, green, blue = self._planes(index)
        # Rec. 601 luma, as cv2.cvtColor(RGB2GRAY), on the small planes
        grey = cv2.convertScaleAbs(0.299 * red + 0.587 * green + 0.114 * blue, alpha=255.0)
        rgb = cv2.convertScaleAbs(cv2.merge((red, green, blue)), alpha=255.0)
        self._frames[index] = (grey, rgb)
        while len(self._frames) > 3:
            self._frames.popitem(last=False)
        return grey, rgb

    def _planes(self, index: int) -> Tuple[np.ndarray, ...]:
        """R, G, B float32 planes at working resolution: resized plane by plane, which avoids
        making the full-resolution frame contiguous in (H, W, 3) order first."""
        planes = self._source.rgb(index).float().numpy()
        if planes.shape[:0:-1] == self.working_size:
            return tuple(planes)
        area = cv2.INTER_AREA
        return tuple(cv2.resize(p, self.working_size, interpolation=area) for p in planes)

    def _prune(self, center: int) -> None:
        window = self._settings.memory_window
        for obj in self._objects.values():
            for frame in [f for f in obj.results if abs(f - center) > window]:
                del obj.results[frame]

    def _known_at(self, index: int) -> Dict[int, np.ndarray]:
        """Every object's seed or retained tracked mask on a frame."""
        known = {}
        for oid, obj in self._objects.items():
            prob = obj.seeds.get(index)
            prob = obj.results.get(index) if prob is None else prob
            if prob is not None:
                known[oid] = prob
        return known

    def _result(self, index: int, probs: Dict[int, np.ndarray]) -> TrackedFrame:
        logits = {}
        for oid, prob in probs.items():
            clipped = np.clip(prob, _LOGIT_CLIP, 1.0 - _LOGIT_CLIP)
            logit = np.log(clipped / (1.0 - clipped)).astype(np.float32)
            logits[oid] = torch.from_numpy(logit).to(self._device)
        return TrackedFrame(index=index, logits=logits)

    @staticmethod
    def _merged(old: Optional[Prompt], new: Prompt) -> Prompt:
        """Clicks with clear_old=False add to the object's earlier clicks on the same frame."""
        if new.clear_old or old is None or old.mask is not None or new.mask is not None:
            return new
        return Prompt(
            points=old.points + new.points,
            labels=old.labels + new.labels,
            box=old.box,
            clear_old=True,
        )
