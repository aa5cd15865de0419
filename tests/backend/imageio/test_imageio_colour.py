"""Colour conversion to display-referred sRGB against published values and OCIO."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sam2matting.backend.imageio import colour
from sam2matting.backend.imageio.colour import ColourConverter
from sam2matting.protocol.errors import ErrorCode, ProtocolError

NO_ENV: dict = {}


def _pixel(*rgb: float) -> np.ndarray:
    return np.array([[rgb]], dtype=np.float32)


def _convert(name: str, *rgb: float) -> np.ndarray:
    return ColourConverter(name, environ=NO_ENV)(_pixel(*rgb))[0, 0]


@pytest.mark.parametrize(
    "name", ["scene_linear", "linear", "lin_rec709", "lin_srgb", "Lin_Rec.709"]
)
def test_linear_mid_grey_to_srgb(name: str) -> None:
    # 0.18 linear is 0.4614 in sRGB (1.055 * 0.18 ** (1 / 2.4) - 0.055).
    np.testing.assert_allclose(_convert(name, 0.18, 0.18, 0.18), 0.46142, atol=3e-4)


def test_linear_clips_highlights_negatives_and_nan() -> None:
    out = ColourConverter("linear", environ=NO_ENV)(_pixel(4.0, -0.5, float("nan")))
    np.testing.assert_array_equal(out[0, 0], [1.0, 0.0, 0.0])
    negative_nan = np.copysign(np.float32("nan"), np.float32(-1.0))
    out = ColourConverter("acescg", environ=NO_ENV)(_pixel(float("inf"), negative_nan, 0.0))
    assert not np.isnan(out).any()
    assert out.dtype == np.float32


def test_lut_matches_the_exact_curve() -> None:
    values = np.random.default_rng(0).random((200, 500, 3), dtype=np.float32)
    fast = ColourConverter("linear", environ=NO_ENV)(values)
    exact = colour.srgb_oetf(values.astype(np.float64))
    assert np.abs(fast - exact).max() < 2e-4


# ACEScg (AP1) -> linear Rec.709, Bradford D60 -> D65, as published in the ACES/OCIO configs.
AP1_TO_709 = np.array(
    [
        [1.70505, -0.62179, -0.08326],
        [-0.13026, 1.14080, -0.01055],
        [-0.02400, -0.12897, 1.15297],
    ]
)


def test_acescg_matrix_matches_published_values() -> None:
    np.testing.assert_allclose(colour._to_rec709_matrix(colour._AP1), AP1_TO_709, atol=1e-4)


@pytest.mark.parametrize("name", ["ACEScg", "ACES2065-1", "aces2065_1"])
def test_aces_white_and_grey_stay_neutral(name: str) -> None:
    np.testing.assert_allclose(_convert(name, 1.0, 1.0, 1.0), 1.0, atol=1e-4)
    np.testing.assert_allclose(_convert(name, 0.18, 0.18, 0.18), 0.46142, atol=5e-4)


def test_acescg_primary_is_out_of_gamut_and_clipped() -> None:
    # AP1 red is (1.705, -0.130, -0.024) in linear Rec.709: more saturated than sRGB can show.
    np.testing.assert_allclose(_convert("acescg", 1.0, 0.0, 0.0), [1.0, 0.0, 0.0], atol=1e-6)
    # A skin-like colour inside both gamuts: matrix, then the sRGB curve.
    rgb = np.array([0.3, 0.25, 0.2])
    expected = colour.srgb_oetf(AP1_TO_709 @ rgb)
    assert (AP1_TO_709 @ rgb > 0).all()
    np.testing.assert_allclose(_convert("acescg", *rgb), expected, atol=5e-4)


@pytest.mark.parametrize("name", ["srgb", "sRGB", "srgb_texture", "raw", "data"])
def test_encoded_and_raw_pass_through(name: str) -> None:
    np.testing.assert_allclose(_convert(name, 0.25, 0.5, 0.75), [0.25, 0.5, 0.75], atol=1e-7)
    np.testing.assert_array_equal(_convert(name, 1.5, -1.0, 0.5), [1.0, 0.0, 0.5])


def test_rec709_decoded_then_srgb_encoded() -> None:
    v = 0.5
    linear = ((v + 0.099) / 1.099) ** (1 / 0.45)
    expected = 1.055 * linear ** (1 / 2.4) - 0.055
    np.testing.assert_allclose(_convert("rec709", v, v, v), expected, atol=3e-4)
    # Both linear segments: 0.01 / 4.5 is below the sRGB toe (0.0031308).
    np.testing.assert_allclose(_convert("Rec.709", 0.01, 0.01, 0.01), 12.92 * 0.01 / 4.5, atol=1e-4)


def test_unknown_colourspace_without_ocio_names_builtins() -> None:
    with pytest.raises(ProtocolError) as info:
        ColourConverter("Arri LogC4", environ=NO_ENV)
    assert info.value.code == ErrorCode.INVALID_FIELD
    assert "acescg" in info.value.hint
    assert "OCIO" in info.value.hint


def test_shape_is_checked() -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        ColourConverter("linear", environ=NO_ENV)(np.zeros((2, 2, 4), np.float32))


# ---------------------------------------------------------------- OCIO


@pytest.fixture
def ocio():
    return pytest.importorskip("PyOpenColorIO", reason="PyOpenColorIO not installed")


def test_ocio_builtin_config_uri(ocio) -> None:
    converter = ColourConverter("ACEScg", ocio_config="ocio://cg-config-latest")
    assert converter.uses_ocio
    out = converter(_pixel(0.18, 0.18, 0.18))
    np.testing.assert_allclose(out[0, 0], 0.46142, atol=1e-3)


def test_ocio_config_file_and_environment(ocio, tmp_path: Path) -> None:
    config = ocio.Config.CreateFromFile("ocio://cg-config-latest")
    path = tmp_path / "config.ocio"
    path.write_text(config.serialize(), encoding="utf-8")
    # A colourspace no built-in knows, named as the config names it.
    converter = ColourConverter("Linear P3-D65", environ={"OCIO": str(path)})
    assert converter.uses_ocio
    grey = converter(_pixel(0.18, 0.18, 0.18))
    np.testing.assert_allclose(grey[0, 0], 0.46142, atol=1e-3)
    with pytest.raises(ProtocolError) as info:
        ColourConverter("No Such Space", ocio_config=path)
    assert info.value.code == ErrorCode.INVALID_FIELD


def test_ocio_display_view_when_no_color_picking_role(ocio, tmp_path: Path) -> None:
    config = ocio.Config.CreateRaw()
    assert not config.hasRole("color_picking")
    config.addDisplayView("sRGB", "Raw", "raw")
    path = tmp_path / "raw.ocio"
    path.write_text(config.serialize(), encoding="utf-8")
    converter = ColourConverter("raw", ocio_config=path)
    assert converter.uses_ocio
    np.testing.assert_allclose(converter(_pixel(0.3, 2.0, -1.0))[0, 0], [0.3, 1.0, 0.0], atol=1e-6)


def test_broken_ocio_config_is_invalid_field(ocio, tmp_path: Path) -> None:
    path = tmp_path / "broken.ocio"
    path.write_text("not: [a config", encoding="utf-8")
    with pytest.raises(ProtocolError) as info:
        ColourConverter("linear", ocio_config=path)
    assert info.value.code == ErrorCode.INVALID_FIELD


def test_without_pyopencolorio(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "PyOpenColorIO", None)  # import now fails
    builtin = ColourConverter("acescg", ocio_config="ocio://cg-config-latest")
    assert not builtin.uses_ocio
    with pytest.raises(ProtocolError) as info:
        ColourConverter("Linear P3-D65", ocio_config="ocio://cg-config-latest")
    assert "pip install opencolorio" in info.value.message
