"""Matting one image from a mask, outside a shot: what `matte-image` and `eval` run.

Weight-free engines take (RGB, mask) as they are. The SAM2Matting heads need a SAM2.1 tracker's
features of the image: the checkpoint's own tracker weights are loaded once, the image goes
through its encoder the way the tracker's sessions preprocess frames, and the mask stands in for
the tracker's logits (resized to the 1/4 grid, binarised the same way).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.device import autocast
from sam2matting.backend.matting import registry
from sam2matting.backend.matting.base import MattingEngine, MattingInput
from sam2matting.backend.tracking.base import SAM2Features

log = logging.getLogger(__name__)


def image_features(model: Any, rgb: torch.Tensor) -> SAM2Features:
    """Backbone features of one (3, H, W) image, as a SAM2.1 session computes them."""
    from sam2matting.backend.tracking.sam2_frames import preprocess

    device = torch.device(model.device)
    image = preprocess(rgb, int(model.image_size), device)[None]
    with torch.inference_mode(), autocast(device):
        out = model.forward_image(image)
    fpn = out["backbone_fpn"]
    return SAM2Features(image=image, fpn=(fpn[0], fpn[1], fpn[2]))


def mask_logits(mask: torch.Tensor, size: int) -> torch.Tensor:
    """A binary (H, W) mask as tracker-like (size, size) logits: positive inside."""
    small = F.interpolate(mask.float()[None, None], size=(size, size), mode="area")[0, 0]
    return (small - 0.5) * 20.0


class ImageMatter:
    """Mattes (rgb (H, W, 3), mask (H, W)) numpy arrays with one loaded engine."""

    def __init__(
        self, engine: MattingEngine, device: torch.device, tracker_model: Optional[Any] = None
    ) -> None:
        self.engine = engine
        self.device = device
        self.tracker_model = tracker_model
        if engine.needs_features and tracker_model is None:
            raise ValueError(f"engine {engine.name} needs a SAM2 tracker model for features")

    @property
    def name(self) -> str:
        return self.engine.name

    def __call__(self, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        rgb_t = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float()
        mask_t = torch.from_numpy(np.ascontiguousarray(mask)).float()
        inp = MattingInput(rgb=rgb_t.to(self.device), mask=mask_t.to(self.device))
        if self.tracker_model is not None:
            inp.features = image_features(self.tracker_model, inp.rgb)
            inp.logits = mask_logits(inp.mask, int(self.tracker_model.image_size) // 4)
        return self.engine.run(inp).cpu().numpy()


def load_matter(
    engine_name: str,
    config: BackendConfig,
    device: torch.device,
    options: Optional[Mapping[str, Any]] = None,
) -> ImageMatter:
    """The named engine ready for single images ("auto": the best engine that needs no tracker;
    the SAM2Matting heads when named, with their checkpoint's own tracker for features)."""
    name = _resolve(engine_name, config)
    engine = registry.load_engine(name, config, device, options=options)
    model = _tracker_model(name, config, device) if engine.needs_features else None
    return ImageMatter(engine, device, model)


def _resolve(name: str, config: BackendConfig) -> str:
    """The engine for `name`; outside a shot "auto" skips engines that need tracker features."""
    if name != registry.AUTO:
        return registry.resolve_engine(name, config)
    caps = [
        c
        for c in registry.engine_capabilities(config)
        if c.available and not registry.engine_needs_features(c.name)
    ]
    best = [c for c in caps if not c.fallback] or caps
    if not best:
        return registry.resolve_engine(name, config)  # raises with the reason
    return best[0].name


def _tracker_model(name: str, config: BackendConfig, device: torch.device) -> Any:
    """The SAM2.1 model bundled in a SAM2Matting checkpoint (its tracker half)."""
    from sam2matting.backend.model_files import SAM2MATTING_HEADS
    from sam2matting.backend.tracking.sam2_model import load_sam2_tracker

    entry = SAM2MATTING_HEADS[name]
    tracker = load_sam2_tracker(entry.name, Path(config.models_dir), device, model_file=entry)
    log.info(
        "computing image features with the %s tracker bundled in %s", entry.tracker, entry.filename
    )
    return tracker.model
