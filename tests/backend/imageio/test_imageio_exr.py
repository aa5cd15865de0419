"""EXR read/write against real files: windows, pixel types, metadata, compressions, atomicity."""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from sam2matting.backend.imageio import exr
from sam2matting.backend.imageio.compression import check_compression
from sam2matting.backend.imageio.exr import Window, encode_exr, read_exr, write_exr
from sam2matting.protocol import atomic
from sam2matting.protocol.errors import ErrorCode, ProtocolError

RNG = np.random.default_rng(7)
LOSSLESS = {"none", "rle", "zips", "zip", "piz", "zstd"}


def _planes(height: int = 24, width: int = 32, names: str = "RGBA") -> dict:
    return {n: RNG.random((height, width), dtype=np.float32) for n in names}


@pytest.mark.parametrize("pixel_type", ["float", "half"])
@pytest.mark.parametrize("names", ["RGB", "RGBA", "Y"])
def test_round_trip_pixel_types(tmp_path: Path, pixel_type: str, names: str) -> None:
    planes = _planes(names=names)
    path = tmp_path / "img.exr"
    write_exr(path, planes, pixel_type=pixel_type)
    image = read_exr(path)
    assert sorted(image.channels) == sorted(names)
    dtype = np.float32 if pixel_type == "float" else np.float16
    for name, plane in planes.items():
        back = image.channels[name]
        assert back.dtype == np.float32
        np.testing.assert_array_equal(back, plane.astype(dtype).astype(np.float32))
        assert image.pixel_types[name] == pixel_type
    assert (image.width, image.height) == (32, 24)


def test_metadata_and_layer_names_round_trip(tmp_path: Path) -> None:
    planes = {"A": np.ones((4, 5), np.float32), "obj1.A": np.zeros((4, 5), np.float32)}
    meta = {"sam2matting/shot": "sh010", "sam2matting/objects": '{"1": "hero"}'}
    path = tmp_path / "m.exr"
    write_exr(path, planes, metadata=meta)
    image = read_exr(path)
    assert set(image.channels) == {"A", "obj1.A"}
    assert image.metadata == meta
    assert exr.read_exr_metadata(path) == meta


def test_uint_channel_becomes_float(tmp_path: Path) -> None:
    ids = np.arange(20, dtype=np.uint32).reshape(4, 5) * 1000
    write_exr(tmp_path / "id.exr", {"id": ids})
    image = read_exr(tmp_path / "id.exr")
    assert image.pixel_types["id"] == "uint"
    np.testing.assert_array_equal(image.channels["id"], ids.astype(np.float32))


def test_data_window_smaller_and_offset(tmp_path: Path) -> None:
    data = RNG.random((3, 4), dtype=np.float32)
    write_exr(
        tmp_path / "w.exr",
        {"R": data},
        data_window=Window(5, 2, 8, 4),
        display_window=Window.of_size(10, 8),
    )
    image = read_exr(tmp_path / "w.exr")
    plane = image.channels["R"]
    assert plane.shape == (8, 10)
    np.testing.assert_array_equal(plane[2:5, 5:9], data)
    outside = plane.copy()
    outside[2:5, 5:9] = 0
    assert not outside.any()
    assert image.data_window == Window(5, 2, 8, 4)


def test_data_window_larger_is_cropped(tmp_path: Path) -> None:
    # 4 pixels of overscan on every side of a 6x5 format.
    data = RNG.random((13, 14), dtype=np.float32)
    write_exr(
        tmp_path / "o.exr",
        {"R": data},
        data_window=Window(-4, -4, 9, 8),
        display_window=Window.of_size(6, 5),
    )
    plane = read_exr(tmp_path / "o.exr").channels["R"]
    assert plane.shape == (5, 6)
    np.testing.assert_array_equal(plane, data[4:9, 4:10])


def test_data_window_outside_display_reads_as_zero(tmp_path: Path) -> None:
    write_exr(
        tmp_path / "d.exr",
        {"R": np.ones((2, 2), np.float32)},
        data_window=Window(20, 20, 21, 21),
        display_window=Window.of_size(8, 8),
    )
    plane = read_exr(tmp_path / "d.exr").channels["R"]
    assert plane.shape == (8, 8)
    assert not plane.any()


def test_display_window_with_offset_origin(tmp_path: Path) -> None:
    data = RNG.random((4, 4), dtype=np.float32)
    write_exr(
        tmp_path / "n.exr",
        {"R": data},
        data_window=Window(-2, -2, 1, 1),
        display_window=Window(-1, -1, 2, 2),
    )
    plane = read_exr(tmp_path / "n.exr").channels["R"]
    expected = np.zeros((4, 4), np.float32)
    expected[0:3, 0:3] = data[1:4, 1:4]
    np.testing.assert_array_equal(plane, expected)


def test_supported_compressions_are_probed() -> None:
    names = exr.supported_compressions()
    baseline = ["none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab"]
    assert [n for n in names if n in baseline] == baseline
    assert check_compression("ZIP") == "zip"
    if "htj2k256" in names:
        assert check_compression("htj2k") == "htj2k256"


