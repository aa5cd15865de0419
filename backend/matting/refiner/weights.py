"""The refiner's committed weights: fp16 state dict + a JSON with architecture, recipe, hash.

Written by the training script, read by the engine. Built in one place (STYLE 6): config ->
instantiate -> hash check -> strict load -> device -> eval.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import torch

from sam2matting.backend.matting.refiner.model import Refiner, RefinerConfig, parameter_count
from sam2matting.protocol.atomic import atomic_write_bytes, atomic_write_json

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_NAME = "refiner_fp16.pt"
INFO_NAME = "refiner.json"
MAX_BYTES = 20 * 1024 * 1024  # the budget for committed weights

PathLike = Union[str, Path]


def export(model: Refiner, out_dir: PathLike, recipe: Mapping[str, Any]) -> Dict[str, Any]:
    """Save fp16 weights and their JSON description into `out_dir`; returns the description."""
    out = Path(out_dir)
    state = {
        k: (v.detach().half() if v.is_floating_point() else v.detach()).cpu()
        for k, v in model.state_dict().items()
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    if len(data) > MAX_BYTES:
        raise ValueError(f"fp16 weights are {len(data) / 2**20:.1f} MB, over the 20 MB budget")
    info = {
        "format": 1,
        "weights": WEIGHTS_NAME,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "parameters": parameter_count(model),
        "config": model.config.to_dict(),
        "recipe": dict(recipe),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / WEIGHTS_NAME, data)
    atomic_write_json(out / INFO_NAME, info, indent=2, sort_keys=True)
    return info


def _folder(weights_dir: Optional[PathLike]) -> Path:
    return Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR


def missing_reason(weights_dir: Optional[PathLike] = None) -> Optional[str]:
    """Why the weights (default: the committed ones) cannot be used; None when present."""
    folder = _folder(weights_dir)
    for name in (INFO_NAME, WEIGHTS_NAME):
        if not (folder / name).is_file():
            return (
                f"refiner weights not found ({folder / name}); train them with "
                "`python -m sam2matting.backend.matting.refiner.train` (see MODEL_CARD.md)"
            )
    return None


def load(
    weights_dir: Optional[PathLike] = None,
    device: Union[str, torch.device] = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Refiner:
    """The refiner in eval mode on `device`; raises ValueError on a missing or corrupt file."""
    reason = missing_reason(weights_dir)
    if reason:
        raise ValueError(reason)
    folder = _folder(weights_dir)
    info = json.loads((folder / INFO_NAME).read_text(encoding="utf-8"))
    data = (folder / WEIGHTS_NAME).read_bytes()
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise ValueError(f"{folder / WEIGHTS_NAME}: checksum does not match {INFO_NAME}")
    model = Refiner(RefinerConfig.from_dict(info["config"]))
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    model.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True
    )
    return model.to(device=device, dtype=dtype).eval()
