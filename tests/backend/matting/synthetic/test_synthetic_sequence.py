"""The moving-hair sequence: exact, deterministic per seed, temporally coherent."""

from __future__ import annotations

from typing import List

import numpy as np
import pytest

from sam2matting.backend.matting.synthetic import perturb
from sam2matting.backend.matting.synthetic.sequence import Frame, make_sequence


@pytest.fixture(scope="module")
def frames() -> List[Frame]:
    return list(make_sequence(np.random.default_rng(42), 12, (72, 128)))


def test_frames_are_exact_composites_with_soft_detail(frames: List[Frame]) -> None:
    assert [f.index for f in frames] == list(range(12))
    for f in frames:
        assert f.image.shape == (72, 128, 3)
        a = f.alpha[..., None]
        np.testing.assert_allclose(f.image, a * f.fg + (1 - a) * f.bg, atol=1e-6, rtol=0)
        assert f.alpha.min() >= 0.0
        assert f.alpha.max() <= 1.0
        fractional = float(np.mean((f.alpha > 0.01) & (f.alpha < 0.99)))
        assert fractional > 0.02  # strands, veil and motion blur
        assert set(np.unique(f.mask)) <= {0.0, 1.0}


def test_sequence_is_deterministic_per_seed(frames: List[Frame]) -> None:
    again = list(make_sequence(np.random.default_rng(42), 3, (72, 128)))
    other = next(make_sequence(np.random.default_rng(43), 1, (72, 128)))
    for a, b in zip(frames[:3], again):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.alpha, b.alpha)
        np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(frames[0].alpha, other.alpha)


def test_sequence_is_temporally_coherent(frames: List[Frame]) -> None:
    step = [float(np.abs(frames[i + 1].alpha - frames[i].alpha).mean()) for i in range(11)]
    far = float(np.abs(frames[11].alpha - frames[0].alpha).mean())
    assert max(step) > 0.0  # it moves
    assert np.mean(step) < 0.5 * far  # neighbouring frames are much closer than distant ones
    # the subject stays in the shot: alpha mass changes little from frame to frame
    mass = np.array([f.alpha.sum() for f in frames])
    assert np.abs(np.diff(mass)).max() < 0.15 * mass.mean()
    # the tracker-like mask follows the subject within a pixel of jitter
    for f in frames:
        solid = (f.alpha > 0.5).astype(np.float32)
        assert np.all(f.mask <= perturb.dilate(solid, 2))
        assert np.all(f.mask >= perturb.erode(solid, 2))
