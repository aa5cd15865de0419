"""Training losses for the refiner, weighted toward the unknown band.

L1 on alpha finds the right values; a Laplacian pyramid and image-gradient term keep edges and
strands sharp (the Grad metric punishes blur); a composition term checks the alpha against the
colours. The unknown band (trimap 0.5) weighs `band_weight` times more than known pixels, which
the native stage overwrites anyway.
"""

from __future__ import annotations

from typing import Dict

import torch

from sam2matting.backend.matting.heads.losses import laplacian_pyramid
from sam2matting.backend.matting.refiner.data import Batch


def laplacian_loss(pred: torch.Tensor, target: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """L1 between Laplacian pyramids: level i's sum weighted 2^i, over full-resolution pixels.

    A level has 4^-i of the pixels, so level i counts 2^-i of the finest: fine detail leads.
    """
    total = pred.new_zeros(())
    for i, (p, t) in enumerate(
        zip(laplacian_pyramid(pred, levels - 1), laplacian_pyramid(target, levels - 1))
    ):
        total = total + (p - t).abs().mean() / (2.0**i)
    return total


def gradient_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean L1 between finite-difference gradients."""
    gx = (pred[..., :, 1:] - pred[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])
    gy = (pred[..., 1:, :] - pred[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    wx, wy = weight[..., :, 1:], weight[..., 1:, :]
    return ((gx.abs() * wx).sum() + (gy.abs() * wy).sum()) / (wx.sum() + wy.sum() + 1e-6)


def refiner_loss(pred: torch.Tensor, b: Batch, band_weight: float = 4.0) -> Dict[str, torch.Tensor]:
    """The training objective and its parts; `pred` is the unclamped (N, 1, h, w) output."""
    unknown = (b.trimap - 0.5).abs() < 0.25
    weight = 1.0 + band_weight * unknown.float()
    l1 = ((pred - b.alpha).abs() * weight).sum() / weight.sum()
    lap = laplacian_loss(pred, b.alpha)
    grad = gradient_loss(pred, b.alpha, weight)
    clamped = pred.clamp(0.0, 1.0)
    comp_rgb = clamped * b.fg + (1 - clamped) * b.bg
    comp = ((comp_rgb - b.rgb).abs() * weight).sum() / (3 * weight.sum())
    total = l1 + lap + grad + 0.5 * comp
    return {"loss": total, "l1": l1, "lap": lap, "grad": grad, "comp": comp}
