"""A streaming SAM2.1 tracker session: sam2's own video predictor over frames decoded on demand.

Only public sam2 methods are called (add_new_points_or_box, add_new_mask, propagate_in_video,
remove_object, reset_state, forward_image); the inference state is built by sam2_state.new_state
with a lazy frame sequence, and trimmed after every frame so memory stays flat over long shots.
"""

from __future__ import annotations

import logging
from typing import (
    TYPE_CHECKING,
    Collection,
    ContextManager,
    Dict,
    Iterator,
    List,
    Optional,
    Set,
    Tuple,
)

import numpy as np
import torch

from sam2matting.backend.tracking import sam2_state
from sam2matting.backend.tracking.base import (
    FrameSource,
    Prompt,
    SAM2Features,
    TrackedFrame,
    TrackerSession,
)
from sam2matting.backend.tracking.prompts import check_index, check_prompt
from sam2matting.backend.tracking.sam2_frames import LazyFrames
from sam2matting.backend.tracking.sam2_memory_dtype import memory_in_weight_dtype
from sam2matting.protocol.errors import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    from sam2matting.backend.tracking.sam2_model import SAM2Settings

log = logging.getLogger(__name__)


class SAM2Session(TrackerSession):
    """One shot's SAM2 memory: objects, prompts, and a bounded window of tracked frames.

    Results: `TrackedFrame.logits[obj]` are SAM2's low-resolution mask logits (image_size / 4
    square, 256x256 at 1024), float32 on the model's device; `features` are the frame's backbone
    features as the tracker computed them (bf16 on CUDA), shared with the session: read-only.
    """

    def __init__(
        self, model: SAM2VideoPredictor, frames: FrameSource, settings: SAM2Settings
    ) -> None:
        if settings.memory_window < 1:
            raise ValueError(f"memory_window must be at least 1, got {settings.memory_window}")
        self._model = model
        self._frames = frames
        self._settings = settings
        self._device = torch.device(model.device)
        self._images = LazyFrames(frames, int(model.image_size), self._device)
        self._state = sam2_state.new_state(
            self._images, frames.size, self._device, settings.offload_state_to_cpu
        )

    # ---------------------------------------------------------------- TrackerSession

    def add_prompt(self, index: int, obj_id: int, prompt: Prompt) -> TrackedFrame:
        check_index(index, len(self._images))
        check_prompt(prompt, self._frames.size)
        is_new = sam2_state.obj_index(self._state, obj_id) is None
        try:
            with self._compute_dtypes():
                if prompt.mask is not None:
                    mask = torch.tensor(np.asarray(prompt.mask, dtype=bool))
                    self._model.add_new_mask(self._state, index, obj_id, mask)
                else:
                    self._add_points_or_box(index, obj_id, prompt)
        except BaseException:
            # sam2 registers the object before reading the frame: a frame that is missing, or
            # CUDA running out of memory, must not leave an object with no prompt behind
            if is_new and sam2_state.obj_index(self._state, obj_id) is not None:
                self._model.remove_object(self._state, obj_id, need_output=False)
            raise
        return self._result(index)

    def remove_object(self, obj_id: int) -> None:
        if sam2_state.obj_index(self._state, obj_id) is None:
            raise ProtocolError(ErrorCode.UNKNOWN_OBJECT, f"object {obj_id} has no prompts")
        self._model.remove_object(self._state, obj_id, strict=True, need_output=False)

    def propagate(
        self, start: int, stop: int, objects: Optional[Collection[int]] = None
    ) -> Iterator[TrackedFrame]:
        # SAM2 tracks every object of its state together (one batch): `objects` is not narrowed
        num_frames = len(self._images)
        check_index(start, num_frames)
        check_index(stop, num_frames)
        self._check_prompted()
        return self._propagate(start, stop)

    def conditioning_frames(self, obj_id: Optional[int] = None) -> Set[int]:
        ids = self.object_ids if obj_id is None else [obj_id]
        frames: Set[int] = set()
        for oid in ids:
            idx = sam2_state.obj_index(self._state, oid)
            if idx is not None:
                frames |= sam2_state.conditioning_frames(self._state, idx)
        return frames

    def memory_bytes(self) -> int:
        return sam2_state.state_bytes(self._state)

    def close(self) -> None:
        self._model.reset_state(self._state)
        self.release_caches()

    # ---------------------------------------------------------------- extras

    @property
    def object_ids(self) -> List[int]:
        return [int(i) for i in self._state["obj_ids"]]

    @property
    def inference_state(self) -> sam2_state.State:
        """sam2's state dict, for diagnostics and tests; change it only through this session."""
        return self._state

    def retained_outputs(self) -> int:
        """Non-conditioning frame outputs held over all objects (bounded by the memory window)."""
        return sam2_state.retained_outputs(self._state)

    def release_caches(self) -> None:
        """Drop what can be recomputed (features of the latest frame, decoded frames).

        Call after a torch.cuda.OutOfMemoryError before retrying with less (fewer objects,
        offload_state_to_cpu); tracking memory and prompts are kept.
        """
        self._state["cached_features"] = {}
        self._images.clear()
        if self._device.type == "cuda":
            torch.cuda.empty_cache()

    # ---------------------------------------------------------------- internals

    def _propagate(self, start: int, stop: int) -> Iterator[TrackedFrame]:
        reverse = stop < start
        frames = self._model.propagate_in_video(
            self._state,
            start_frame_idx=start,
            max_frame_num_to_track=abs(stop - start),
            reverse=reverse,
        )
        try:
            while True:
                # the dtype context is entered around each step, not around the yield: one held
                # across a yield would leak into the caller's code between frames
                with self._compute_dtypes():
                    step = next(frames, None)
                    if step is None:
                        return
                    result = self._result(int(step[0]))
                sam2_state.prune_non_cond(self._state, result.index, self._settings.memory_window)
                yield result
        finally:
            frames.close()

    def _add_points_or_box(self, index: int, obj_id: int, prompt: Prompt) -> None:
        points = self._to_model_pixels(prompt.points) if prompt.points else None
        labels = list(prompt.labels) if prompt.points else None
        box = None
        if prompt.box is not None:
            x0, y0, x1, y1 = prompt.box
            (bx0, by0), (bx1, by1) = self._to_model_pixels(((x0, y0), (x1, y1)))
            box = [bx0, by0, bx1, by1]
        self._model.add_new_points_or_box(
            self._state,
            frame_idx=index,
            obj_id=obj_id,
            points=points,
            labels=labels,
            clear_old_points=prompt.clear_old,
            normalize_coords=True,
            box=box,
        )

    def _to_model_pixels(
        self, points: Tuple[Tuple[float, float], ...]
    ) -> List[Tuple[float, float]]:
        """Continuous plate coordinates -> the pixel-index convention sam2 expects.

        sam2 scales plate coordinates by image_size / plate size, then its prompt encoder adds 0.5
        ("shift to centre of pixel"), so it reads coordinates as pixel indices. Shifting by half
        a model pixel, in plate units, puts a continuous plate point on the same model point.
        """
        width, height = self._frames.size
        size = float(self._model.image_size)
        dx, dy = 0.5 * width / size, 0.5 * height / size
        return [(float(x) - dx, float(y) - dy) for x, y in points]

    def _result(self, index: int) -> TrackedFrame:
        logits: Dict[int, torch.Tensor] = {}
        for obj_id in self.object_ids:
            out = sam2_state.object_output(self._state, self._state["obj_id_to_idx"][obj_id], index)
            if out is not None and out.get("pred_masks") is not None:
                # a copy: the stored logits are sam2's memory for later frames
                logits[obj_id] = out["pred_masks"][0, 0].to(self._device, torch.float32, copy=True)
        features = self._features(index) if self._settings.expose_features else None
        return TrackedFrame(index=index, logits=logits, features=features)

    def _features(self, index: int) -> SAM2Features:
        """The frame's backbone features: sam2's cached ones, or one encoder pass if not cached.

        sam2 skips the encoder on conditioning frames during propagation, so their features may
        be missing; they are computed the way sam2 caches them (image, backbone_out).
        """
        cached = self._state["cached_features"].get(index)
        if cached is None:
            with torch.inference_mode():
                image = self._images[index].to(self._device).float().unsqueeze(0)
                cached = (image, self._model.forward_image(image))
            self._state["cached_features"] = {index: cached}
        image, backbone_out = cached
        fpn = backbone_out["backbone_fpn"]
        return SAM2Features(image=image, fpn=(fpn[0], fpn[1], fpn[2]))

    def _check_prompted(self) -> None:
        ids = self.object_ids
        unprompted = [i for i in ids if not self.conditioning_frames(i)]
        if not ids or unprompted:
            raise ProtocolError(
                ErrorCode.NO_PROMPT,
                "no object has a prompt yet" if not ids else f"objects {unprompted} have no prompt",
            )

    def _compute_dtypes(self) -> ContextManager[object]:
        """The dtypes sam2 runs in: bf16 autocast on CUDA; elsewhere the weights' float32.

        sam2 stores mask memories as bf16 whatever the device: without autocast, memory attention
        must get them in its weights' dtype (sam2_memory_dtype explains where they would meet).
        """
        if self._device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return memory_in_weight_dtype(self._model)
