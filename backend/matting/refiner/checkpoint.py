"""Training checkpoints in shards small enough to travel between machines.

The GPU machine sends back files of at most 16 MiB, so a checkpoint (model fp32, Adam moments
stored as bf16, step, elapsed time, history, batch generator state) is one torch.save stream
cut into numbered parts: `<prefix>.000`, `<prefix>.001`, ... Loading uses weights_only=True.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Dict, List, Union

import torch

from sam2matting.protocol.atomic import atomic_write_bytes

PathLike = Union[str, Path]
DEFAULT_SHARD_MB = 15.0


def _parts(prefix: Path) -> List[Path]:
    return sorted(p for p in prefix.parent.glob(prefix.name + ".*") if p.suffix[1:].isdigit())


def _shrink_optimizer(state: Dict[str, Any]) -> Dict[str, Any]:
    """Adam moments as bf16: halves the checkpoint, and Adam does not need more precision."""
    out = dict(state)
    out["state"] = {
        k: {
            n: (
                t.to(torch.bfloat16)
                if torch.is_tensor(t) and t.is_floating_point() and t.dim()
                else t
            )
            for n, t in v.items()
        }
        for k, v in state["state"].items()
    }
    return out


def save(prefix: PathLike, state: Dict[str, Any], shard_mb: float = DEFAULT_SHARD_MB) -> List[Path]:
    """Write `state` (with an "optimizer" entry) as shards; old shards of `prefix` go away."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    state = dict(state)
    if "optimizer" in state:
        state["optimizer"] = _shrink_optimizer(state["optimizer"])
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    size = max(1, int(shard_mb * 1024 * 1024))
    old = _parts(prefix)
    written = []
    for i, start in enumerate(range(0, len(data), size)):
        path = prefix.with_name(f"{prefix.name}.{i:03d}")
        atomic_write_bytes(path, data[start : start + size])
        written.append(path)
    for stale in set(old) - set(written):
        stale.unlink()
    return written


def exists(prefix: PathLike) -> bool:
    """Whether shards of `prefix` are there."""
    return bool(_parts(Path(prefix)))


def load(prefix: PathLike) -> Dict[str, Any]:
    """Reassemble and load a sharded checkpoint (tensors on the CPU)."""
    parts = _parts(Path(prefix))
    if not parts:
        raise FileNotFoundError(f"no checkpoint shards {prefix}.000 ...")
    data = b"".join(p.read_bytes() for p in parts)
    state: Dict[str, Any] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if "optimizer" in state:
        for entry in state["optimizer"]["state"].values():
            for name, t in entry.items():
                if torch.is_tensor(t) and t.dtype == torch.bfloat16:
                    entry[name] = t.float()
    return state