@pytest.mark.parametrize("compression", exr.supported_compressions())
def test_every_compression_round_trips(compression: str) -> None:
    planes = _planes(height=40, width=48, names="RGBA")
    back = read_exr(encode_exr(planes, compression=compression))
    assert back.compression == compression
    lossless = compression in LOSSLESS or compression.startswith("htj2k")
    for name, plane in planes.items():
        if lossless:
            np.testing.assert_array_equal(back.channels[name], plane)
        else:  # pxr24 keeps 24 bits of float; DWA and B44 are lossy on colour channels
            assert np.abs(back.channels[name] - plane).max() < 0.05


def test_lossless_compression_keeps_half_exactly() -> None:
    planes = {"A": RNG.random((16, 16), dtype=np.float32)}
    back = read_exr(encode_exr(planes, compression="piz", pixel_type="half"))
    expected = planes["A"].astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(back.channels["A"], expected)


def test_unknown_compression_is_invalid_field() -> None:
    with pytest.raises(ProtocolError) as info:
        encode_exr({"A": np.zeros((2, 2), np.float32)}, compression="lzma")
    assert info.value.code == ErrorCode.INVALID_FIELD
    assert "zip" in info.value.hint


def test_reserved_metadata_key_refused() -> None:
    with pytest.raises(ValueError, match="reserved"):
        encode_exr({"A": np.zeros((2, 2), np.float32)}, metadata={"compression": "x"})


def test_mismatched_channel_shapes_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        encode_exr({"A": np.zeros((2, 2), np.float32), "B": np.zeros((3, 2), np.float32)})


# ---------------------------------------------------------------- bad input


CORRUPT = [b"", b"garbage" * 20, b"\x76\x2f\x31\x01" + b"\x00" * 40]


@pytest.mark.parametrize("blob", CORRUPT, ids=["empty", "junk", "magic"])
def test_corrupt_bytes_are_bad_image(blob: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        read_exr(blob)
    assert info.value.code == ErrorCode.BAD_IMAGE


def test_truncated_file_is_bad_image() -> None:
    data = encode_exr(_planes(64, 64))
    with pytest.raises(ProtocolError) as info:
        read_exr(data[: len(data) - 200])
    assert info.value.code == ErrorCode.BAD_IMAGE


def test_missing_file_is_bad_image(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError) as info:
        read_exr(tmp_path / "nope.exr")
    assert info.value.code == ErrorCode.BAD_IMAGE
    assert "not found" in info.value.message


def _with_windows(data: bytes, window: tuple) -> bytes:
    """Rewrite both window attributes of an EXR header, as a crafted file would."""
    out = bytearray(data)
    for attr in (b"dataWindow\x00box2i\x00", b"displayWindow\x00box2i\x00"):
        at = out.index(attr) + len(attr) + 4  # skip the attribute's size field
        out[at : at + 16] = struct.pack("<4i", *window)
    return bytes(out)


def test_crafted_huge_window_refused_before_allocating() -> None:
    small = encode_exr({"R": np.zeros((4, 4), np.float32)})
    crafted = _with_windows(small, (0, 0, 199_999, 199_999))
    with pytest.raises(ProtocolError) as info:
        read_exr(crafted)
    assert info.value.code == ErrorCode.BAD_IMAGE
    assert "200000x200000 exceeds" in info.value.message


def test_max_pixels_limit() -> None:
    data = encode_exr({"R": np.zeros((10, 10), np.float32)})
    assert read_exr(data, max_pixels=100).width == 10
    with pytest.raises(ProtocolError) as info:
        read_exr(data, max_pixels=99)
    assert "exceeds" in info.value.message


# ---------------------------------------------------------------- atomic writes


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "m.exr"
    write_exr(path, {"A": np.ones((4, 4), np.float32)})
    before = path.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="cannot write") as info:
        write_exr(path, {"A": np.zeros((4, 4), np.float32)})
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.exr"]


def test_disk_full_maps_to_disk_full_and_removes_temp(tmp_path: Path, monkeypatch) -> None:
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fh) -> None:
            self._fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self._fh.close()

        def write(self, data: bytes) -> int:
            self._fh.write(data[:10])  # part of the file reaches the disk, then it is full
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(ProtocolError) as info:
        write_exr(tmp_path / "m.exr", {"A": np.ones((8, 8), np.float32)})
    assert info.value.code == ErrorCode.DISK_FULL
    assert list(tmp_path.iterdir()) == []


def test_written_file_is_readable_by_others(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic.atomic_write_bytes(tmp_path / "f.bin", b"abc")
    finally:
        os.umask(old)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o644


def test_stale_temp_files_cleaned_young_ones_kept(tmp_path: Path) -> None:
    stale = tmp_path / ".matte.1001.exr.abc123.tmp"
    young = tmp_path / ".matte.1002.exr.def456.tmp"
    other = tmp_path / "matte.1003.exr"
    for p in (stale, young, other):
        p.write_bytes(b"x")
    old = stale.stat().st_mtime - 3600
    os.utime(stale, (old, old))
    assert atomic.clean_stale_temp_files(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([young.name, other.name])
