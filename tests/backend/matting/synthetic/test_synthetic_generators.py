"""The procedural generators: exact alpha, real fractional values, determinism per seed."""

from __future__ import annotations

import numpy as np
import pytest

from sam2matting.backend.matting.synthetic import raster, shapes, strands, transparency
from sam2matting.backend.matting.synthetic.sample import KINDS, composite, make_sample
from sam2matting.backend.matting.synthetic.textures import TexturePool


@pytest.fixture(scope="module")
def pool() -> TexturePool:
    return TexturePool.procedural(seed=1, count=4, side=128)


def _fractional(alpha: np.ndarray) -> float:
    return float(np.mean((alpha > 0.01) & (alpha < 0.99)))


@pytest.mark.parametrize("kind", KINDS)
def test_sample_is_an_exact_composite(kind: str, pool: TexturePool) -> None:
    s = make_sample(np.random.default_rng(7), 96, pool, kind=kind)
    for arr in (s.image, s.fg, s.bg, s.alpha, s.mask, s.trimap):
        assert arr.dtype == np.float32
        assert arr.min() >= 0.0
        assert arr.max() <= 1.0
    assert s.image.shape == s.fg.shape == s.bg.shape == (96, 96, 3)
    a = s.alpha[..., None]
    np.testing.assert_allclose(s.image, a * s.fg + (1 - a) * s.bg, atol=1e-6, rtol=0)
    assert _fractional(s.alpha) > 0.002, "every kind must have a soft edge in the tile"
    assert set(np.unique(s.mask)) <= {0.0, 1.0}
    assert set(np.unique(s.trimap)) <= {0.0, 0.5, 1.0}
    assert s.kind == kind


def test_sample_is_deterministic_per_seed(pool: TexturePool) -> None:
    a = make_sample(np.random.default_rng(3), 64, pool)
    b = make_sample(np.random.default_rng(3), 64, pool)
    c = make_sample(np.random.default_rng(4), 64, pool)
    for field in ("image", "alpha", "mask", "trimap"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.alpha, c.alpha)


def test_sample_without_textures_uses_procedural_ones() -> None:
    s = make_sample(np.random.default_rng(0), (40, 56), None, kind="hair")
    assert s.image.shape == (40, 56, 3)
    assert float(s.bg.std()) > 0.01  # a texture, not a flat colour


def test_sample_rejects_unknown_kind(pool: TexturePool) -> None:
    with pytest.raises(ValueError, match="unknown sample kind"):
        make_sample(np.random.default_rng(0), 32, pool, kind="plasma")


def test_subpixel_strand_coverage_is_its_area() -> None:
    """A horizontal strand 1/4 px wide and 40 px long covers 10 px of alpha, spread thin."""
    lines = np.array([[[10.0, 20.3], [50.0, 20.3]]])
    s = strands.Strands(lines=lines, thickness=np.array([1], np.int32), opacity=np.array([1.0]))
    alpha = strands.render(s, (40, 64), ss=4, opacity_bins=1)
    assert alpha.max() <= 0.5, "a quarter-pixel strand never fully covers a pixel"
    # cv2 draws a 1-px line of n+1 supersampled pixels for n steps: (160 + 1) / 16.
    assert alpha.sum() == pytest.approx(161 / 16, abs=1e-4)
    assert np.count_nonzero(alpha) <= 2 * 42


def test_hair_has_many_fractional_pixels() -> None:
    rng = np.random.default_rng(5)
    _cov, outline = shapes.solid_layer(rng, (96, 96), 4)
    hair = strands.hair(rng, outline, (96, 96))
    alpha = strands.render(hair, (96, 96), 4)
    assert len(hair) >= 25
    assert _fractional(alpha) > 0.02
    assert 0.0 < float(alpha[alpha > 0].min()) < 0.1  # sub-pixel, translucent tips


def test_filled_polygon_alpha_is_its_area() -> None:
    """An axis-aligned 10.5 x 7.25 px rectangle at a sub-pixel offset has area 76.125."""
    cov = raster.canvas((32, 32), 4)
    rect = np.array([[5.25, 3.5], [15.75, 3.5], [15.75, 10.75], [5.25, 10.75]])
    # cv2 fills pixel centres inside or on the outline: the supersampled grid is exact here.
    raster.fill_polygons(cov, [rect], 4)
    alpha = raster.downsample(cov, 4)
    assert alpha.sum() == pytest.approx((10.5 + 0.25) * (7.25 + 0.25), abs=1e-4)
    assert np.count_nonzero((alpha > 0) & (alpha < 1)) > 0  # anti-aliased edges


def test_motion_blur_keeps_the_composite_exact_and_alpha_total() -> None:
    rng = np.random.default_rng(2)
    alpha = np.zeros((64, 64), np.float32)
    alpha[20:44, 20:44] = 1.0
    fg = rng.random((64, 64, 3), dtype=np.float32)
    kernel = raster.path_kernel(raster.motion_path(rng, 12.0, 0.3))
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    a2, f2 = raster.premultiplied_filter(alpha, fg, kernel)
    assert a2.sum() == pytest.approx(alpha.sum(), rel=1e-4)
    assert _fractional(a2) > _fractional(alpha) + 0.05
    # the premultiplied colour is preserved: a2*f2 == filter(alpha*fg)
    pre_before = (alpha[..., None] * fg).sum(axis=(0, 1))
    pre_after = (a2[..., None] * f2).sum(axis=(0, 1))
    np.testing.assert_allclose(pre_after, pre_before, rtol=1e-3)


def test_smoke_and_glass_are_semi_transparent() -> None:
    rng = np.random.default_rng(11)
    smoke = transparency.smoke(rng, (80, 80), 4)
    glass = transparency.glass(rng, (80, 80), 4)
    assert 0.0 < smoke.max() < 1.0
    assert _fractional(smoke) > 0.1
    interior = glass[(glass > 0.01) & (glass < 0.99)]
    assert interior.size > 100
    assert float(np.median(interior)) < 0.8


def test_composite_helper_is_the_matting_equation() -> None:
    a = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    fg = np.ones((2, 2, 3), np.float32)
    bg = np.zeros((2, 2, 3), np.float32)
    np.testing.assert_array_equal(composite(a, fg, bg)[..., 0], a)
