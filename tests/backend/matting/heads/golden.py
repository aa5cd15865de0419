"""Heads parameters generated from each state-dict key's name, as the official-code golden does.

`../shared/reference/goldens/README.md`: any implementation with the official key layout
reproduces them, so the golden needs no weights file.
"""

from __future__ import annotations

import zlib
from typing import Dict

import numpy as np
import torch

from sam2matting.backend.matting.heads.model import SAM2MattingHeads
from tests.conftest import SHARED_DATA

GOLDEN = SHARED_DATA.parent / "reference" / "goldens" / "sam2matting_heads_official_256.npz"
FUSION_BIAS = "unknown_fusion.6.bias"


def name_seeded_state(heads: SAM2MattingHeads, fusion_bias_shift: float) -> Dict[str, torch.Tensor]:
    """Every parameter and statistic of `heads` drawn from a generator seeded by its key."""
    modules = dict(heads.named_modules())
    state: Dict[str, torch.Tensor] = {}
    for key, tensor in heads.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = tensor.clone()
            continue
        rng = np.random.default_rng(zlib.crc32(key.encode()))
        shape = tuple(tensor.shape)
        if key.endswith("running_var"):
            value = 0.5 + rng.random(shape)
        elif key.endswith("running_mean"):
            value = 0.1 * rng.standard_normal(shape)
        elif len(shape) == 4:
            value = rng.standard_normal(shape) * np.sqrt(2 / _fan_in(modules, key, shape))
        elif key.endswith("weight"):  # BatchNorm
            value = 1 + 0.1 * rng.standard_normal(shape)
        else:
            value = 0.1 * rng.standard_normal(shape)
        state[key] = torch.from_numpy(np.asarray(value, dtype=np.float32))
    state[FUSION_BIAS] = state[FUSION_BIAS] - fusion_bias_shift
    return state


def _fan_in(modules: Dict[str, torch.nn.Module], key: str, shape: tuple) -> float:
    module = modules[key.rsplit(".", 1)[0]]
    if isinstance(module, torch.nn.ConvTranspose2d):
        return shape[0] * shape[2] * shape[3] / 4
    return float(shape[1] * shape[2] * shape[3])


def name_seeded_heads(fusion_bias_shift: float) -> SAM2MattingHeads:
    heads = SAM2MattingHeads()
    heads.load_state_dict(name_seeded_state(heads, fusion_bias_shift), strict=True)
    return heads.eval()
