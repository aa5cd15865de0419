"""Held-out synthetic validation during training (never the alphamatting evaluation set).

The validation tiles come from their own seed stream, so no training sample is among them.
Errors are measured in the unknown band, for the network and for the coarse prior it refines.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch

from sam2matting.backend.matting.refiner.data import (
    FIELDS,
    VAL_STREAM,
    Batch,
    encode,
    sample_rng,
    to_batch,
)
from sam2matting.backend.matting.refiner.model import Refiner
from sam2matting.backend.matting.synthetic.textures import TexturePool


def validation_set(
    seed: int, count: int, tile: int, textures: Optional[TexturePool], device: torch.device
) -> Batch:
    """Held-out synthetic samples (their own seed stream), no augmentation."""
    samples = [encode(sample_rng(seed, VAL_STREAM, i), tile, textures) for i in range(count)]
    stacked = {k: torch.from_numpy(np.stack([s[k] for s in samples])).to(device) for k in FIELDS}
    return to_batch(stacked)


@torch.no_grad()
def validate(model: Refiner, val: Batch, batch: int) -> Dict[str, float]:
    """SAD (per tile, /1000) and MSE in the unknown band, for the model and the prior."""
    was_training = model.training
    model.eval()
    sums = {"sad": 0.0, "sad_coarse": 0.0, "mse": 0.0, "mse_coarse": 0.0}
    pixels = 0.0
    n = val.rgb.shape[0]
    for i in range(0, n, batch):
        sl = slice(i, i + batch)
        band = ((val.trimap[sl] - 0.5).abs() < 0.25).float()
        gt = val.alpha[sl]
        pred = model.predict(val.rgb[sl], val.coarse[sl], val.trimap[sl])
        for name, guess in (("", pred), ("_coarse", val.coarse[sl])):
            sums["sad" + name] += float(((guess - gt).abs() * band).sum())
            sums["mse" + name] += float((((guess - gt) ** 2) * band).sum())
        pixels += float(band.sum())
    model.train(was_training)
    return {
        "sad": sums["sad"] / n / 1000.0,
        "sad_coarse": sums["sad_coarse"] / n / 1000.0,
        "mse": sums["mse"] / max(pixels, 1.0),
        "mse_coarse": sums["mse_coarse"] / max(pixels, 1.0),
    }
