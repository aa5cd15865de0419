"""An engine's two phases over one tracked frame, as the server and the farm both run them.

The server's shot runs them back to back (`server/shot.py`); the farm's Track step runs the
tracker-side phase and stores the priors, its Matte step loads them and runs the native phase
(`render/farm_track.py`, `render/farm_matte.py`). Both go through these two functions, so the
same prior gives the same alpha wherever it is finished.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple

import numpy as np
import torch

from sam2matting.backend.device import autocast
from sam2matting.backend.matting.base import MattePrior, MattingEngine, MattingInput
from sam2matting.backend.tracking.base import TrackedFrame


def track_phase(
    engine: MattingEngine,
    rgb: torch.Tensor,
    tracked: TrackedFrame,
    objects: Sequence[int],
    size: Tuple[int, int],
) -> Dict[int, MattePrior]:
    """Each object's prior on one tracked frame; objects the tracker lost there are left out.

    rgb: (3, H, W) on the pipeline device; size: the plate's (width, height).
    """
    device = rgb.device
    priors: Dict[int, MattePrior] = {}
    for obj_id in objects:
        if obj_id not in tracked.logits:
            continue
        mask = tracked.mask(obj_id, size).to(device)
        inp = MattingInput(rgb, mask, tracked.logits[obj_id], tracked.features)
        with autocast(device):
            priors[obj_id] = engine.track_phase(inp)
    return priors


def native_phase(
    engine: MattingEngine, rgb: torch.Tensor, priors: Mapping[int, MattePrior]
) -> Dict[int, np.ndarray]:
    """Alpha per object at plate resolution, float32 in [0, 1] on the CPU, never NaN."""
    device = rgb.device
    alphas: Dict[int, np.ndarray] = {}
    for obj_id, prior in priors.items():
        on_device = MattePrior(
            prior.mask.to(device), None if prior.coarse is None else prior.coarse.to(device)
        )
        with autocast(device):
            alpha = engine.run_native(rgb, on_device)
        alphas[obj_id] = alpha.cpu().numpy()
    return alphas
