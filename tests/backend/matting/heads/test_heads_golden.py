"""The heads compute what the official SAM2Matting code computes (its golden inputs/outputs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.backend.matting.heads.golden import GOLDEN, name_seeded_heads

# float32 rounding: the official code reproduces these bit-exactly on CPU; a different but
# equivalent order of float operations may differ in the last bits.
ATOL = 1e-5


@pytest.fixture(scope="module")
def golden() -> dict:
    if not GOLDEN.is_file():
        pytest.skip(f"official-code golden not found at {GOLDEN}")
    with np.load(GOLDEN) as data:
        return {k: data[k] for k in data.files}


def test_heads_reproduce_the_official_roi_logits_and_alpha(golden: dict) -> None:
    heads = name_seeded_heads(float(golden["fusion_bias_shift"]))
    fpn = tuple(torch.from_numpy(golden[k]) for k in ("f4", "f8", "f16"))
    with torch.no_grad():
        out = heads(fpn, torch.from_numpy(golden["mask"]), torch.from_numpy(golden["image"]))
    for name, got in (("roi_logits", out.roi_logits), ("alpha3", out.alpha)):
        expected = golden[name]
        assert got.shape == expected.shape, name
        assert got.dtype == torch.float32
        np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=ATOL, err_msg=name)
    # The golden exercises both branches of the pseudo-trimap, so both are checked above.
    unknown = float((out.roi_logits.sigmoid() > 0.65).float().mean())
    assert 0.1 < unknown < 0.6


def test_a_wrong_parameter_is_caught(golden: dict) -> None:
    """The comparison can fail: one perturbed weight moves alpha3 beyond the tolerance."""
    heads = name_seeded_heads(float(golden["fusion_bias_shift"]))
    with torch.no_grad():
        heads.alpha_pred3[3].bias.add_(0.05)
        fpn = tuple(torch.from_numpy(golden[k]) for k in ("f4", "f8", "f16"))
        out = heads(fpn, torch.from_numpy(golden["mask"]), torch.from_numpy(golden["image"]))
    assert np.abs(out.alpha.numpy() - golden["alpha3"]).max() > 100 * ATOL
