"""Training samples for the SAM2Matting heads: composited on the fly, square, with a tracker mask.

Two sources, mixed by a probability:

- `Composition1k`: the common folder layout of Composition-1k / Adobe Image Matting style
  datasets: `fg/` and `alpha/` (foregrounds and their alpha, matched by file name) and `bg/`
  (backgrounds). Each sample takes a random foreground, flips and crops it, and composites it
  over a random background crop: I = alpha F + (1 - alpha) B.
- `procedural_sample`: `matting.synthetic.make_sample` (procedural subjects over textures).

Every sample is square (the tracker's input is a square resize of the frame) and carries a
binary mask with a tracker's typical errors (`synthetic.perturb.tracker_mask`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)

SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class HeadsSample:
    """float32 arrays: image (S, S, 3) in [0, 1], alpha (S, S), mask (S, S) 0/1."""

    image: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray


@dataclass
class HeadsBatch:
    """Tensors: image (B, 3, S, S) in [0, 1], alpha and mask (B, 1, S, S)."""

    image: torch.Tensor
    alpha: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device) -> HeadsBatch:
        return HeadsBatch(self.image.to(device), self.alpha.to(device), self.mask.to(device))


def _files(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)


def _read(path: Path, grey: bool = False) -> np.ndarray:
    import cv2

    flag = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    data = cv2.imread(str(path), flag)
    if data is None:
        raise ValueError(f"cannot read image {path}")
    if not grey:
        data = data[..., ::-1]
    return np.ascontiguousarray(data).astype(np.float32) / 255.0


class Composition1k:
    """fg/ + alpha/ + bg/ folders, composited on the fly (see module docstring)."""

    def __init__(self, root: Path) -> None:
        root = Path(root)
        folders = {name: root / name for name in ("fg", "alpha", "bg")}
        missing = [n for n, f in folders.items() if not f.is_dir()]
        if missing:
            raise FileNotFoundError(f"{root}: missing {missing} (expected fg/, alpha/, bg/)")
        alphas = {p.stem: p for p in _files(folders["alpha"])}
        self.pairs = [(p, alphas[p.stem]) for p in _files(folders["fg"]) if p.stem in alphas]
        self.backgrounds = _files(folders["bg"])
        if not self.pairs or not self.backgrounds:
            raise FileNotFoundError(f"{root}: no fg/alpha pair or no background found")
        log.info(
            "composition set %s: %d foregrounds, %d backgrounds",
            root,
            len(self.pairs),
            len(self.backgrounds),
        )

    def sample(self, rng: np.random.Generator, size: int) -> HeadsSample:
        fg_path, alpha_path = self.pairs[int(rng.integers(len(self.pairs)))]
        fg, alpha = _read(fg_path), _read(alpha_path, grey=True)
        if fg.shape[:2] != alpha.shape:
            raise ValueError(f"{fg_path} and {alpha_path} differ in size")
        if rng.random() < 0.5:
            fg, alpha = fg[:, ::-1], alpha[:, ::-1]
        fg, alpha = _random_square(rng, [fg, alpha], size)
        bg_path = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        bg = _random_square(rng, [_read(bg_path)], size)[0]
        image = alpha[..., None] * fg + (1.0 - alpha[..., None]) * bg
        return HeadsSample(
            image.astype(np.float32), alpha.astype(np.float32), tracker_mask(rng, alpha)
        )


def _random_square(
    rng: np.random.Generator, arrays: Sequence[np.ndarray], size: int
) -> List[np.ndarray]:
    """The same random square crop (at least half the short side) of each array, resized."""
    import cv2

    h, w = arrays[0].shape[:2]
    side = int(rng.integers(max(1, min(h, w) // 2), min(h, w) + 1))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    out = []
    for a in arrays:
        crop = np.ascontiguousarray(a[y0 : y0 + side, x0 : x0 + side])
        interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        out.append(cv2.resize(crop, (size, size), interpolation=interp).astype(np.float32))
    return out


def tracker_mask(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """A binary mask of `alpha` with a tracker's errors (the synthetic package's model)."""
    from sam2matting.backend.matting.synthetic.perturb import tracker_mask as perturbed

    return np.asarray(perturbed(rng, alpha), dtype=np.float32)


def procedural_sample(rng: np.random.Generator, size: int) -> HeadsSample:
    """One procedural sample (`matting.synthetic.make_sample`, procedural textures)."""
    from sam2matting.backend.matting.synthetic.sample import make_sample

    s = make_sample(rng, (size, size))
    return HeadsSample(
        s.image.astype(np.float32), s.alpha.astype(np.float32), s.mask.astype(np.float32)
    )


class SampleSource:
    """Draws samples from composition sets and procedural generation, by a fixed mix."""

    def __init__(
        self, composition: Sequence[Composition1k], procedural_fraction: float, size: int, seed: int
    ) -> None:
        if not composition and procedural_fraction <= 0:
            raise ValueError("no training data: give a composition folder or procedural samples")
        self.composition = list(composition)
        self.procedural_fraction = 1.0 if not composition else procedural_fraction
        self.size = size
        self.rng = np.random.default_rng(seed)

    def sample(self) -> HeadsSample:
        if self.rng.random() < self.procedural_fraction:
            return procedural_sample(self.rng, self.size)
        dataset = self.composition[int(self.rng.integers(len(self.composition)))]
        return dataset.sample(self.rng, self.size)

    def batch(self, count: int, device: Optional[torch.device] = None) -> HeadsBatch:
        samples = [self.sample() for _ in range(count)]
        batch = HeadsBatch(
            image=torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2),
            alpha=torch.from_numpy(np.stack([s.alpha for s in samples]))[:, None],
            mask=torch.from_numpy(np.stack([s.mask for s in samples]))[:, None],
        )
        return batch.to(device) if device is not None else batch
