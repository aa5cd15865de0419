"""The mask hold: pixels the image gives no reason to change keep the mask; the rest re-solved."""

from __future__ import annotations

from typing import Tuple

import numpy as np
import pytest
import torch

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting import object_metrics as om
from sam2matting.backend.matting.base import MattingInput
from sam2matting.backend.matting.closed_form_engine import (
    ClosedFormEngine,
    ClosedFormEngineParams,
)
from sam2matting.backend.matting.colour_cover import cover
from sam2matting.backend.matting.evidence import (
    EvidenceParams,
    pinned_map,
    soft_texture,
)


def white_car(seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """A pale box half before a pale wall (ambiguous colours), half before dark ground."""
    rng = np.random.default_rng(seed)
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    bg = np.where((xx < w // 2)[..., None], [0.88, 0.88, 0.86], [0.25, 0.3, 0.28])
    alpha = ((yy >= 30) & (yy < 90) & (xx >= 40) & (xx < 120)).astype(np.float32)
    fg = np.full((h, w, 3), 0.9) * (0.95 + 0.05 * np.sin(xx / 3.0))[..., None]
    rgb = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    rgb = rgb + rng.normal(0.0, 0.01, rgb.shape)
    return np.clip(rgb, 0, 1).astype(np.float32), alpha


def _matte(params: ClosedFormEngineParams, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inp = MattingInput(
        rgb=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
        mask=torch.from_numpy(np.ascontiguousarray(mask)),
    )
    return ClosedFormEngine(params).matte(inp).numpy()


def test_cover_puts_every_colour_within_tau_of_a_sample() -> None:
    colours = np.random.default_rng(0).random((5000, 3)).astype(np.float32)
    samples = cover(colours, 4096, 0.2)
    nearest = np.linalg.norm(colours[:, None] - samples[None], axis=2).min(axis=1)
    assert nearest.max() <= 0.2 + 0.2 / 2 * np.sqrt(3)  # grid merging adds half a cell
    assert len(cover(colours, 5, 0.01)) == 5  # bounded


def test_pinned_map_keeps_own_colours_and_frees_the_tracker_error() -> None:
    h, w = 80, 80
    truth = np.zeros((h, w), np.float32)
    truth[20:60, 20:60] = 1.0
    rgb = np.where(truth[..., None] > 0.5, [0.8, 0.2, 0.1], [0.1, 0.3, 0.8]).astype(np.float32)
    mask = np.zeros_like(truth)
    mask[17:63, 17:63] = 1.0  # dilated by 3: a ring of background inside the mask
    pinned = pinned_map(rgb, mask, truth, np.ones((h, w), bool), EvidenceParams(denoise=0))
    assert pinned[30:50, 30:50].all()  # deep inside, red: held at 1
    assert pinned[:10, :10].all()  # far outside, blue: held at 0
    assert not pinned[17:20, 30:50].any()  # blue inside the mask: the image says otherwise


def test_soft_texture_tells_strands_from_smooth_mush() -> None:
    x = np.linspace(0, 1, 64, dtype=np.float32)
    mush = np.tile(0.3 + 0.4 * x, (64, 1))  # a smooth grey ramp
    strands = np.tile((np.arange(64) % 3 == 0).astype(np.float32) * 0.8, (64, 1))
    params = EvidenceParams()
    assert not soft_texture(mush, params).any()
    assert soft_texture(strands, params).mean() > 0.9


def test_hold_keeps_a_solid_core_and_a_crisp_edge_where_colours_are_ambiguous() -> None:
    rgb, truth = white_car()
    alpha = _matte(ClosedFormEngineParams(), rgb, truth)  # given the exact mask
    assert om.j_index(alpha, truth) >= 0.98
    assert om.interior_solid(alpha, truth) >= 0.9
    assert om.edge_width(alpha, truth) <= 2.5
    # without the hold the same engine hollows the box out (the failure)
    before = _matte(ClosedFormEngineParams(evidence=None), rgb, truth)
    assert om.interior_solid(before, truth) < 0.5
    assert om.edge_width(before, truth) > 5.0


def test_hold_still_corrects_a_dilated_mask() -> None:
    rgb, truth = white_car()
    mask = truth.copy()
    mask[27:93, 37:123] = 1.0
    alpha = _matte(ClosedFormEngineParams(), rgb, mask)
    assert np.abs(alpha - truth).sum() < 0.3 * np.abs(mask - truth).sum()


@pytest.mark.parametrize(("tolerance", "held"), [(0.0, False), (0.06, True)])
def test_hold_tolerance_option(tolerance: float, held: bool) -> None:
    engine = ClosedFormEngine.with_options(hold_tolerance=tolerance)
    assert (engine.params.evidence is not None) == held
    if held:
        assert engine.params.evidence is not None
        assert engine.params.evidence.tau == tolerance
    params = {p.name: p for p in ClosedFormEngine.capability(BackendConfig()).params}
    assert params["hold_tolerance"].default == EvidenceParams().tau
    assert params["hold_tolerance"].minimum == 0.0


@pytest.mark.parametrize("shape", [(37, 53), (1, 9), (8, 1), (2, 2)])
def test_gradient_matches_opencv_sobel_bit_for_bit(shape: Tuple[int, int]) -> None:
    """The compiled gradient is the Sobel (ksize 1) version it replaced, edges included."""
    import cv2

    from sam2matting.backend.matting.evidence import _gradient

    rgb = np.random.default_rng(shape[0]).random((*shape, 3)).astype(np.float32)
    gx = np.abs(cv2.Sobel(rgb, cv2.CV_32F, 1, 0, ksize=1))
    gy = np.abs(cv2.Sobel(rgb, cv2.CV_32F, 0, 1, ksize=1))
    ref = np.maximum(gx, gy).max(axis=2) / np.float32(2.0)
    ours = _gradient(rgb)
    assert ours.dtype == np.float32
    assert np.array_equal(ours, ref)
    if max(shape) >= 3:  # (2 px across, both neighbours reflect to the same pixel: zeros)
        assert ours.max() > 0.1  # a random image has gradients: not two arrays of zeros
