"""Native-resolution stage: seamless tile blending, band-bound cost, robust fallbacks."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch

from sam2matting.backend.matting.base import TileSolver
from sam2matting.backend.matting.closed_form import ClosedFormParams, ClosedFormSolver
from sam2matting.backend.matting.guided import GuidedFilterSolver, linear_coefficients
from sam2matting.backend.matting.native import NativeStage, TileLayout, ramp

from .conftest import disc_scene


def _scene(size: int, radius: float, band: int = 6, blur: float = 1.5):
    rgb, alpha = disc_scene((size, size), radius, blur=blur)
    yy, xx = np.mgrid[0:size, 0:size]
    dist = np.hypot(xx + 0.5 - size / 2, yy + 0.5 - size / 2) - radius
    mask = (dist < 0).astype(np.float32)
    trimap = np.where(np.abs(dist) <= band, 0.5, mask).astype(np.float32)
    return (
        torch.from_numpy(rgb.transpose(2, 0, 1).copy()),
        torch.from_numpy(mask),
        torch.from_numpy(trimap),
        alpha,
    )


def test_ramps_of_neighbours_sum_to_one() -> None:
    layout = TileLayout(64, 16)
    w = ramp(64, 16, torch.device("cpu"))
    # tile B starts `core` pixels after tile A: they share `overlap` samples
    shared = w[layout.core :] + w[: layout.overlap]
    assert torch.allclose(shared, torch.ones(16))
    assert float(w.min()) > 0
    assert float(w[16:48].min()) == 1.0


@pytest.mark.parametrize(
    ("solver", "max_tol", "mean_tol"),
    [
        # seams would show as errors of the size of the solution's own edge contrast (~0.5)
        (GuidedFilterSolver(radius=3, eps=1e-4, scale=1), 0.02, 5e-4),
        (ClosedFormSolver(ClosedFormParams(workers=1)), 0.02, 5e-4),
    ],
)
def test_tiles_blend_like_one_big_tile(solver: TileSolver, max_tol: float, mean_tol: float) -> None:
    rgb, mask, trimap, _ = _scene(160, 50.0)
    tiled = NativeStage(solver, TileLayout(64, 16, 7)).refine(rgb, mask, trimap)
    whole = NativeStage(solver, TileLayout(256, 32)).refine(rgb, mask, trimap)
    assert NativeStage(solver, TileLayout(256, 32)).tile_origins([(0, 0)]) == [(-16, -16)]
    unknown = trimap == 0.5
    diff = (tiled - whole).abs()[unknown]
    assert float(diff.max()) < max_tol
    assert float(diff.mean()) < mean_tol
    known = ~unknown
    assert torch.equal(tiled[known], mask[known])


def test_refined_alpha_is_closer_to_truth_than_the_mask() -> None:
    rgb, mask, trimap, alpha = _scene(160, 50.0)
    out = NativeStage(ClosedFormSolver(), TileLayout(64, 16)).refine(rgb, mask, trimap)
    err_out = np.abs(out.numpy() - alpha).sum()
    err_mask = np.abs(mask.numpy() - alpha).sum()
    assert err_out < 0.3 * err_mask


def test_cost_follows_the_band_not_the_area() -> None:
    """Twice the resolution: 4x the pixels, 2x the edge; the band's width stays in pixels."""
    stage = NativeStage(GuidedFilterSolver(), TileLayout(64, 16))
    counts = []
    for size in (256, 512):
        rgb, mask, trimap, _ = _scene(size, size * 0.3, band=8)
        stage.refine(rgb, mask, trimap)
        counts.append(stage.last_tile_count)
    assert counts[1] / counts[0] <= 2.5
    cores = [(256 // 48 + 1) ** 2, (512 // 48 + 1) ** 2]
    assert counts[0] < cores[0]
    assert counts[1] < 0.6 * cores[1]


class _NaNSolver(TileSolver):
    name: ClassVar[str] = "nan"

    def solve(self, rgb: torch.Tensor, trimap: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        out = torch.full_like(coarse, float("nan"))
        out[..., ::2, :] = 0.25
        return out


def test_nan_from_a_solver_falls_back_to_the_coarse_alpha() -> None:
    rgb, mask, trimap, _ = _scene(96, 30.0)
    coarse = mask * 0.9
    out = NativeStage(_NaNSolver(), TileLayout(64, 16)).refine(rgb, coarse, trimap)
    assert torch.isfinite(out).all()
    unknown = trimap == 0.5
    rows = torch.zeros_like(unknown)
    rows[1::2] = True
    # odd rows were NaN everywhere: the coarse alpha shows through
    assert torch.allclose(out[unknown & rows], coarse[unknown & rows])
    assert torch.allclose(out[unknown & ~rows], torch.tensor(0.25))


def test_no_unknown_pixels_means_no_tiles() -> None:
    rgb, mask, _, _ = _scene(64, 20.0)
    stage = NativeStage(_NaNSolver(), TileLayout(64, 16))
    out = stage.refine(rgb, mask, mask.clone())
    assert stage.last_tile_count == 0
    assert torch.equal(out, mask)


def test_linear_coefficients_reproduce_a_linear_alpha() -> None:
    rgb = torch.rand(1, 3, 24, 24)
    true_a = torch.tensor([0.3, -0.2, 0.5]).reshape(1, 3, 1, 1)
    alpha = (rgb * true_a).sum(1, keepdim=True) + 0.1
    a, b = linear_coefficients(rgb, alpha, radius=2, eps=1e-8)
    recon = (a * rgb).sum(1, keepdim=True) + b
    assert torch.allclose(recon, alpha, atol=1e-3)


def test_layout_is_validated() -> None:
    with pytest.raises(ValueError, match="even"):
        TileLayout(64, 15)
    with pytest.raises(ValueError, match="exceed"):
        TileLayout(32, 16)
