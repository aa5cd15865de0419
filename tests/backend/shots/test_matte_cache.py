"""MatteCache on real EXR files: naming, merging objects, invalidation, metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from sam2matting.backend.imageio.exr import Window, read_exr
from sam2matting.backend.shots.matte_cache import MatteCache
from sam2matting.protocol.errors import ErrorCode, ProtocolError

H, W = 10, 14
RNG = np.random.default_rng(5)


def _alpha() -> np.ndarray:
    return RNG.random((H, W), dtype=np.float32)


@pytest.mark.parametrize(
    ("first", "last", "frame", "name", "hashes"),
    [
        (1001, 1100, 1001, "matte.1001.exr", "####"),
        (1, 99, 7, "matte.0007.exr", "####"),
        (1001, 10001, 1001, "matte.01001.exr", "#####"),
        (1001, 10001, 10001, "matte.10001.exr", "#####"),
        (-10, 10, -5, "matte.-005.exr", "####"),
        (-12345, 0, -12345, "matte.-12345.exr", "#####"),
    ],
)
def test_naming_and_padding(tmp_path: Path, first, last, frame, name, hashes) -> None:
    cache = MatteCache(tmp_path, "sh010", first, last)
    assert cache.path(frame) == tmp_path / "matte" / name
    assert cache.pattern == str(tmp_path / "matte" / f"matte.{hashes}.exr")
    assert "%" not in cache.pattern


def test_frames_are_parsed_numbers(tmp_path: Path) -> None:
    cache = MatteCache(tmp_path, "sh010", -20, 10001)
    for frame in (10001, 999, -3, 1000, 2):
        cache.write(frame, {1: _alpha()}, {1: "hero"})
    (tmp_path / "matte" / "notes.txt").write_text("not a matte")
    assert cache.frames() == [-3, 2, 999, 1000, 10001]


def test_write_combines_objects_and_keeps_float_precision(tmp_path: Path) -> None:
    cache = MatteCache(tmp_path, "sh010", 1001, 1100)
    a, b = _alpha(), _alpha()
    meta = {"tracker": "sam2.1_hiera_b+", "engine": "closed_form", "revision": "7"}
    path = cache.write(1001, {1: a, 2: b}, {1: "hero", 2: "dog"}, meta)
    channels = read_exr(path).channels
    assert set(channels) == {"A", "obj1.A", "obj2.A"}
    np.testing.assert_array_equal(channels["obj1.A"], a)  # float32, bit for bit
    np.testing.assert_array_equal(channels["A"], np.maximum(a, b))
    got = cache.metadata(1001)
    assert got["sam2matting/shot"] == "sh010"
    assert got["sam2matting/frame"] == "1001"
    assert got["sam2matting/tracker"] == "sam2.1_hiera_b+"
    assert got["sam2matting/revision"] == "7"
    assert json.loads(got["sam2matting/objects"]) == {"1": "hero", "2": "dog"}


def test_writing_one_object_merges_with_the_others(tmp_path: Path) -> None:
    cache = MatteCache(tmp_path, "sh010", 1001, 1100)
    a, b, a2 = _alpha(), _alpha(), _alpha() * 0.5
    cache.write(1001, {1: a}, {1: "hero"})
    cache.write(1001, {2: b}, {2: "dog"})
    cache.write(1001, {1: a2}, {})  # re-track object 1 only
    objects = cache.read_objects(1001)
    np.testing.assert_array_equal(objects[1], a2)
    np.testing.assert_array_equal(objects[2], b)
    np.testing.assert_array_equal(cache.read(1001)["A"], np.maximum(a2, b))
    assert json.loads(cache.metadata(1001)["sam2matting/objects"]) == {"1": "hero", "2": "dog"}


def test_alpha_is_clipped_and_nan_free(tmp_path: Path) -> None:
    cache = MatteCache(tmp_path, "sh010", 1, 10)
    alpha = np.full((H, W), 1.5, np.float32)
    alpha[0, 0], alpha[0, 1] = np.nan, -0.2
    cache.write(1, {1: alpha}, {1: "x"})
    back = cache.read(1)["obj1.A"]
    assert back[0, 0] == 0.0
    assert back[0, 1] == 0.0
    assert back.max() == 1.0


def test_invalidate_objects_and_whole_frames(tmp_path: Path) -> None:
    cache = MatteCache(tmp_path, "sh010", 1001, 1100)
    for frame in (1001, 1002, 1003):
        cache.write(frame, {1: _alpha(), 2: _alpha()}, {1: "hero", 2: "dog"})
    cache.write(1004, {2: _alpha()}, {2: "dog"})
    assert cache.invalidate([1001, 1002, 1004, 1050], obj_ids=[1]) == [1001, 1002]
    assert set(cache.read(1001)) == {"A", "obj2.A"}
    np.testing.assert_array_equal(cache.read(1001)["A"], cache.read(1001)["obj2.A"])
    assert json.loads(cache.metadata(1001)["sam2matting/objects"]) == {"2": "dog"}
    assert cache.invalidate([1001, 1004], obj_ids=[2]) == [1001, 1004]
    assert cache.frames() == [1002, 1003]  # files with no object left are gone
    assert cache.invalidate([1003]) == [1003]
    assert cache.frames() == [1002]


def test_errors(tmp_path: Path) -> None:
    cache = MatteCache(tmp_path, "sh010", 1001, 1100)
    with pytest.raises(ProtocolError) as info:
        cache.write(1101, {1: _alpha()}, {})
    assert info.value.code == ErrorCode.FRAME_OUT_OF_RANGE
    with pytest.raises(ProtocolError) as info:
        cache.read(1001)
    assert info.value.code == ErrorCode.FRAME_MISSING
    cache.write(1001, {1: _alpha()}, {})
    with pytest.raises(ValueError, match="different sizes"):
        cache.write(1001, {2: np.zeros((H + 1, W), np.float32)}, {})
    with pytest.raises(ProtocolError) as info:
        MatteCache(tmp_path, "sh010", 1001, 1100, compression="gzip9")
    assert info.value.code == ErrorCode.INVALID_FIELD


def test_compression_is_used(tmp_path: Path) -> None:
    cache = MatteCache(tmp_path, "sh010", 1, 2, compression="piz")
    cache.write(1, {1: _alpha()}, {})
    assert read_exr(cache.path(1)).compression == "piz"


def test_stale_temp_files_cleaned_on_open(tmp_path: Path) -> None:
    folder = tmp_path / "matte"
    folder.mkdir()
    stale = folder / ".matte.1001.exr.0a1b2c.tmp"
    stale.write_bytes(b"half a file")
    old = stale.stat().st_mtime - 3600
    os.utime(stale, (old, old))
    MatteCache(tmp_path, "sh010", 1001, 1100)
    assert not stale.exists()


def test_data_window_is_the_box_around_alpha(tmp_path: Path) -> None:
    cache = MatteCache(tmp_path, "sh010", 1, 10)
    small, other = np.zeros((H, W), np.float32), np.zeros((H, W), np.float32)
    small[2:4, 3:6] = 0.25
    other[7, 9] = 1.0
    cache.write(1, {1: small, 2: other}, {})
    image = read_exr(cache.path(1))
    assert image.data_window == Window(3, 2, 9, 7)
    assert image.display_window == Window.of_size(W, H)
    np.testing.assert_array_equal(image.channels["obj1.A"], small)
    np.testing.assert_array_equal(image.channels["A"], np.maximum(small, other))
    cache.write(2, {1: np.zeros((H, W), np.float32)}, {})
    empty = read_exr(cache.path(2))
    assert empty.data_window == Window(0, 0, 0, 0)
    assert empty.channels["A"].shape == (H, W)
    assert not empty.channels["A"].any()
