"""Matting fixtures: a small real photo with its ground truth, a random-init SAM2.1 tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

import cv2
import numpy as np
import pytest
import torch

from sam2matting.backend.matting.evaluation import mask_rng, simulate_mask

# Small enough for CPU tests: Hiera needs a multiple of 32, at least 64.
TEST_IMAGE_SIZE = 128


def load_dev_image(shared_data: Path, name: str, max_side: int) -> Tuple[np.ndarray, np.ndarray]:
    """(rgb (H, W, 3), gt alpha (H, W)) float32 of an alphamatting_dev image, downscaled."""
    folder = shared_data / "alphamatting_dev"
    bgr = cv2.imread(str(folder / "input" / f"{name}.png"), cv2.IMREAD_COLOR)
    gt = cv2.imread(str(folder / "gt" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    assert bgr is not None
    assert gt is not None
    rgb = bgr[..., ::-1].astype(np.float32) / 255.0
    alpha = gt.astype(np.float32) / 255.0
    scale = max_side / max(alpha.shape)
    size = (round(alpha.shape[1] * scale), round(alpha.shape[0] * scale))
    return (
        cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
        cv2.resize(alpha, size, interpolation=cv2.INTER_AREA),
    )


@pytest.fixture(scope="session")
def dev_image(shared_data: Path) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GT05 at 320 px: (rgb, gt alpha, simulated tracker mask)."""
    rgb, gt = load_dev_image(shared_data, "GT05", 320)
    mask, _ = simulate_mask(gt, mask_rng(0, "GT05"))
    return rgb, gt, mask


@pytest.fixture(scope="session")
def tiny_sam2() -> torch.nn.Module:
    """sam2's own SAM2.1 tiny image model, random weights, 128 px input, eval mode, CPU."""
    from sam2.build_sam import build_sam2

    torch.manual_seed(0)
    model: torch.nn.Module = build_sam2(
        "configs/sam2.1/sam2.1_hiera_t.yaml",
        None,
        device="cpu",
        mode="eval",
        hydra_overrides_extra=[f"++model.image_size={TEST_IMAGE_SIZE}"],
    )
    return model


def disc_scene(
    size: Tuple[int, int], radius: float, blur: float = 0.0, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray]:
    """(rgb, alpha): an anti-aliased (optionally blurred) disc of one colour over another."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx + 0.5 - w / 2, yy + 0.5 - h / 2)
    alpha = np.clip(radius - dist + 0.5, 0.0, 1.0)
    if blur > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), blur)
    rng = np.random.default_rng(seed)
    fg = np.array([0.9, 0.6, 0.2], np.float32) + rng.normal(0, 0.01, (h, w, 3)).astype(np.float32)
    bg = np.array([0.1, 0.2, 0.5], np.float32) + rng.normal(0, 0.01, (h, w, 3)).astype(np.float32)
    rgb = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg, 0, 1).astype(np.float32)
    return rgb, alpha.astype(np.float32)
