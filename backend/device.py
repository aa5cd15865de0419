"""Which torch device the backend computes on, and what `describe` says about it."""

from __future__ import annotations

import contextlib
import platform
from typing import Any, ContextManager, Dict

import torch


def resolve_device(name: str) -> torch.device:
    """'auto' -> the first CUDA GPU if there is one, else the CPU; otherwise as named."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU here")
    return device


def device_info(device: torch.device) -> Dict[str, Any]:
    """The `device` record of describe_reply."""
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return {
            "type": "cuda",
            "name": torch.cuda.get_device_name(device),
            "memory_total_bytes": int(total),
            "memory_free_bytes": int(free),
            "note": None,
        }
    note = "no CUDA GPU: SAM2 runs slowly on the CPU; the flow tracker is the practical choice"
    if torch.cuda.is_available():
        note = "running on the CPU by configuration although a CUDA GPU is present"
    return {
        "type": "cpu",
        "name": platform.processor() or platform.machine(),
        "memory_total_bytes": None,
        "memory_free_bytes": None,
        "note": note,
    }


def autocast(device: torch.device) -> ContextManager[Any]:
    """bf16 autocast on CUDA (as SAM2 and the matting heads are run); nothing on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )
