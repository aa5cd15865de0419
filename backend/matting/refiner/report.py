"""Loss curves of a training run, as JSON (for the model card) and a PNG (for people)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Union

from sam2matting.protocol.atomic import atomic_write_bytes, atomic_write_json

PathLike = Union[str, Path]


def write_json(path: PathLike, data: Mapping[str, Any]) -> None:
    """Atomic JSON write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data, indent=1, sort_keys=True)


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> List[float]:
    return [float(r[key]) for r in rows if key in r]


def plot(
    path: PathLike, train: Sequence[Dict[str, float]], val: Sequence[Dict[str, float]]
) -> None:
    """Training loss terms and validation error in the band (model vs. the coarse mask)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on training machines
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    steps = _series(train, "step")
    for key in ("loss", "l1", "lap", "grad", "comp"):
        values = _series(train, key)
        if values:
            ax1.plot(steps[: len(values)], values, label=key, linewidth=1)
    ax1.set_yscale("log")
    ax1.set_xlabel("step")
    ax1.set_title("training loss")
    ax1.legend()
    vsteps = _series(val, "step")
    for key, label in (("sad", "refiner"), ("sad_coarse", "coarse mask")):
        values = _series(val, key)
        if values:
            ax2.plot(vsteps[: len(values)], values, marker="o", label=label)
    ax2.set_xlabel("step")
    ax2.set_title("held-out synthetic: SAD in the band (per tile, /1000)")
    ax2.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, png.getvalue())
