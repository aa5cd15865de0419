"""Find, verify and read model files by registry name (backend/model_files.py).

The server never downloads: a missing file is MODEL_UNAVAILABLE with the installer command, a file
of the wrong size or hash is CHECKPOINT_INVALID. Hashing a 900 MB checkpoint takes seconds, so
verified hashes are cached beside the models, keyed by path, size and mtime, in the hash store
the installer and `doctor` share (`sam2matting.protocol.checksums`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

import torch

from sam2matting.backend.model_files import SAM2_TRACKERS, SAM2MATTING_HEADS, ModelFile
from sam2matting.protocol import checksums
from sam2matting.protocol.checksums import HashStore
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

# Official SAM2Matting checkpoints hold the stock SAM2.1 keys plus these matting-head modules
# (../shared/reference/sam2matting_heads_state_dict.json); the tracker ignores them, nothing else.
HEAD_PREFIXES: Tuple[str, ...] = (
    "unknown_region_predictor.",
    "unknown_fusion.",
    "unknown_alpha_predictor.",
    "alpha_pred1.",
    "alpha_pred2.",
    "alpha_pred3.",
)

StateDict = Dict[str, torch.Tensor]


@dataclass(frozen=True)
class VerifiedFile:
    """A model file that exists and matches its registry entry."""

    model: ModelFile
    path: Path
    sha256: Optional[str]  # None only where neither the registry nor a sidecar names a hash


def registry_entry(name: str) -> ModelFile:
    """The registry entry of a SAM2.1 tracker or SAM2Matting checkpoint, by name."""
    entry = SAM2_TRACKERS.get(name) or SAM2MATTING_HEADS.get(name)
    if entry is None:
        known = ", ".join([*SAM2_TRACKERS, *SAM2MATTING_HEADS])
        raise ProtocolError(ErrorCode.MODEL_UNAVAILABLE, f"unknown model {name!r}; known: {known}")
    return entry


def find_model_file(model: ModelFile, models_dir: Path) -> Path:
    """The model's file in `models_dir`, or MODEL_UNAVAILABLE naming the installer command."""
    path = Path(models_dir) / model.filename
    if not path.is_file():
        raise ProtocolError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"model {model.name} is not installed: {path} not found",
            hint=f"Install it with: {model.install_hint()}",
            details={"model": model.name, "path": str(path)},
        )
    return path


def verify_model_file(model: ModelFile, models_dir: Path, use_cache: bool = True) -> VerifiedFile:
    """Find the model's file and check its size and sha256 against the registry."""
    path = find_model_file(model, models_dir)
    size = path.stat().st_size
    if model.size is not None and size != model.size:
        raise _invalid(model, path, f"size {size:,} bytes, expected {model.size:,}")
    expected = model.sha256 or HashStore.beside(path).recorded(path.name)
    if expected is None:
        log.warning(
            "%s: no published sha256 and no %s.sha256 sidecar; not verified", path, path.name
        )
        return VerifiedFile(model, path, None)
    actual = cached_sha256(path) if use_cache else file_sha256(path)
    if actual != expected.lower():
        raise _invalid(model, path, f"sha256 {actual}, expected {expected}")
    return VerifiedFile(model, path, actual)


def file_sha256(path: Path) -> str:
    return checksums.sha256_of(path)


def cached_sha256(path: Path) -> str:
    """sha256 of a file, hashed once per (path, size, mtime) (the shared hash store)."""
    path = Path(path).resolve()
    return HashStore.beside(path).sha256(path)


def read_state_dict(path: Path, model: Optional[ModelFile] = None) -> StateDict:
    """The `{"model": state_dict}` of an official checkpoint file, tensors on the CPU (mmapped)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, OSError, EOFError, ValueError) as exc:  # torch raises several for junk
        raise _invalid(model, path, f"not a readable checkpoint ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise _invalid(model, path, 'expected a {"model": state_dict} checkpoint')
    state: StateDict = data["model"]
    return state


def split_heads(state: Mapping[str, torch.Tensor]) -> Tuple[StateDict, StateDict]:
    """(tracker keys, SAM2Matting head keys) of a checkpoint's state dict."""
    tracker: StateDict = {}
    heads: StateDict = {}
    for key, value in state.items():
        (heads if key.startswith(HEAD_PREFIXES) else tracker)[key] = value
    return tracker, heads


def _invalid(model: Optional[ModelFile], path: Path, why: str) -> ProtocolError:
    name = model.name if model else path.name
    hint = f"Reinstall it with: {model.install_hint()}" if model else None
    return ProtocolError(
        ErrorCode.CHECKPOINT_INVALID,
        f"model file {path} ({name}) is damaged or not the expected one: {why}",
        hint=hint,
        details={"model": name, "path": str(path)},
    )
