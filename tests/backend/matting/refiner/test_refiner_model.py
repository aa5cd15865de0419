"""The refiner network and its committed-weights format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sam2matting.backend.matting.refiner import weights
from sam2matting.backend.matting.refiner.model import (
    Refiner,
    RefinerConfig,
    fuse_for_inference,
    parameter_count,
)


@pytest.fixture(scope="module")
def model() -> Refiner:
    torch.manual_seed(0)
    return Refiner().eval()


def _inputs(n: int, h: int, w: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand((n, 3, h, w), generator=g)
    coarse = (torch.rand((n, 1, h, w), generator=g) > 0.5).float()
    trimap = torch.full((n, 1, h, w), 0.5)
    return rgb, coarse, trimap


def test_parameter_budget(model: Refiner) -> None:
    count = parameter_count(model)
    assert 1_000_000 < count <= 5_000_000


@pytest.mark.parametrize(("h", "w"), [(37, 53), (64, 64), (1, 7), (129, 96)])
def test_fully_convolutional_on_any_size(model: Refiner, h: int, w: int) -> None:
    rgb, coarse, trimap = _inputs(2, h, w)
    out = model(rgb, coarse, trimap)
    assert out.shape == (2, 1, h, w)
    assert out.dtype == torch.float32


def test_untrained_network_returns_the_prior(model: Refiner) -> None:
    rgb, coarse, trimap = _inputs(1, 40, 40)
    torch.testing.assert_close(model.predict(rgb, coarse, trimap), coarse)


def test_predict_clamps_and_never_returns_nan() -> None:
    torch.manual_seed(1)
    net = Refiner().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.5)  # a wild network: outputs far outside [0, 1]
    rgb, coarse, trimap = _inputs(2, 32, 48)
    rgb[0, :, 3, 3] = float("nan")
    out = net.predict(rgb, coarse, trimap)
    assert not torch.isnan(out).any()
    assert out.min() >= 0.0
    assert out.max() <= 1.0
    assert float((out - coarse).abs().mean()) > 0.01  # it did not just return the prior


def test_fp16_export_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(2)
    net = Refiner().eval()
    with torch.no_grad():  # a head that does something, so the comparison means something
        net.head[-1].weight.normal_(0.0, 0.02)
    info = weights.export(net, tmp_path, {"note": "test"})
    path = tmp_path / weights.WEIGHTS_NAME
    assert path.stat().st_size == info["bytes"] <= 20 * 1024 * 1024
    meta = json.loads((tmp_path / weights.INFO_NAME).read_text())
    assert meta["parameters"] == parameter_count(net)
    assert meta["recipe"] == {"note": "test"}
    loaded = weights.load(tmp_path)
    rgb, coarse, trimap = _inputs(1, 48, 48)
    ref = net.predict(rgb, coarse, trimap)
    assert float((ref - coarse).abs().mean()) > 0.01
    torch.testing.assert_close(loaded.predict(rgb, coarse, trimap), ref, atol=5e-3, rtol=0)


def test_missing_or_corrupt_weights_are_reported(model: Refiner, tmp_path: Path) -> None:
    reason = weights.missing_reason(tmp_path)
    assert reason is not None
    assert "not found" in reason
    with pytest.raises(ValueError, match="not found"):
        weights.load(tmp_path)
    weights.export(model, tmp_path, {})
    assert weights.missing_reason(tmp_path) is None
    data = bytearray((tmp_path / weights.WEIGHTS_NAME).read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / weights.WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        weights.load(tmp_path)


def test_config_round_trip() -> None:
    cfg = RefinerConfig(widths=(8, 16, 24, 32, 40), blocks=(0, 1, 0, 1))
    assert RefinerConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="block count"):
        Refiner(RefinerConfig(widths=(8, 16), blocks=(0, 1)))


def test_batchnorm_folding_keeps_the_outputs() -> None:
    torch.manual_seed(3)
    net = Refiner()
    with torch.no_grad():  # non-trivial running statistics and an active head
        for _ in range(3):
            net(*_inputs(4, 48, 48, seed=_))
        net.head[-1].weight.normal_(0.0, 0.05)
    net.eval()
    fused = fuse_for_inference(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # a copy
    rgb, coarse, trimap = _inputs(2, 45, 61, seed=9)
    ref = net.predict(rgb, coarse, trimap)
    assert float((ref - coarse).abs().mean()) > 0.01
    torch.testing.assert_close(fused.predict(rgb, coarse, trimap), ref, atol=1e-4, rtol=0)
