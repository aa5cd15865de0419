"""Every engine's two phases (tracker side, native) give exactly what `matte` gives, also after
the prior is stored and read back as the farm's Track and Matte steps do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sam2matting.backend.matting import phases
from sam2matting.backend.matting.base import MattePrior, MattingEngine, MattingInput
from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine
from sam2matting.backend.matting.guided import GuidedFilterSolver
from sam2matting.backend.matting.heads.engine import HeadsEngine
from sam2matting.backend.matting.native import TileLayout
from sam2matting.backend.matting.standalone import image_features, mask_logits
from sam2matting.backend.render.farm_store import PriorStore, TrackKey
from sam2matting.backend.tracking.base import TrackedFrame
from tests.backend.matting.conftest import TEST_IMAGE_SIZE, disc_scene
from tests.backend.matting.heads.test_heads import _randomised_heads

KEY = TrackKey("digest", 3, "flow", "closed_form")


def _disc_input(size=(64, 96)) -> MattingInput:
    rgb, alpha = disc_scene(size, radius=20.0, blur=1.5)
    mask = torch.from_numpy((alpha > 0.4).astype(np.float32))
    return MattingInput(torch.from_numpy(rgb).permute(2, 0, 1).contiguous(), mask)


def _stored(tmp_path: Path, prior: MattePrior) -> MattePrior:
    store = PriorStore(tmp_path / "priors", 4)
    store.write_prior(1, 1001, prior, KEY, start=1001)
    read = store.read_prior(1, 1001, KEY)
    assert read is not None
    return read


def test_closed_form_phases_equal_matte_after_a_store_round_trip(tmp_path):
    engine = ClosedFormEngine()
    inp = _disc_input()
    whole = engine.matte(inp)
    prior = engine.track_phase(inp)
    assert prior.coarse is None  # the mask is all this engine keeps
    read = _stored(tmp_path, prior)
    assert torch.equal(read.mask, inp.mask)
    split = engine.native_phase(inp.rgb, read)
    assert torch.equal(split, whole)
    assert 0.0 < float(whole[inp.mask == 0].max()) < 1.0  # a real soft edge, not the mask


def test_heads_phases_equal_matte_after_a_store_round_trip(tmp_path, tiny_sam2):
    rgb = torch.rand(3, 80, 120)
    mask = torch.zeros(80, 120)
    mask[20:60, 30:90] = 1.0
    inp = MattingInput(
        rgb, mask, mask_logits(mask, TEST_IMAGE_SIZE // 4), image_features(tiny_sam2, rgb)
    )
    engine = HeadsEngine(_randomised_heads(seed=5), GuidedFilterSolver(), TileLayout(64, 16))
    whole = engine.matte(inp)
    prior = engine.track_phase(inp)
    assert prior.coarse is not None
    assert prior.coarse.shape == (TEST_IMAGE_SIZE // 2, TEST_IMAGE_SIZE // 2)  # heads' own size
    read = _stored(tmp_path, prior)
    assert read.coarse is not None
    assert torch.equal(read.coarse, prior.coarse)
    assert torch.equal(engine.native_phase(rgb, read), whole)
    # the native phase cannot run without what only the tracker side can make
    with pytest.raises(Exception, match="coarse alpha"):
        engine.native_phase(rgb, MattePrior(mask))


def test_an_engine_needing_features_must_define_both_phases():
    class Featured(MattingEngine):
        name = "featured"
        needs_features = True

        @classmethod
        def capability(cls, config, name=""):  # pragma: no cover - not called
            raise AssertionError

        @classmethod
        def create(cls, name, config, device, options):  # pragma: no cover - not called
            raise AssertionError

        def matte(self, inp):  # pragma: no cover - not called
            raise AssertionError

    inp = _disc_input()
    with pytest.raises(NotImplementedError, match="featured needs features"):
        Featured().track_phase(inp)
    with pytest.raises(NotImplementedError, match="featured needs features"):
        Featured().native_phase(inp.rgb, MattePrior(inp.mask))


def test_phase_runners_skip_lost_objects_and_return_float_alpha():
    inp = _disc_input()
    h, w = inp.mask.shape
    logits = torch.where(inp.mask > 0, 5.0, -5.0)
    tracked = TrackedFrame(index=0, logits={1: logits})  # object 2 lost on this frame
    engine = ClosedFormEngine()
    priors = phases.track_phase(engine, inp.rgb, tracked, [1, 2], (w, h))
    assert list(priors) == [1]
    alphas = phases.native_phase(engine, inp.rgb, priors)
    assert list(alphas) == [1]
    assert alphas[1].dtype == np.float32
    assert alphas[1].shape == (h, w)
    np.testing.assert_array_equal(alphas[1], engine.run(inp).numpy())
