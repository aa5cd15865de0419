"""Tracker fixtures: synthetic shots, a random-init SAM2.1 tiny model, official-layout files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator, List, Tuple

import cv2
import numpy as np
import pytest
import torch

from sam2matting.backend.model_files import SAM2_TRACKERS, ModelFile
from sam2matting.backend.tracking.sam2_model import build_sam2_video_model

TINY = SAM2_TRACKERS["sam2.1-tiny"]
# Small enough for CPU tests (a multiple of 32, the smallest size Hiera accepts is 64).
TEST_IMAGE_SIZE = 64


class SyntheticShot:
    """A FrameSource: a bright square moving right over a textured background, decoded on demand.

    Records which frames were read, so tests can check that nothing loads the whole shot.
    """

    def __init__(self, num_frames: int, width: int = 64, height: int = 48, side: int = 16) -> None:
        self._num_frames = num_frames
        self._width, self._height, self.side = width, height, side
        rng = np.random.default_rng(5)
        texture = rng.uniform(0.1, 0.4, size=(3, height + side, width + 4 * num_frames + side))
        self._texture = torch.from_numpy(texture.astype(np.float32))
        pattern = rng.uniform(0.8, 1.0, size=(1, side, side)).astype(np.float32)
        colour = np.array([0.95, 0.85, 0.2], np.float32)[:, None, None]
        self._square = torch.from_numpy(colour * pattern)
        self.reads: List[int] = []

    @property
    def num_frames(self) -> int:
        return self._num_frames

    @property
    def size(self) -> Tuple[int, int]:
        return (self._width, self._height)

    def box(self, index: int) -> Tuple[int, int, int, int]:
        """The square's pixel box (x0, y0, x1, y1), exclusive end: it bounces left and right."""
        span = max(1, self._width - self.side - 8)
        x0 = 4 + span - abs((2 * index) % (2 * span) - span)
        y0 = (self._height - self.side) // 2
        return (x0, y0, x0 + self.side, y0 + self.side)

    def mask(self, index: int) -> np.ndarray:
        x0, y0, x1, y1 = self.box(index)
        out = np.zeros((self._height, self._width), bool)
        out[y0:y1, x0:x1] = True
        return out

    def rgb(self, index: int) -> torch.Tensor:
        if not 0 <= index < self._num_frames:
            raise IndexError(index)
        self.reads.append(index)
        # the background pans slowly too, so the flow tracker sees real motion everywhere
        img = self._texture[:, : self._height, index : index + self._width].clone()
        x0, y0, x1, y1 = self.box(index)
        img[:, y0:y1, x0:x1] = self._square  # a textured yellow square that moves with its texture
        return img


class DavisClip:
    """A FrameSource over a real DAVIS 480p clip (JPEGs decoded on demand) with its annotations."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.images = sorted((root / "JPEGImages" / "480p" / name).glob("*.jpg"))
        self.annotations = sorted((root / "Annotations" / "480p" / name).glob("*.png"))
        assert self.images, f"no frames for {name} under {root}"
        assert len(self.images) == len(self.annotations)
        first = cv2.imread(str(self.images[0]))
        self._size = (first.shape[1], first.shape[0])

    @property
    def num_frames(self) -> int:
        return len(self.images)

    @property
    def size(self) -> Tuple[int, int]:
        return self._size

    def rgb(self, index: int) -> torch.Tensor:
        bgr = cv2.imread(str(self.images[index]), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255.0)

    def mask(self, index: int) -> np.ndarray:
        return np.asarray(cv2.imread(str(self.annotations[index]), cv2.IMREAD_GRAYSCALE) > 127)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@pytest.fixture(autouse=True)
def _single_thread_torch() -> Iterator[None]:
    """One intra-op thread: at 64 px the thread pool costs more than it saves, and on a shared
    2-core machine it collapses (measured 10x slower with 2 threads under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model() -> torch.nn.Module:
    """SAM2.1 tiny from the sam2 package's config, random weights, 64 px input, CPU, eval."""
    torch.manual_seed(0)
    return build_sam2_video_model(TINY.config or "", None, torch.device("cpu"), TEST_IMAGE_SIZE)


@pytest.fixture(scope="session")
def tiny_state_dict() -> dict:
    """The state dict of a random-init SAM2.1 tiny (same keys and shapes at any image size)."""
    torch.manual_seed(1)
    model = build_sam2_video_model(TINY.config or "", None, torch.device("cpu"), TEST_IMAGE_SIZE)
    return {k: v.clone() for k, v in model.state_dict().items()}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def tiny_checkpoint(
    tmp_path_factory: pytest.TempPathFactory, tiny_state_dict: dict
) -> Iterator[Tuple[Path, ModelFile]]:
    """A random SAM2.1 tiny saved in the official layout, and a registry entry with its true
    size and sha256 (the real entry's file name, install hint and config)."""
    models_dir = tmp_path_factory.mktemp("models")
    path = models_dir / TINY.filename
    torch.save({"model": tiny_state_dict}, path)
    entry = ModelFile(
        TINY.name,
        TINY.filename,
        path.stat().st_size,
        sha256_of(path),
        TINY.config,
        TINY.url,
        TINY.licence,
    )
    yield path, entry
    path.unlink(missing_ok=True)
