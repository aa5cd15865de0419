"""The compiled closed-form tile solve against the scipy reference, and the faster colour model.

Both are speed work (issue 11's cost target): each must give the answers of the code it
replaces, to rounding, on real photographs, including the degenerate cases.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Tuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.matting import guided
from sam2matting.backend.matting.closed_form import ClosedFormParams, prior_weights, solve_tile

Tile = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _tiles(dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray], size: int = 64) -> list[Tile]:
    """Tiles of a real photograph along its mask's edge: (image, unknown, known alpha, coarse)."""
    rgb, _gt, mask = dev_image
    edge = np.abs(np.diff(mask, axis=0, prepend=mask[:1])) > 0
    ys, xs = np.nonzero(edge)
    out = []
    for k in range(0, len(ys), max(1, len(ys) // 5))[:5]:
        y0 = int(np.clip(ys[k] - size // 2, 0, mask.shape[0] - size))
        x0 = int(np.clip(xs[k] - size // 2, 0, mask.shape[1] - size))
        win = (slice(y0, y0 + size), slice(x0, x0 + size))
        m = mask[win].astype(np.float64)
        unknown = np.zeros_like(m, bool)
        unknown[8:-8, 8:-8] = True  # a band with known pixels around it
        out.append((rgb[win].astype(np.float64), unknown, np.where(m > 0.5, 1.0, 0.0), m))
    return out


# the engine runs 20, 50 and 100 iterations. The two build L in a different order, and CG
# carries that rounding into the answer: 1e-4 of alpha is a tenth of a half-float step at 1
@pytest.mark.parametrize(
    ("iterations", "tolerance"), [(5, 1e-6), (20, 1e-4), (100, 1e-4), (400, 1e-4)]
)
def test_compiled_cg_matches_scipy_on_real_tiles(
    dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray], iterations: int, tolerance: float
) -> None:
    params = ClosedFormParams(cg_iterations=iterations, prior_width=8.0)
    tiles = _tiles(dev_image)
    assert len(tiles) == 5
    for image, unknown, known, coarse in tiles:
        ours = solve_tile(image, unknown, known, coarse, params)
        ref = solve_tile(image, unknown, known, coarse, replace(params, method="cg_scipy"))
        assert ours.shape == (int(unknown.sum()),)
        assert np.abs(ours - ref).max() < tolerance
        # and the solve moved away from the start: the comparison is not of two x0s
        assert np.abs(ref - coarse[unknown]).max() > 0.05


def test_compiled_cg_converges_to_the_exact_solution(
    dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    params = ClosedFormParams(cg_iterations=5000, cg_tolerance=1e-12, prior_width=8.0)
    image, unknown, known, coarse = _tiles(dev_image)[0]
    exact = solve_tile(image, unknown, known, coarse, replace(params, method="direct"))
    assert np.abs(solve_tile(image, unknown, known, coarse, params) - exact).max() < 1e-6


def test_compiled_cg_degenerate_tiles() -> None:
    params = ClosedFormParams()
    rng = np.random.default_rng(0)
    image = rng.random((20, 24, 3))
    every = np.ones((20, 24), bool)
    zeros = np.zeros((20, 24))
    # nothing known and a zero prior: the right-hand side is zero, so is the answer
    assert np.array_equal(solve_tile(image, every, zeros, zeros, params), np.zeros(20 * 24))
    # a flat image and a single unknown pixel between known foreground
    flat = np.full((20, 24, 3), 0.5)
    one = np.zeros((20, 24), bool)
    one[10, 12] = True
    for method in ("cg", "cg_scipy"):
        ones = np.ones((20, 24))
        x = solve_tile(flat, one, ones, ones, replace(params, method=method))
        assert x.shape == (1,)
        assert abs(float(x[0]) - 1.0) < 1e-6


def test_an_unknown_method_is_refused() -> None:
    from sam2matting.backend.matting.closed_form import ClosedFormSolver

    with pytest.raises(ValueError, match="cg_scipy"):
        ClosedFormSolver(ClosedFormParams(method="cg_numpy"))


def test_prior_weights_reach_the_compiled_system(
    dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """A strong prior pins the answer to the coarse alpha; a weak one lets the image decide."""
    image, unknown, known, coarse = _tiles(dev_image)[1]
    strong = ClosedFormParams(prior_weight=1e4, prior_width=1.0, cg_iterations=400)
    weak = ClosedFormParams(prior_weight=1e-4, prior_width=1.0, cg_iterations=400)
    assert prior_weights(coarse, strong).min() > 1e3
    pinned = solve_tile(image, unknown, known, coarse, strong)
    free = solve_tile(image, unknown, known, coarse, weak)
    assert np.abs(pinned - coarse[unknown]).max() < 0.01
    assert np.abs(free - coarse[unknown]).max() > 0.1


def _old_linear_coefficients(
    guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The colour model as it was: avg_pool2d box means and a float64 batched LU solve."""

    def box(x: torch.Tensor) -> torch.Tensor:
        k = 2 * radius + 1
        return F.avg_pool2d(x, k, stride=1, padding=radius, count_include_pad=False)

    guide, src = guide.double(), src.double()
    mean_i, mean_p = box(guide), box(src)
    cov = box(guide * src) - mean_i * mean_p
    n, _, h, w = guide.shape
    outer = (guide.unsqueeze(1) * guide.unsqueeze(2)).reshape(n, 9, h, w)
    var = box(outer).reshape(n, 3, 3, h, w) - mean_i.unsqueeze(1) * mean_i.unsqueeze(2)
    var = var + eps * torch.eye(3, dtype=var.dtype).reshape(1, 3, 3, 1, 1)
    a = torch.linalg.solve(var.permute(0, 3, 4, 1, 2), cov.permute(0, 2, 3, 1).unsqueeze(-1))
    a = a.squeeze(-1).permute(0, 3, 1, 2)
    b = mean_p - (a * mean_i).sum(dim=1, keepdim=True)
    return box(a), box(b)


@pytest.mark.parametrize("radius", [1, 4])
def test_box_mean_matches_average_pooling(radius: int) -> None:
    x = torch.rand(2, 5, 23, 31)
    ref = F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    assert torch.allclose(guided.box_mean(x, radius), ref, atol=1e-6)


def test_colour_upsampling_matches_the_exact_model(
    dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Alpha carried to full resolution agrees with the model solved in float64 (the old LU)."""
    rgb, gt, _mask = dev_image
    full = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].float()
    low = guided.downsample(full, 2)
    alpha_low = guided.downsample(torch.from_numpy(gt)[None, None].float(), 2)
    a_ref, b_ref = _old_linear_coefficients(low, alpha_low, 1, 1e-5)
    size = full.shape[-2:]
    a_ref = F.interpolate(a_ref.float(), size=size, mode="bilinear", align_corners=False)
    b_ref = F.interpolate(b_ref.float(), size=size, mode="bilinear", align_corners=False)
    ref = ((a_ref * full).sum(dim=1, keepdim=True) + b_ref).clamp(0, 1)
    ours = guided.upsample_through_colour(low, alpha_low, full, 1, 1e-5)
    err = (ours - ref).abs()
    assert float(err.max()) < 0.01
    assert float(err.mean()) < 1e-4
    # the model is not trivial here: the upsampled alpha differs from plain interpolation
    plain = F.interpolate(alpha_low, size=size, mode="bilinear", align_corners=False)
    assert float((ref - plain).abs().mean()) > 0.005
