"""SAM2Matting head weights in the official checkpoint layout: read strictly, write atomically.

Official files hold `{"model": state_dict}` with the stock SAM2.1 tracker keys and the head keys
side by side (`model.HEAD_PREFIXES`). The heads load strictly: a missing, unexpected or misshapen
head key is CHECKPOINT_INVALID, naming the keys, never a silent partial load.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Dict, Mapping, Optional

import torch

from sam2matting.backend.matting.heads.model import HEAD_PREFIXES, SAM2MattingHeads
from sam2matting.backend.model_files import ModelFile
from sam2matting.backend.tracking.checkpoints import read_state_dict
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

StateDict = Dict[str, torch.Tensor]


def head_state(state: Mapping[str, torch.Tensor]) -> StateDict:
    """The head tensors of a full checkpoint state dict (tracker keys dropped)."""
    return {k: v for k, v in state.items() if k.startswith(HEAD_PREFIXES)}


def check_head_keys(
    heads: SAM2MattingHeads, state: Mapping[str, torch.Tensor], source: str
) -> None:
    """CHECKPOINT_INVALID unless `state` has exactly the heads' keys with the heads' shapes."""
    expected = {k: tuple(v.shape) for k, v in heads.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshapen = sorted(
        k for k in set(expected) & set(state) if tuple(state[k].shape) != expected[k]
    )
    if missing or unexpected or misshapen:
        raise ProtocolError(
            ErrorCode.CHECKPOINT_INVALID,
            f"{source}: SAM2Matting head weights do not fit: {len(missing)} missing "
            f"{missing[:4]}, {len(unexpected)} unexpected {unexpected[:4]}, "
            f"{len(misshapen)} of another shape {misshapen[:4]}",
            details={"missing": missing, "unexpected": unexpected, "misshapen": misshapen},
        )


def heads_from_state(
    state: Mapping[str, torch.Tensor], device: torch.device, source: str = "checkpoint"
) -> SAM2MattingHeads:
    """Build the heads and load the head keys of `state` strictly; eval mode, on `device`."""
    heads = SAM2MattingHeads()
    weights = head_state(state)
    if not weights:
        raise ProtocolError(
            ErrorCode.CHECKPOINT_INVALID,
            f"{source} holds no SAM2Matting head weights: is it a plain SAM2.1 checkpoint?",
        )
    check_head_keys(heads, weights, source)
    heads.load_state_dict(weights, strict=True)
    return heads.to(device).eval()


def load_heads(
    path: Path, device: torch.device, model: Optional[ModelFile] = None
) -> SAM2MattingHeads:
    """Heads from an official SAM2Matting checkpoint file (tensors mmapped, heads copied)."""
    state = read_state_dict(Path(path), model)
    heads = heads_from_state(state, device, source=str(path))
    log.info("loaded SAM2Matting heads from %s on %s", path, device)
    return heads


def save_official_checkpoint(
    path: Path, tracker: Mapping[str, torch.Tensor], heads: Mapping[str, torch.Tensor]
) -> None:
    """Write `{"model": tracker + heads}` atomically (temp file in the same folder, renamed)."""
    from sam2matting.protocol.atomic import atomic_write_bytes

    clash = set(tracker) & set(heads)
    if clash:
        raise ValueError(f"tracker and head keys overlap: {sorted(clash)[:4]}")
    model = {
        **{k: v.detach().cpu() for k, v in tracker.items()},
        **{k: v.detach().cpu() for k, v in heads.items()},
    }
    buffer = io.BytesIO()
    torch.save({"model": model}, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
