"""The refiner as a TileSolver and as a MattingEngine (band + native stage + solver)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting.base import MattingInput
from sam2matting.backend.matting.native import TileLayout
from sam2matting.backend.matting.refiner import engine as engine_mod
from sam2matting.backend.matting.refiner import weights
from sam2matting.backend.matting.refiner.engine import RefinerEngine, RefinerSolver
from sam2matting.backend.matting.refiner.model import Refiner
from sam2matting.backend.matting.synthetic.sample import make_sample


def _active_model(seed: int = 0) -> Refiner:
    """A random network whose head is switched on (an untrained one returns its prior)."""
    torch.manual_seed(seed)
    net = Refiner().eval()
    with torch.no_grad():
        net.head[-1].weight.normal_(0.0, 0.05)
    return net


def test_solver_batches_and_never_returns_nan() -> None:
    solver = RefinerSolver("cpu", model=_active_model(), max_batch=3)
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand((7, 3, 40, 56), generator=g)
    rgb[2, :, :5, :5] = float("nan")
    rgb[4] = float("inf")
    trimap = torch.full((7, 1, 40, 56), 0.5)
    coarse = (torch.rand((7, 1, 40, 56), generator=g) > 0.5).float()
    out = solver.solve(rgb, trimap, coarse)
    assert out.shape == (7, 1, 40, 56)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert out.min() >= 0.0
    assert out.max() <= 1.0
    # batching does not change the answer: tile 5 alone equals tile 5 in the batch
    alone = solver.solve(rgb[5:6], trimap[5:6], coarse[5:6])
    torch.testing.assert_close(alone, out[5:6], atol=1e-5, rtol=0)


def test_engine_is_unavailable_with_a_reason_without_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    cap = RefinerEngine.capability(BackendConfig())
    assert cap.available is False
    assert cap.reason is not None
    assert "not found" in cap.reason
    assert "train" in cap.reason
    assert cap.to_wire()["params"][0]["name"] == "max_width"
    weights.export(Refiner(), tmp_path, {})
    assert RefinerEngine.capability(BackendConfig()).available is True


def test_engine_mattes_a_synthetic_frame() -> None:
    s = make_sample(np.random.default_rng(2), (150, 170), None, kind="hair")
    eng = RefinerEngine(
        RefinerSolver("cpu", model=_active_model(1)), max_width=12.0, layout=TileLayout(64, 16, 8)
    )
    mask = torch.from_numpy(s.mask)
    alpha = eng.matte(
        MattingInput(rgb=torch.from_numpy(s.image.transpose(2, 0, 1).copy()), mask=mask)
    )
    assert alpha.shape == mask.shape
    assert alpha.dtype == torch.float32
    assert torch.isfinite(alpha).all()
    assert alpha.min() >= 0.0
    assert alpha.max() <= 1.0
    trimap = eng.trimap(mask)
    known = (trimap - 0.5).abs() > 0.25
    torch.testing.assert_close(alpha[known], mask[known])  # known pixels keep the mask
    band = ~known
    assert band.any()
    assert float((alpha[band] - mask[band]).abs().mean()) > 1e-3  # the solver ran in the band
    assert eng.stats["tiles"] >= 1


def test_untrained_engine_returns_the_tracker_mask() -> None:
    s = make_sample(np.random.default_rng(3), 96, None, kind="solid")
    eng = RefinerEngine(RefinerSolver("cpu", model=Refiner()), layout=TileLayout(64, 16, 8))
    mask = torch.from_numpy(s.mask)
    alpha = eng.matte(
        MattingInput(rgb=torch.from_numpy(s.image.transpose(2, 0, 1).copy()), mask=mask)
    )
    torch.testing.assert_close(alpha, mask)


def test_resolve_device() -> None:
    assert engine_mod.resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert engine_mod.resolve_device("auto").type == expected


@pytest.mark.gpu
def test_solver_on_cuda_uses_fp16_and_matches_cpu() -> None:
    net = _active_model(4)
    cpu = RefinerSolver("cpu", model=net)
    gpu = RefinerSolver("cuda", model=_active_model(4))
    g = torch.Generator().manual_seed(1)
    rgb = torch.rand((4, 3, 64, 64), generator=g)
    trimap = torch.full((4, 1, 64, 64), 0.5)
    coarse = (rgb[:, :1] > 0.5).float()
    out = gpu.solve(rgb.cuda(), trimap.cuda(), coarse.cuda())
    assert out.device.type == "cuda"
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.cpu(), cpu.solve(rgb, trimap, coarse), atol=2e-2, rtol=0)
