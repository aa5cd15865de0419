"""The weight-free engine: adaptive band, real photographs, degenerate inputs, solver failures."""

from __future__ import annotations

import logging
from typing import Tuple

import numpy as np
import pytest
import torch

from sam2matting.backend.matting import band as bandlib
from sam2matting.backend.matting import closed_form, metrics
from sam2matting.backend.matting.base import MattingInput
from sam2matting.backend.matting.closed_form import ClosedFormParams, ClosedFormSolver
from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine

from .conftest import disc_scene


def _matte(engine: ClosedFormEngine, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inp = MattingInput(
        rgb=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
        mask=torch.from_numpy(np.ascontiguousarray(mask)),
    )
    out = engine.matte(inp)
    assert out.dtype == torch.float32
    assert tuple(out.shape) == mask.shape
    a = out.numpy()
    assert np.isfinite(a).all()
    assert a.min() >= 0.0
    assert a.max() <= 1.0
    return a


def test_beats_the_binary_mask_on_a_real_photo(
    dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    rgb, gt, mask = dev_image
    alpha = _matte(ClosedFormEngine(), rgb, mask)
    assert metrics.sad(alpha, gt) < 0.6 * metrics.sad(mask, gt)
    assert metrics.grad(alpha, gt) < 0.3 * metrics.grad(mask, gt)


def test_zone_keeps_the_middle_of_wide_gaps() -> None:
    mask = np.ones((120, 200), np.float32)
    mask[:, 20:60] = 0.0  # a 40 px gap: its middle must stay background
    mask[:, 120:126] = 0.0  # a 6 px gap: too narrow to trust, left to the solver
    zone = bandlib.candidate_zone(mask, bandlib.BandParams(max_width=32, min_gap_radius=8))
    assert not zone[:, 38:42].any()
    assert zone[:, 120:126].all()
    assert zone[:, 60:120].all()  # foreground between the gaps: within 30 px of an edge
    assert zone[:, 130:150].all()
    assert not zone[:, 170:].any()


def test_zone_width_is_bounded() -> None:
    mask = np.zeros((200, 200), np.float32)
    mask[:, 100:] = 1.0
    zone = bandlib.candidate_zone(mask, bandlib.BandParams(max_width=20))
    cols = np.nonzero(zone.any(axis=0))[0]
    assert cols.min() >= 100 - 20
    assert cols.max() <= 100 + 20
    assert not bandlib.candidate_zone(np.zeros((8, 8), np.float32), bandlib.BandParams()).any()
    assert not bandlib.candidate_zone(np.ones((8, 8), np.float32), bandlib.BandParams()).any()


def test_band_follows_the_alpha_not_a_fixed_erosion() -> None:
    mask = np.zeros((60, 200), np.float32)
    mask[:, 100:] = 1.0
    x = np.arange(200, dtype=np.float32)
    sharp = np.tile(np.clip(x - 99.5, 0, 1), (60, 1))
    soft = np.tile(np.clip((x - 85.0) / 30.0, 0, 1), (60, 1))
    params = bandlib.BandParams(max_width=32, margin=2, min_width=1)
    zone = bandlib.candidate_zone(mask, params)
    narrow = bandlib.band_from_alpha(sharp, zone, mask, params)
    wide = bandlib.band_from_alpha(soft, zone, mask, params)
    width = lambda b: int(b.any(axis=0).sum())  # noqa: E731 - tiny helper
    assert width(narrow) <= 6
    assert width(wide) >= 30


def test_blurred_edges_get_wider_bands_than_sharp_ones() -> None:
    engine = ClosedFormEngine()
    fractions = []
    for blur in (0.0, 6.0):
        rgb, alpha = disc_scene((160, 160), 50.0, blur=blur)
        out = _matte(engine, rgb, (alpha > 0.5).astype(np.float32))
        fractions.append(engine.stats["band_fraction"])
        assert metrics.sad(out, alpha) < 0.5 * metrics.sad((alpha > 0.5).astype(float), alpha)
    assert fractions[1] > 2.0 * fractions[0]


@pytest.mark.parametrize("case", ["zeros", "ones", "constant_image", "tiny", "border", "noise"])
def test_degenerate_inputs_never_give_nan(case: str) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.random((48, 64, 3)).astype(np.float32)
    mask = np.zeros((48, 64), np.float32)
    mask[10:30, 20:40] = 1.0
    if case == "zeros":
        mask[:] = 0.0
    elif case == "ones":
        mask[:] = 1.0
    elif case == "constant_image":
        rgb[:] = 0.5
    elif case == "tiny":
        rgb, mask = rgb[:5, :7], mask[:5, :7]
        mask[1:3, 2:5] = 1.0
    elif case == "border":
        mask[:] = 0.0
        mask[:, :20] = 1.0  # touches three borders
        mask[0, :] = 1.0
    elif case == "noise":
        mask = (rng.random((48, 64)) > 0.5).astype(np.float32)
    alpha = _matte(ClosedFormEngine(), rgb, mask)
    if case in ("zeros", "ones"):
        assert np.array_equal(alpha, mask)


def test_a_failing_tile_falls_back_to_the_coarse_alpha(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object) -> np.ndarray:
        raise RuntimeError("factor is exactly singular")

    monkeypatch.setattr(closed_form, "solve_tile", broken)
    solver = ClosedFormSolver(ClosedFormParams(workers=1))
    rgb = torch.rand(2, 3, 16, 16)
    trimap = torch.full((2, 1, 16, 16), 0.5)
    trimap[..., :4] = 0.0
    coarse = torch.full((2, 1, 16, 16), 0.7)
    with caplog.at_level(logging.WARNING):
        out = solver.solve(rgb, trimap, coarse)
    assert solver.failures == 2
    assert "keeping the coarse alpha" in caplog.text
    assert torch.allclose(out[..., 4:], torch.tensor(0.7))


def test_solver_output_is_finite_on_an_unconstrained_tile() -> None:
    # no known pixel at all: only the prior pins the system (it must stay positive definite)
    solver = ClosedFormSolver(ClosedFormParams(workers=1))
    out = solver.solve(
        torch.rand(1, 3, 20, 20), torch.full((1, 1, 20, 20), 0.5), torch.full((1, 1, 20, 20), 0.3)
    )
    assert torch.isfinite(out).all()
    assert solver.failures == 0
    assert float((out - 0.3).abs().max()) < 0.05
