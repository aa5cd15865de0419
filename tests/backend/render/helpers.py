"""A small synthetic plate with known alpha, and shot files made by the real journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np

from sam2matting.backend.imageio.exr import write_exr
from sam2matting.backend.shots.journal import ShotJournal
from sam2matting.backend.shots.records import ShotSettings
from sam2matting.backend.tracking.base import Prompt

W, H = 160, 96
FIRST = 1001
RADIUS = 16.0
# Two discs: object 1 moves right, object 2 moves down.
STARTS = {1: (40.0, 40.0), 2: (110.0, 30.0)}
STEPS = {1: (3.0, 1.0), 2: (0.0, 2.0)}


def centre(obj: int, i: int) -> Tuple[float, float]:
    (x, y), (dx, dy) = STARTS[obj], STEPS[obj]
    return x + dx * i, y + dy * i


def _texture(seed: int, lo: float, hi: float, cell: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(lo, hi, size=(H // cell + 2, W // cell + 2, 3)).astype(np.float32)
    return np.kron(base, np.ones((cell, cell, 1), np.float32))[:H, :W]


def truth(obj: int, i: int) -> np.ndarray:
    """Frame i's alpha of one disc, anti-aliased edge."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32) + 0.5
    cx, cy = centre(obj, i)
    return np.clip(RADIUS + 0.5 - np.hypot(xx - cx, yy - cy), 0.0, 1.0).astype(np.float32)


def frame_rgb(i: int, objects: Iterable[int] = (1, 2)) -> np.ndarray:
    """Linear RGB of frame i: bright textured discs over a dark blocky background."""
    rgb = _texture(7, 0.02, 0.12, 8)
    for obj in objects:
        a = truth(obj, i)[..., None]
        cx, cy = centre(obj, i)
        fg = np.roll(_texture(10 + obj, 0.5, 0.9, 5), (round(cy), round(cx)), axis=(0, 1))
        rgb = a * fg + (1 - a) * rgb
    return rgb.astype(np.float32)


def write_plate(folder: Path, count: int, skip: Sequence[int] = (), name: str = "plate") -> str:
    """Frames FIRST.. as half-float scene-linear EXRs; returns the #### pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        frame = FIRST + i
        if frame in skip:
            continue
        rgb = frame_rgb(i)
        planes = {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2]}
        write_exr(folder / f"{name}.{frame:04d}.exr", planes, pixel_type="half")
    return str(folder / f"{name}.####.exr")


def box_around(obj: int, i: int, pad: float = 3.0) -> Tuple[float, float, float, float]:
    cx, cy = centre(obj, i)
    r = RADIUS + pad
    return cx - r, cy - r, cx + r, cy + r


def make_shot_file(
    path: Path,
    count: int,
    prompts: Dict[int, Sequence[int]],
    shot_id: str = "sh010",
    tracker: str = "flow",
    names: Optional[Dict[int, str]] = None,
    engine: str = "auto",
    params: Optional[Mapping[str, Any]] = None,
) -> Path:
    """A shot file exported by the real journal: one box prompt per (object, frame)."""
    settings = ShotSettings(
        shot_id,
        W,
        H,
        FIRST,
        FIRST + count - 1,
        tracker=tracker,
        engine=engine,
        params=dict(params or {}),
    )
    journal = ShotJournal.create(path.parent / f".journal-{path.stem}", settings)
    for obj, frames in prompts.items():
        for frame in frames:
            prompt = Prompt(box=box_around(obj, frame - FIRST))
            journal.add_prompt(frame, obj, (names or {}).get(obj, f"disc{obj}"), prompt)
    journal.export_shot_file(path)
    return path


def iou(alpha: np.ndarray, reference: np.ndarray) -> float:
    a, b = alpha > 0.5, reference > 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))
