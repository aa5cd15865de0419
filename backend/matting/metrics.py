"""The standard alpha matting metrics, with the scaling matting papers report.

All take float alpha in [0, 1] as (H, W) arrays and an optional boolean `region` (default: the
whole image; alphamatting.com evaluates the trimap's unknown region instead). The project
reports whole-image values, because its input is a tracker mask and no trimap exists: errors
far from the edge are the engine's errors too. Definitions and scaling (docs/MATTING.md):

- SAD: sum |a - g| / 1000.
- MSE: mean (a - g)^2 over the region, x 1000 (reported "MSE x1e3", as in Composition-1k papers).
- Grad: sum (|grad a| - |grad g|)^2 / 1000, gradients by first-derivative-of-Gaussian filters,
  sigma 1.4 (Rhemann et al. 2009; the reference MATLAB `gaussgradient`).
- Conn: Rhemann et al.'s connectivity error, thresholds in steps of 0.1, / 1000.
- dtSSD: Erofeev et al. 2015 temporal coherence, per frame pair
  sqrt(mean(((a_t - a_t-1) - (g_t - g_t-1))^2)), averaged over pairs, x 100.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

GRAD_SIGMA = 1.4
CONN_STEP = 0.1


def _check(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    if a.shape != g.shape or a.ndim != 2:
        raise ValueError(f"expected two (H, W) alphas of one size, got {a.shape} and {g.shape}")
    return a, g


def _region(shape: tuple[int, ...], region: Optional[np.ndarray]) -> np.ndarray:
    if region is None:
        return np.ones(shape, dtype=bool)
    r = np.asarray(region, dtype=bool)
    if r.shape != shape:
        raise ValueError(f"region {r.shape} does not match alpha {shape}")
    return r


def sad(pred: np.ndarray, gt: np.ndarray, region: Optional[np.ndarray] = None) -> float:
    """Sum of absolute differences / 1000."""
    a, g = _check(pred, gt)
    return float(np.abs(a - g)[_region(a.shape, region)].sum() / 1000.0)


def mse(pred: np.ndarray, gt: np.ndarray, region: Optional[np.ndarray] = None) -> float:
    """Mean squared error over the region, x 1000 (0 for an empty region)."""
    a, g = _check(pred, gt)
    r = _region(a.shape, region)
    if not r.any():
        return 0.0
    return float(((a - g) ** 2)[r].mean() * 1000.0)


def gaussian_gradient_kernel(sigma: float = GRAD_SIGMA) -> np.ndarray:
    """The x-derivative kernel of MATLAB's `gaussgradient` (Rhemann et al.'s evaluation code)."""
    epsilon = 1e-2
    half = int(np.ceil(sigma * np.sqrt(-2.0 * np.log(np.sqrt(2.0 * np.pi) * sigma * epsilon))))
    u = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(u**2) / (2.0 * sigma**2)) / (sigma * np.sqrt(2.0 * np.pi))
    dgauss = -u * gauss / sigma**2
    kernel = gauss[:, None] * dgauss[None, :]  # rows: smoothing in y; columns: derivative in x
    return np.asarray(kernel / np.sqrt((kernel**2).sum()))


def gradient_magnitude(alpha: np.ndarray, sigma: float = GRAD_SIGMA) -> np.ndarray:
    """|grad alpha| by Gaussian-derivative filters, edges replicated (`imfilter` 'replicate')."""
    from scipy import ndimage

    kx = gaussian_gradient_kernel(sigma)
    # MATLAB's imfilter(..., 'conv') flips the kernel; ndimage.convolve does the same.
    gx = ndimage.convolve(alpha, kx, mode="nearest")
    gy = ndimage.convolve(alpha, kx.T, mode="nearest")
    return np.asarray(np.hypot(gx, gy))


def grad(
    pred: np.ndarray, gt: np.ndarray, region: Optional[np.ndarray] = None, sigma: float = GRAD_SIGMA
) -> float:
    """Gradient error / 1000."""
    a, g = _check(pred, gt)
    diff = (gradient_magnitude(a, sigma) - gradient_magnitude(g, sigma)) ** 2
    return float(diff[_region(a.shape, region)].sum() / 1000.0)


def _largest_component(binary: np.ndarray) -> np.ndarray:
    """The largest 4-connected component of a boolean map (empty map -> empty)."""
    from scipy import ndimage

    labels, count = ndimage.label(binary)  # default structure: 4-connectivity
    if count == 0:
        return np.zeros_like(binary, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(labels == int(np.argmax(sizes)))


def connectivity_levels(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> np.ndarray:
    """l(i): the last threshold at which pixel i was still connected to the common core."""
    # thresholds k * step rounded to the decimal the MATLAB code's 0:0.1:1 means (1.0 exactly)
    steps = np.round(np.arange(round(1.0 / step) + 1) * step, 12)
    level = np.full(pred.shape, -1.0)
    for i in range(1, len(steps)):
        both = (pred >= steps[i]) & (gt >= steps[i])
        omega = _largest_component(both)
        newly_cut = (level == -1.0) & ~omega
        level[newly_cut] = steps[i - 1]
    level[level == -1.0] = 1.0
    return level


def conn(
    pred: np.ndarray, gt: np.ndarray, region: Optional[np.ndarray] = None, step: float = CONN_STEP
) -> float:
    """Connectivity error / 1000 (Rhemann et al. 2009, with the reference code's 0.15 cut)."""
    a, g = _check(pred, gt)
    level = connectivity_levels(a, g, step)
    da, dg = a - level, g - level
    phi_a = 1.0 - da * (da >= 0.15)
    phi_g = 1.0 - dg * (dg >= 0.15)
    return float(np.abs(phi_a - phi_g)[_region(a.shape, region)].sum() / 1000.0)


def dtssd(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> float:
    """Temporal coherence error x 100, averaged over consecutive frame pairs (needs 2+ frames)."""
    if len(preds) != len(gts) or len(preds) < 2:
        raise ValueError("dtSSD needs two or more frames of prediction and ground truth")
    values = []
    for t in range(1, len(preds)):
        a1, g1 = _check(preds[t], gts[t])
        a0, g0 = _check(preds[t - 1], gts[t - 1])
        d = (a1 - a0) - (g1 - g0)
        values.append(np.sqrt(np.mean(d**2)))
    return float(np.mean(values) * 100.0)


def all_metrics(
    pred: np.ndarray, gt: np.ndarray, region: Optional[np.ndarray] = None
) -> dict[str, float]:
    """SAD, MSE, Grad and Conn of one image, with the module's scaling."""
    return {
        "sad": sad(pred, gt, region),
        "mse": mse(pred, gt, region),
        "grad": grad(pred, gt, region),
        "conn": conn(pred, gt, region),
    }
