"""The fine-structure step: thin lines keep their middle, mesh holes stay open, blobs untouched."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from sam2matting.backend.matting.base import MattingInput
from sam2matting.backend.matting.closed_form import ClosedFormParams, ClosedFormSolver
from sam2matting.backend.matting.closed_form_engine import (
    ClosedFormEngine,
    ClosedFormEngineParams,
)
from sam2matting.backend.matting.fine import (
    FineParams,
    fine_pins,
    keep_fine_structure,
    medial,
    thin_parts,
)
from sam2matting.backend.matting.native import NativeStage


def _scene(alpha: np.ndarray, seed: int = 0) -> np.ndarray:
    """A pale object over a textured, colourful background, composited exactly."""
    rng = np.random.default_rng(seed)
    h, w = alpha.shape
    yy, xx = np.mgrid[0:h, 0:w]
    bg = np.stack(
        [
            0.5 + 0.3 * np.sin(xx / 5.0),
            0.4 + 0.3 * np.cos(yy / 7.0),
            0.5 + 0.2 * np.sin((xx + yy) / 9.0),
        ],
        axis=-1,
    )
    fg = np.array([0.85, 0.8, 0.3])
    rgb = alpha[..., None] * fg + (1 - alpha[..., None]) * bg + rng.normal(0, 0.005, (h, w, 3))
    return np.clip(rgb, 0, 1).astype(np.float32)


def _lines(h: int = 96, w: int = 128) -> np.ndarray:
    """A blob with two 2-px wires leaving it."""
    alpha = np.zeros((h, w), np.float32)
    alpha[30:60, 20:50] = 1.0
    alpha[44:46, 50:120] = 1.0  # horizontal wire
    alpha[5:30, 34:36] = 1.0  # vertical wire
    return alpha


def _mesh(h: int = 96, w: int = 128, pitch: int = 10) -> np.ndarray:
    """A grid of 2-px wires, `pitch` apart, inside a solid frame."""
    alpha = np.zeros((h, w), np.float32)
    for y in range(10, 86, pitch):
        alpha[y : y + 2, 10:118] = 1.0
    for x in range(10, 118, pitch):
        alpha[10:86, x : x + 2] = 1.0
    alpha[6:10, 6:122] = alpha[86:90, 6:122] = 1.0
    alpha[6:90, 6:10] = alpha[6:90, 118:122] = 1.0
    return alpha


def _matte(params: ClosedFormEngineParams, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inp = MattingInput(
        rgb=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
        mask=torch.from_numpy(np.ascontiguousarray(mask)),
    )
    return ClosedFormEngine(params).matte(inp).numpy()


def test_thin_parts_and_medial_find_the_wires_middle_not_the_blob() -> None:
    mask = _lines()
    thin = thin_parts(mask, FineParams())
    assert thin[44:46, 60:110].all()  # the wire is thin
    assert not thin[38:52, 28:42].any()  # the blob's middle is not
    wide = np.zeros((20, 40), np.float32)
    wide[8:11, :] = 1.0  # a 3-px stroke: only its middle row is medial
    mid = medial(wide, FineParams().ridge)
    assert mid[9, 5:35].all()
    assert not mid[8, 5:35].any()
    assert not mid[10, 5:35].any()


def test_a_two_pixel_wire_keeps_its_middle_line() -> None:
    truth = _lines()
    rgb = _scene(truth)
    params = ClosedFormEngineParams()
    after = _matte(params, rgb, truth)
    before = _matte(replace(params, fine=False), rgb, truth)
    wire = (slice(44, 46), slice(56, 114))
    assert after[wire].min() >= 0.9
    # without the step the half-resolution stages leave the wire grey
    assert before[wire].min() < 0.9
    assert np.abs(after - truth).sum() < np.abs(before - truth).sum()


def test_a_mesh_keeps_its_holes_and_its_wires() -> None:
    truth = _mesh()
    rgb = _scene(truth, seed=1)
    after = _matte(ClosedFormEngineParams(), rgb, truth)
    before = _matte(ClosedFormEngineParams(fine=False), rgb, truth)
    centres = np.zeros(truth.shape, bool)
    centres[15:86:10, 15:118:10] = True  # the middle of every cell
    assert after[centres].max() <= 0.1
    err_after, err_before = np.abs(after - truth).sum(), np.abs(before - truth).sum()
    assert err_after < 0.8 * err_before
    assert after[truth > 0.5].mean() >= 0.95  # the wires stay solid
    assert before[centres].max() > 0.1 or before[truth > 0.5].mean() < 0.95


def test_a_plain_blob_is_left_alone() -> None:
    h, w = 80, 80
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((yy - 40) ** 2 + (xx - 40) ** 2 < 20**2).astype(np.float32)
    rgb = torch.from_numpy(_scene(mask).transpose(2, 0, 1).copy())
    alpha = torch.from_numpy(np.clip(mask + 0.1 * np.sin(xx / 3.0), 0, 1).astype(np.float32))
    stage = NativeStage(ClosedFormSolver(ClosedFormParams(workers=1)))
    result = keep_fine_structure(stage, rgb, torch.from_numpy(mask), alpha, FineParams())
    assert result.tiles == 0
    assert not result.rim.any()
    assert torch.equal(result.alpha, alpha)


def test_degenerate_inputs_give_alpha_in_range() -> None:
    h, w = 64, 64
    stage = NativeStage(ClosedFormSolver(ClosedFormParams(workers=1)))
    for mask in (np.zeros((h, w), np.float32), np.ones((h, w), np.float32)):
        alpha = torch.from_numpy(mask.copy())
        rgb = torch.full((3, h, w), 0.5)
        out = keep_fine_structure(stage, rgb, torch.from_numpy(mask), alpha, FineParams())
        assert torch.equal(out.alpha, alpha)
    # non-finite colours on a wire: the engine's output stays finite and in [0, 1]
    truth = _lines(64, 96)
    rgb = _scene(truth)
    rgb[40:50, 50:70] = np.nan
    engine = ClosedFormEngine()
    inp = MattingInput(
        rgb=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
        mask=torch.from_numpy(truth),
    )
    out = engine.matte(inp).numpy()
    assert np.isfinite(out).all()
    assert out.min() >= 0.0
    assert out.max() <= 1.0
    assert engine.stats["fine_tiles"] >= 1


def test_pins_follow_what_was_lost() -> None:
    mask = _lines()
    lost = np.zeros_like(mask)  # an alpha that lost everything: the wires' middles pinned
    ones, zeros, rim = fine_pins(mask, lost, FineParams())
    assert ones[44:46, 60:110].all()
    assert rim[42, 60:110].all()  # the wire's sides are re-solved
    assert rim[47, 60:110].all()
    kept = mask.copy()  # an alpha that kept them: nothing to do
    ones, zeros, rim = fine_pins(mask, kept, FineParams())
    assert not ones.any()
    assert not rim.any()
    assert not (ones & zeros).any()
