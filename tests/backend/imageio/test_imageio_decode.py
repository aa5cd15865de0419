"""Decoding real PNG/TIFF/JPEG/EXR files and raw buffers into float RGB."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2matting.backend.imageio import headers
from sam2matting.backend.imageio.decode import decode_image, decode_raw, image_size
from sam2matting.backend.imageio.exr import encode_exr, write_exr
from sam2matting.protocol.errors import ErrorCode, ProtocolError

RNG = np.random.default_rng(3)


def _encode(ext: str, array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, array)
    assert ok
    return buf.tobytes()


def _rgb_u8(height: int = 6, width: int = 7) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_png_8bit_rgb_order_and_scale() -> None:
    rgb = _rgb_u8()
    rgb[0, 0] = (255, 0, 0)  # pure red, top-left
    data = _encode(".png", rgb[:, :, ::-1])  # OpenCV writes BGR
    image = decode_image(data, "png")
    assert image.display_referred
    assert image.alpha is None
    np.testing.assert_allclose(image.rgb, rgb / 255.0, atol=1e-7)
    np.testing.assert_array_equal(image.rgb[0, 0], [1.0, 0.0, 0.0])


def test_png_16bit_with_alpha() -> None:
    rgba = RNG.integers(0, 65536, (5, 4, 4), dtype=np.uint16)
    data = _encode(".png", rgba[:, :, [2, 1, 0, 3]])
    image = decode_image(data, None)  # told apart by its signature
    np.testing.assert_allclose(image.rgb, rgba[:, :, :3] / 65535.0, atol=1e-7)
    assert image.alpha is not None
    np.testing.assert_allclose(image.alpha, rgba[:, :, 3] / 65535.0, atol=1e-7)


def test_png_grey_is_replicated() -> None:
    grey = RNG.integers(0, 256, (3, 5), dtype=np.uint8)
    image = decode_image(_encode(".png", grey), "png")
    for c in range(3):
        np.testing.assert_allclose(image.rgb[:, :, c], grey / 255.0, atol=1e-7)


def test_tiff_16bit(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    path = tmp_path / "plate.tif"
    path.write_bytes(_encode(".tiff", rgb[:, :, ::-1]))
    image = decode_image(path)
    assert (image.width, image.height) == (11, 9)
    np.testing.assert_allclose(image.rgb, rgb / 65535.0, atol=1e-7)
    assert image_size(path) == (11, 9)


def test_davis_jpeg(shared_data: Path) -> None:
    path = shared_data / "davis" / "JPEGImages" / "480p" / "libby" / "00000.jpg"
    image = decode_image(path, "jpeg")
    assert (image.width, image.height) == (854, 480)
    expected = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, :, ::-1] / 255.0
    np.testing.assert_allclose(image.rgb, expected, atol=1e-7)
    assert image.display_referred
    assert image_size(path) == (854, 480)
    assert image_size(path.read_bytes(), "jpeg") == (854, 480)


def test_exr_rgb_and_alpha(tmp_path: Path) -> None:
    planes = {c: RNG.random((4, 6), dtype=np.float32) * 4 for c in "RGBA"}
    planes["Z"] = np.ones((4, 6), np.float32)  # ignored
    path = tmp_path / "plate.exr"
    write_exr(path, planes)
    image = decode_image(path)
    assert not image.display_referred
    np.testing.assert_array_equal(image.rgb, np.stack([planes[c] for c in "RGB"], axis=-1))
    np.testing.assert_array_equal(image.alpha, planes["A"])
    assert image_size(path) == (6, 4)


def test_exr_luminance_only() -> None:
    y = RNG.random((3, 3), dtype=np.float32)
    image = decode_image(encode_exr({"Y": y}), "exr")
    np.testing.assert_array_equal(image.rgb, np.stack([y, y, y], axis=-1))


def test_exr_without_colour_channels_is_bad_image() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_image(encode_exr({"Z": np.zeros((2, 2), np.float32)}), "exr")
    assert info.value.code == ErrorCode.BAD_IMAGE


# ---------------------------------------------------------------- raw buffers


def test_raw_uint8_both_origins() -> None:
    rgb = _rgb_u8(4, 5)
    top = decode_raw(rgb.tobytes(), "uint8", [4, 5, 3], ["R", "G", "B"], "top_left")
    bottom = decode_raw(rgb.tobytes(), "uint8", [4, 5, 3], ["R", "G", "B"], "bottom_left")
    np.testing.assert_allclose(top.rgb, rgb / 255.0, atol=1e-7)
    np.testing.assert_array_equal(bottom.rgb, top.rgb[::-1])
    assert top.display_referred


def test_raw_float16_rgba_with_nuke_channel_names() -> None:
    rgba = RNG.random((3, 4, 4)).astype(np.float16)
    names = ["rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"]
    image = decode_raw(rgba.tobytes(), "float16", [3, 4, 4], names)
    np.testing.assert_array_equal(image.rgb, rgba[:, :, :3].astype(np.float32))
    np.testing.assert_array_equal(image.alpha, rgba[:, :, 3].astype(np.float32))
    assert not image.display_referred


def test_raw_channel_order_follows_names() -> None:
    bgr = RNG.random((2, 3, 3)).astype(np.float32)
    image = decode_raw(bgr.tobytes(), "float32", [2, 3, 3], ["B", "G", "R"])
    np.testing.assert_array_equal(image.rgb, bgr[:, :, ::-1])


def test_raw_uint16_single_channel() -> None:
    grey = RNG.integers(0, 65536, (2, 3), dtype=np.uint16)
    image = decode_raw(grey.tobytes(), "uint16", [2, 3])
    np.testing.assert_allclose(image.rgb[:, :, 1], grey / 65535.0, atol=1e-7)


def test_raw_wrong_length_names_both_sizes() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_raw(b"\x00" * 10, "float32", [2, 2, 3])
    assert info.value.code == ErrorCode.BAD_IMAGE
    assert "10 bytes" in info.value.message
    assert "48 bytes" in info.value.message


@pytest.mark.parametrize(
    ("dtype", "shape", "channels", "origin"),
    [
        ("int8", [1, 1, 3], None, "top_left"),
        ("uint8", [1, 1, 3], None, "sideways"),
        ("uint8", [1, 1, 3], ["R", "G"], "top_left"),
        ("uint8", [1, 1, 3], ["X", "Y2", "Z"], "top_left"),
        ("uint8", [0, 1, 3], None, "top_left"),
    ],
)
def test_raw_bad_descriptions(dtype, shape, channels, origin) -> None:
    count = int(np.prod(shape))
    with pytest.raises(ProtocolError) as info:
        decode_raw(b"\x00" * count, dtype, shape, channels, origin)
    assert info.value.code == ErrorCode.BAD_IMAGE


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("encoding", [None, "png", "jpeg", "tiff", "exr"])
def test_garbage_is_bad_image(encoding) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_image(b"this is not an image at all" * 4, encoding)
    assert info.value.code == ErrorCode.BAD_IMAGE


def test_truncated_png_is_bad_image() -> None:
    data = _encode(".png", _rgb_u8(64, 64))
    with pytest.raises(ProtocolError) as info:
        decode_image(data[: len(data) // 2], "png")
    assert info.value.code == ErrorCode.BAD_IMAGE


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims a huge size, with no pixels behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def test_oversized_header_refused_before_decoding() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_image(_png_claiming(100_000, 100_000), "png")
    assert "100000x100000 exceeds" in info.value.message
    small = _encode(".png", _rgb_u8(10, 10))
    with pytest.raises(ProtocolError):
        decode_image(small, "png", max_pixels=99)


def test_missing_file_is_bad_image(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_image(tmp_path / "nope.png")
    assert info.value.code == ErrorCode.BAD_IMAGE


def test_big_endian_tiff_header() -> None:
    # A minimal big-endian TIFF directory: ImageWidth (SHORT) 300, ImageLength (LONG) 200.
    entries = struct.pack(">HHII", 256, 3, 1, 300 << 16) + struct.pack(">HHII", 257, 4, 1, 200)
    blob = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 2) + entries + b"\x00" * 4
    assert headers.sniff(blob) == "tiff"
    assert headers.image_size(blob, "tiff", "t") == (300, 200)
