"""Losses of the SAM2Matting heads: multi-scale alpha (L1 + Laplacian) and the ROI's BCE.

- Alpha: each stage's alpha (1/8, 1/4, 1/2 of the square input) against the ground truth
  area-resized to its size: L1 plus a Laplacian-pyramid L1 (edges and fine structure count at
  every frequency), weighted towards the finest stage.
- ROI: the pseudo-trimap's threshold is hard, so the ROI logits get their own supervision: BCE
  against the unknown region derived from the ground truth - where alpha is fractional, plus
  where the tracker's mask is wrong (the trimap must hand those pixels to the alpha predictor),
  grown by a small margin - at the ROI's 1/4 resolution.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.matting.heads.model import HeadsOutput

STAGE_WEIGHTS = (0.25, 0.5, 1.0)
FRACTIONAL = 0.01
ROI_MARGIN = 1  # pixels of the 1/4 grid


def _gauss_kernel(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=device, dtype=dtype)
    k2 = k[:, None] * k[None, :]
    return (k2 / k2.sum())[None, None]


def laplacian_pyramid(x: torch.Tensor, levels: int) -> List[torch.Tensor]:
    """Band-pass levels of (B, 1, H, W), finest first, and the low-pass residual last."""
    kernel = _gauss_kernel(x.device, x.dtype)
    bands: List[torch.Tensor] = []
    current = x
    for _ in range(levels):
        if min(current.shape[-2:]) < 4:
            break
        blurred = F.conv2d(F.pad(current, (2, 2, 2, 2), mode="replicate"), kernel)
        down = blurred[..., ::2, ::2]
        up = F.interpolate(down, size=current.shape[-2:], mode="bilinear", align_corners=False)
        bands.append(current - up)
        current = down
    bands.append(current)
    return bands


def laplacian_loss(pred: torch.Tensor, target: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Sum over pyramid levels of the mean L1, coarser levels weighted up (2^level)."""
    total = pred.new_zeros(())
    for i, (p, t) in enumerate(
        zip(laplacian_pyramid(pred, levels), laplacian_pyramid(target, levels))
    ):
        total = total + (2.0**i) * (p - t).abs().mean()
    return total


def resize_area(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="area")


def roi_target(alpha: torch.Tensor, mask: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """1 where the heads should call a pixel unknown (module docstring), at `size`."""
    frac = ((alpha > FRACTIONAL) & (alpha < 1.0 - FRACTIONAL)).float()
    wrong = ((mask > 0.5) != (alpha > 0.5)).float()
    unknown = F.adaptive_max_pool2d(torch.maximum(frac, wrong), tuple(size))
    if ROI_MARGIN:
        k = 2 * ROI_MARGIN + 1
        unknown = F.max_pool2d(unknown, k, stride=1, padding=ROI_MARGIN)
    return unknown


def heads_loss(
    out: HeadsOutput, alpha: torch.Tensor, mask: torch.Tensor
) -> Dict[str, torch.Tensor]:
    """Loss terms and their weighted sum ("total") for one batch."""
    alpha = alpha.float()
    terms: Dict[str, torch.Tensor] = {}
    total = alpha.new_zeros(())
    for i, (pred, weight) in enumerate(zip(out.alphas, STAGE_WEIGHTS), start=1):
        target = resize_area(alpha, pred.shape[-2:])
        l1 = (pred.float() - target).abs().mean()
        lap = laplacian_loss(pred.float(), target)
        terms[f"l1_{i}"] = l1
        terms[f"lap_{i}"] = lap
        total = total + weight * (l1 + lap)
    target_roi = roi_target(alpha, mask.float(), out.roi_logits.shape[-2:])
    terms["roi_bce"] = F.binary_cross_entropy_with_logits(out.roi_logits.float(), target_roi)
    terms["total"] = total + terms["roi_bce"]
    return terms
