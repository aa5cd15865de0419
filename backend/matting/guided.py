"""The local linear colour model (He et al., guided filter) as a tile solver and an upsampler.

Closed-form matting assumes alpha is, in each small window, an affine function of the colour:
alpha = a . I + b. The guided filter fits exactly that model by least squares, so it is the
natural way to carry a coarse alpha onto full-resolution colour: fit (a, b) where alpha is known
coarsely, interpolate the coefficients, and evaluate them on the full-resolution pixels
(He & Sun, "Fast Guided Filter", 2015). Everything here is batched torch on the input's device.
"""

from __future__ import annotations

from typing import ClassVar, Tuple

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.matting.base import TileSolver


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r+1)^2 window of each pixel of (N, C, H, W), ignoring pixels off the edge.

    Separable sums of shifted views: on the CPU about 2.5x faster than `avg_pool2d` for the
    small windows used here, and the same values to float rounding.
    """
    if radius <= 0:
        return x
    return _box_sum(x, radius) / _box_sum(torch.ones_like(x[:1, :1]), radius)


def _box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    padded = F.pad(x, (radius, radius, radius, radius))
    rows = padded[..., :, 0:w]
    for d in range(1, 2 * radius + 1):
        rows = rows + padded[..., :, d : d + w]
    out = rows[..., 0:h, :]
    for d in range(1, 2 * radius + 1):
        out = out + rows[..., d : d + h, :]
    return out


def linear_coefficients(
    guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel (a, b) of src ~ a . guide + b, averaged over each pixel's windows.

    guide: (N, 3, H, W); src: (N, 1, H, W). Returns a (N, 3, H, W) and b (N, 1, H, W).
    """
    guide = guide.float()
    src = src.float()
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(src, radius)
    cov_ip = box_mean(guide * src, radius) - mean_i * mean_p
    # 3x3 colour covariance per pixel, regularised by eps (the filter's edge threshold)
    outer = guide.unsqueeze(1) * guide.unsqueeze(2)  # (N, 3, 3, H, W)
    n, _, _, h, w = outer.shape
    var = box_mean(outer.reshape(n, 9, h, w), radius).reshape(n, 3, 3, h, w)
    var = var - mean_i.unsqueeze(1) * mean_i.unsqueeze(2)
    a = _solve_symmetric_3x3(var, cov_ip, eps)
    b = mean_p - (a * mean_i).sum(dim=1, keepdim=True)
    return box_mean(a, radius), box_mean(b, radius)


def _solve_symmetric_3x3(var: torch.Tensor, rhs: torch.Tensor, eps: float) -> torch.Tensor:
    """(N, 3, H, W): (var + eps I)^-1 rhs per pixel, var (N, 3, 3, H, W) symmetric.

    By cofactors, elementwise: several times faster than a batched `torch.linalg.solve` of
    millions of 3x3 systems. In float64, because cofactors of a nearly flat window's covariance
    cancel badly in float32; the resulting alpha matches the float32 LU solve's accuracy.
    """
    r = rhs.double()
    a00, a01, a02 = var[:, 0, 0].double() + eps, var[:, 0, 1].double(), var[:, 0, 2].double()
    a11, a12, a22 = var[:, 1, 1].double() + eps, var[:, 1, 2].double(), var[:, 2, 2].double() + eps
    m00 = a11 * a22 - a12 * a12
    m01 = a02 * a12 - a01 * a22
    m02 = a01 * a12 - a02 * a11
    m11 = a00 * a22 - a02 * a02
    m12 = a01 * a02 - a00 * a12
    m22 = a00 * a11 - a01 * a01
    det = a00 * m00 + a01 * m01 + a02 * m02  # > 0: var + eps I is positive definite
    r0, r1, r2 = r[:, 0], r[:, 1], r[:, 2]
    out = torch.stack(
        (
            m00 * r0 + m01 * r1 + m02 * r2,
            m01 * r0 + m11 * r1 + m12 * r2,
            m02 * r0 + m12 * r1 + m22 * r2,
        ),
        dim=1,
    )
    return (out / det.unsqueeze(1)).to(rhs.dtype)


def upsample_through_colour(
    guide_low: torch.Tensor,
    alpha_low: torch.Tensor,
    guide_full: torch.Tensor,
    radius: int = 1,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Alpha at the guide's full resolution from alpha solved at low resolution (fast GF).

    guide_low (N, 3, h, w) and alpha_low (N, 1, h, w) at the solve resolution; guide_full
    (N, 3, H, W). Returns (N, 1, H, W) in [0, 1].
    """
    a, b = linear_coefficients(guide_low, alpha_low, radius, eps)
    size = guide_full.shape[-2:]
    if a.shape[-2:] != size:
        a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
        b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
    out = (a * guide_full.float()).sum(dim=1, keepdim=True) + b
    return torch.nan_to_num(out, nan=0.0).clamp_(0.0, 1.0)


def downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Area (box) downsampling of (N, C, H, W) by an integer factor, edges padded by replication."""
    if factor <= 1:
        return x
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % factor, (-w) % factor
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    # the factor^2 strided views summed in row order and divided, as `F.avg_pool2d(x, factor)`
    # sums and divides (bit for bit: `test_guided.py`), at 2-4x its speed on the CPU
    out = x[..., 0::factor, 0::factor].clone()
    for i in range(factor):
        for j in range(factor):
            if i or j:
                out += x[..., i::factor, j::factor]
    return out / (factor * factor)


class GuidedFilterSolver(TileSolver):
    """Snaps a coarse alpha to full-resolution colour edges with the fast guided filter.

    Weight-free, a few box filters per tile: cheap enough to run on every frame on the GPU after
    the SAM2Matting heads. It sharpens and aligns what the coarse alpha already says; it cannot
    invent strands the coarse alpha has lost (the closed-form solver or the learned refiner can).
    """

    name: ClassVar[str] = "guided"

    def __init__(self, radius: int = 4, eps: float = 1e-4, scale: int = 2) -> None:
        """radius and eps of the filter at 1/scale of the tile's resolution."""
        if radius < 1 or eps <= 0 or scale < 1:
            raise ValueError("guided filter needs radius >= 1, eps > 0, scale >= 1")
        self.radius = radius
        self.eps = eps
        self.scale = scale

    def solve(self, rgb: torch.Tensor, trimap: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        guide_low = downsample(rgb.float(), self.scale)
        coarse_low = downsample(coarse.float(), self.scale)
        return upsample_through_colour(guide_low, coarse_low, rgb, self.radius, self.eps)
