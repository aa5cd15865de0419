"""SAM2Matting heads: exact official layout, shapes, real SAM2 features, checkpoint round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting import registry
from sam2matting.backend.matting.base import MattingInput
from sam2matting.backend.matting.guard import guard_tensor
from sam2matting.backend.matting.heads.checkpoint import (
    heads_from_state,
    load_heads,
    save_official_checkpoint,
)
from sam2matting.backend.matting.heads.engine import HeadsEngine, band_trimap
from sam2matting.backend.matting.heads.model import HEAD_PREFIXES, ROI_THRESHOLD, SAM2MattingHeads
from sam2matting.backend.matting.standalone import image_features, mask_logits
from sam2matting.backend.model_files import SAM2MATTING_HEADS
from sam2matting.backend.tracking import checkpoints
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from tests.backend.matting.conftest import TEST_IMAGE_SIZE
from tests.conftest import SHARED_DATA

MANIFEST = Path(__file__).with_name("sam2matting_heads_state_dict.json")
SHARED_MANIFEST = SHARED_DATA.parent / "reference" / MANIFEST.name


def _randomised_heads(seed: int = 1) -> SAM2MattingHeads:
    """Heads with every parameter and BN statistic changed from its initial value."""
    torch.manual_seed(seed)
    heads = SAM2MattingHeads()
    with torch.no_grad():
        for name, t in heads.state_dict().items():
            if t.dtype.is_floating_point:
                t.copy_(torch.rand_like(t) + (0.5 if "running_var" in name else -0.5))
            else:
                t.fill_(seed + 6)
    return heads.eval()


def test_state_dict_matches_the_official_manifest_exactly() -> None:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    ours = {k: list(v.shape) for k, v in SAM2MattingHeads().state_dict().items()}
    assert sorted(set(manifest) - set(ours)) == []  # nothing missing
    assert sorted(set(ours) - set(manifest)) == []  # nothing unexpected
    assert {k: ours[k] for k in manifest} == manifest
    assert len(ours) == 141
    params = sum(p.numel() for p in SAM2MattingHeads().parameters())
    assert params == 4_949_060  # "about 4.95 M parameters"


def test_golden_manifest_is_the_shared_reference() -> None:
    if not SHARED_MANIFEST.is_file():
        pytest.skip("shared reference folder not found")
    assert json.loads(SHARED_MANIFEST.read_text()) == json.loads(MANIFEST.read_text())


def test_head_prefixes_cover_every_head_key() -> None:
    # the tracker loader ignores exactly these prefixes; every head key must carry one
    keys = SAM2MattingHeads().state_dict()
    assert all(k.startswith(HEAD_PREFIXES) for k in keys)


@pytest.mark.parametrize("size", [64, 128])
def test_forward_shapes_at_reduced_sizes(size: int) -> None:
    heads = SAM2MattingHeads().eval()
    fpn = (
        torch.randn(2, 32, size // 4, size // 4),
        torch.randn(2, 64, size // 8, size // 8),
        torch.randn(2, 256, size // 16, size // 16),
    )
    mask = (torch.rand(2, 1, size // 4, size // 4) > 0.5).float()
    with torch.no_grad():
        out = heads(fpn, mask, torch.randn(2, 3, size, size))
    assert out.roi_logits.shape == (2, 1, size // 4, size // 4)
    assert [tuple(a.shape[-2:]) for a in out.alphas] == [
        (size // 8, size // 8),
        (size // 4, size // 4),
        (size // 2, size // 2),
    ]
    assert all(float(a.min()) >= 0.0 and float(a.max()) <= 1.0 for a in out.alphas)
    # pseudo-trimap: 0.5 exactly where the ROI fires, the mask elsewhere
    fires = out.roi_logits.sigmoid() > ROI_THRESHOLD
    assert torch.equal(out.trimap[fires], torch.full_like(out.trimap[fires], 0.5))
    assert torch.equal(out.trimap[~fires], mask[~fires])


def test_heads_run_on_real_sam2_features(tiny_sam2: torch.nn.Module) -> None:
    rgb = torch.rand(3, 96, 160)
    feats = image_features(tiny_sam2, rgb)
    assert feats.image.shape == (1, 3, TEST_IMAGE_SIZE, TEST_IMAGE_SIZE)
    assert [f.shape[1] for f in feats.fpn] == [32, 64, 256]
    heads = _randomised_heads()
    mask = torch.zeros(96, 160)
    mask[20:70, 40:120] = 1.0
    logits = mask_logits(mask, TEST_IMAGE_SIZE // 4)
    with torch.no_grad():
        out = heads(feats.fpn, (logits > 0).float()[None, None], feats.image)
    assert out.alpha.shape == (1, 1, TEST_IMAGE_SIZE // 2, TEST_IMAGE_SIZE // 2)
    assert torch.isfinite(out.alpha).all()
    engine = HeadsEngine(heads)  # no native stage: the resized alpha3
    alpha = engine.matte(MattingInput(rgb=rgb, mask=mask, logits=logits, features=feats))
    assert alpha.shape == (96, 160)
    assert alpha.dtype == torch.float32
    expected = torch.nn.functional.interpolate(
        out.alpha, size=(96, 160), mode="bilinear", align_corners=False
    )[0, 0]
    assert torch.allclose(alpha, expected, atol=1e-5)


def test_engine_refuses_input_without_features() -> None:
    engine = HeadsEngine(SAM2MattingHeads())
    with pytest.raises(ProtocolError) as err:
        engine.matte(MattingInput(rgb=torch.rand(3, 8, 8), mask=torch.zeros(8, 8)))
    assert err.value.code == ErrorCode.INVALID_FIELD


def test_official_layout_round_trip(tmp_path: Path, tiny_sam2: torch.nn.Module) -> None:
    heads = _randomised_heads(seed=3)
    path = tmp_path / SAM2MATTING_HEADS["sam2matting-tiny"].filename
    save_official_checkpoint(path, tiny_sam2.state_dict(), heads.state_dict())
    data = torch.load(path, map_location="cpu", weights_only=True)
    assert set(data) == {"model"}
    tracker_keys, _head_keys = checkpoints.split_heads(data["model"])
    assert set(tracker_keys) == set(tiny_sam2.state_dict())
    loaded = load_heads(path, torch.device("cpu"))
    for key, value in heads.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert not loaded.training
    # and through the registry, as the server loads it
    config = BackendConfig(models_dir=tmp_path)
    caps = {c.name: c for c in registry.engine_capabilities(config)}
    assert caps["sam2matting-tiny"].available
    assert not caps["sam2matting-base_plus"].available
    engine = registry.load_engine("sam2matting-tiny", config, torch.device("cpu"))
    assert isinstance(engine, HeadsEngine)
    assert engine.needs_features
    assert torch.equal(engine.heads.alpha_pred3[0].weight, heads.alpha_pred3[0].weight)


def test_missing_or_unexpected_head_keys_are_rejected() -> None:
    state = _randomised_heads().state_dict()
    missing = {k: v for k, v in state.items() if not k.startswith("alpha_pred3.")}
    with pytest.raises(ProtocolError) as err:
        heads_from_state(missing, torch.device("cpu"))
    assert err.value.code == ErrorCode.CHECKPOINT_INVALID
    assert "alpha_pred3.0.weight" in err.value.details["missing"]
    extra = {**state, "unknown_fusion.9.weight": torch.zeros(1)}
    with pytest.raises(ProtocolError) as err:
        heads_from_state(extra, torch.device("cpu"))
    assert err.value.details["unexpected"] == ["unknown_fusion.9.weight"]
    wrong = {**state, "alpha_pred1.3.bias": torch.zeros(2)}
    with pytest.raises(ProtocolError) as err:
        heads_from_state(wrong, torch.device("cpu"))
    assert err.value.details["misshapen"] == ["alpha_pred1.3.bias"]
    with pytest.raises(ProtocolError):
        heads_from_state({"image_encoder.x": torch.zeros(1)}, torch.device("cpu"))


def test_band_trimap_is_capped_near_the_edge() -> None:
    coarse = torch.zeros(64, 64)
    coarse[:, 32:] = 1.0
    coarse[:, 24:32] = 0.5  # a soft ramp 8 px wide
    coarse[:4, :20] = 0.3  # soft far from the 0.5 edge: not refined
    trimap = band_trimap(coarse, 0.02, margin=2, max_width=6)
    unknown = (trimap == 0.5).numpy()
    # the edge is at x = 31.5: fractional pixels 22..31 grown to 20..33, capped at 6 px
    assert unknown[:, 25:34].all()
    assert not unknown[:, :25].any()
    assert np.array_equal(trimap.numpy()[:, 40:], np.ones((64, 24), np.float32))


@pytest.mark.gpu
def test_heads_run_under_bf16_autocast_on_cuda() -> None:
    device = torch.device("cuda")
    heads = SAM2MattingHeads().to(device).eval()
    fpn = tuple(
        torch.randn(1, c, 256 // s, 256 // s, device=device, dtype=torch.bfloat16)
        for c, s in ((32, 1), (64, 2), (256, 4))
    )
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        out = heads(
            fpn,
            torch.ones(1, 1, 256, 256, device=device),
            torch.randn(1, 3, 1024, 1024, device=device),
        )
    assert out.alpha.shape == (1, 1, 512, 512)
    assert torch.isfinite(out.alpha.float()).all()


def test_engine_with_native_stage_changes_only_the_band(tiny_sam2: torch.nn.Module) -> None:
    from sam2matting.backend.matting.guided import GuidedFilterSolver
    from sam2matting.backend.matting.native import TileLayout

    rgb = torch.rand(3, 80, 120)
    mask = torch.zeros(80, 120)
    mask[20:60, 30:90] = 1.0
    feats = image_features(tiny_sam2, rgb)
    inp = MattingInput(
        rgb=rgb, mask=mask, logits=mask_logits(mask, TEST_IMAGE_SIZE // 4), features=feats
    )
    heads = _randomised_heads(seed=5)
    coarse = HeadsEngine(heads).matte(inp)
    refined = HeadsEngine(heads, GuidedFilterSolver(), TileLayout(64, 16)).matte(inp)
    trimap = band_trimap(coarse, 0.02, 3, 24)
    outside = trimap != 0.5
    assert (~outside).any()  # the random heads leave a soft band to refine
    assert not torch.equal(refined[~outside], coarse[~outside])
    assert torch.equal(refined[outside], coarse[outside])
    assert torch.isfinite(refined).all()
    assert refined.min() >= 0
    assert refined.max() <= 1


def test_run_hands_back_an_ordinary_tensor(tiny_sam2: torch.nn.Module) -> None:
    """`matte` computes in inference mode; `run` (what every caller uses) returns a tensor the
    caller may change in place. Changing `matte`'s output in place outside inference mode is
    the error the server hit (issue 11)."""
    rgb = torch.rand(3, 64, 96)
    mask = torch.zeros(64, 96)
    mask[16:48, 24:72] = 1.0
    inp = MattingInput(
        rgb=rgb,
        mask=mask,
        logits=mask_logits(mask, TEST_IMAGE_SIZE // 4),
        features=image_features(tiny_sam2, rgb),
    )
    engine = HeadsEngine(_randomised_heads(seed=6))
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor"):
        engine.matte(inp).clamp_(0, 1)
    alpha = engine.run(inp)
    assert not alpha.is_inference()
    alpha.clamp_(0, 1)  # allowed
    assert alpha.shape == (64, 96)
    assert alpha.dtype == torch.float32
    # the same alpha as `matte`'s, through the do-no-harm guard every engine's result passes
    assert engine.guard is not None
    expected, _ = guard_tensor(rgb, mask, engine.matte(inp).float().clamp(0, 1), engine.guard)
    torch.testing.assert_close(alpha, expected)
