"""The benchmark's plates: generated frames as half-float EXR files, and the same frames decoded.

Two kinds of shot:

* `demo_plate`: the demo's generated shot (hair strands, motion blur, a veil over a textured
  background), written scene-linear as the studio's plates are: the weight-free path's band,
  and so its cost, depends on what the image holds.
* `disc_plate`: a textured disc over texture, a few distinct frames reused cyclically, cheap to
  make at 4K and over 2,000 frames (the GPU runs: a random-weight tracker's cost does not depend
  on the picture).

Frames are decoded once through a `FrameStore` (the server's own decode and colour conversion),
so the in-process and bare runs see exactly the pixels the server sees.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import numpy as np
import torch

from sam2matting.backend.imageio.exr import write_exr
from sam2matting.backend.matting.synthetic.sequence import make_sequence
from sam2matting.backend.shots.frame_store import FrameStore

FIRST = 1001
COMPRESSION = "zip"  # the plates' EXR compression: the usual one for studio plates


@dataclass
class Plate:
    """A shot on disk: `paths[i % len(paths)]` is frame `FIRST + i`."""

    paths: List[Path]
    size: Tuple[int, int]  # (width, height)
    mask: np.ndarray  # (H, W) bool: the object on the first frame (a mask prompt)

    @property
    def box(self) -> Tuple[float, float, float, float]:
        """The first frame's object as a box prompt (x0, y0, x1, y1)."""
        rows, cols = np.nonzero(self.mask)
        return float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)

    def path(self, i: int) -> Path:
        return self.paths[i % len(self.paths)]


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """The inverse of the sRGB encoding (the store converts scene-linear plates back)."""
    x = np.clip(encoded, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _write(path: Path, rgb: np.ndarray) -> Path:
    planes = {c: rgb[..., k] for k, c in enumerate("RGB")}
    write_exr(path, planes, pixel_type="half", compression=COMPRESSION)
    return path


def demo_plate(folder: Path, size: Tuple[int, int], frames: int, seed: int = 3) -> Plate:
    """`frames` distinct frames of the demo's generated shot at `size` (width, height)."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    paths, mask = [], None
    for frame in make_sequence(np.random.default_rng(seed), frames, (h, w)):
        if mask is None:
            mask = frame.alpha > 0.5
        path = folder / f"plate.{FIRST + frame.index}.exr"
        paths.append(_write(path, srgb_to_linear(frame.image)))
    assert mask is not None
    return Plate(paths, size, mask)


def disc_plate(folder: Path, size: Tuple[int, int], distinct: int) -> Plate:
    """A bright disc drifting over a blocky texture; `distinct` frames, reused cyclically."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    low = np.random.default_rng(0).random((9, 16, 3)).astype(np.float32)
    texture = np.kron(low, np.ones((h // 9 + 1, w // 16 + 1, 1), np.float32))[:h, :w] * 0.5
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    paths, mask = [], None
    for i in range(distinct):
        dist = np.hypot(xx - w * (0.3 + 0.02 * i), yy - h * 0.5)
        alpha = np.clip(h * 0.25 - dist, 0.0, 1.0)[..., None]
        if mask is None:
            mask = alpha[..., 0] > 0.5
        rgb = alpha * np.array([0.9, 0.6, 0.2], np.float32) + (1 - alpha) * texture
        paths.append(_write(folder / f"plate.{FIRST + i}.exr", rgb))
    assert mask is not None
    return Plate(paths, size, mask)


def decode(plate: Plate, frames: int) -> List[torch.Tensor]:
    """The first `frames` frames as the server's frame store hands them to the tracker."""
    w, h = plate.size
    distinct = min(frames, len(plate.paths))
    with tempfile.TemporaryDirectory() as tmp:
        store = FrameStore(
            tmp, FIRST, FIRST + distinct - 1, w, h, allowed_roots=(plate.paths[0].parent,)
        )
        for i in range(distinct):
            store.put_path(FIRST + i, plate.path(i))
        decoded = [store.rgb(i) for i in range(distinct)]
    return [decoded[i % distinct] for i in range(frames)]


class Frames:
    """A `FrameSource` over frames decoded beforehand (decoding stays out of the timing)."""

    def __init__(self, images: List[torch.Tensor]) -> None:
        self.images = images

    @property
    def num_frames(self) -> int:
        return len(self.images)

    @property
    def size(self) -> Tuple[int, int]:
        _, h, w = self.images[0].shape
        return int(w), int(h)

    def rgb(self, index: int) -> torch.Tensor:
        return self.images[index]


def jpeg_folder(images: List[torch.Tensor], folder: Path) -> Path:
    """Frames as the numbered 8-bit JPEGs sam2's own predictor loads (`init_state`)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i, rgb in enumerate(images):
        bgr = (rgb.flip(0).permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), np.ascontiguousarray(bgr))
    return folder
