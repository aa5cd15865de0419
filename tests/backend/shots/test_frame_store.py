"""FrameStore on real files: validation, allowed roots, restart, LRU bound, threads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest
import torch

from sam2matting.backend.imageio.colour import ColourConverter, srgb_oetf
from sam2matting.backend.imageio.decode import decode_raw
from sam2matting.backend.imageio.exr import write_exr
from sam2matting.backend.shots.frame_store import FrameStore
from sam2matting.protocol.errors import ErrorCode, ProtocolError

W, H = 16, 12
RNG = np.random.default_rng(11)


def _store(root: Path, **kwargs) -> FrameStore:
    kwargs.setdefault("allowed_roots", ())
    return FrameStore(root, 1001, 1010, W, H, **kwargs)


def _raw(rgb: np.ndarray, origin: str = "top_left") -> tuple:
    desc = {
        "encoding": "raw",
        "dtype": "float32",
        "shape": list(rgb.shape),
        "channels": ["R", "G", "B"],
        "colourspace": "scene_linear",
        "origin": origin,
    }
    return rgb.astype(np.float32).tobytes(), desc


def _png(rgb_u8: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", rgb_u8[:, :, ::-1])
    assert ok
    return buf.tobytes()


def _linear(value: float = -1.0) -> np.ndarray:
    if value >= 0:
        return np.full((H, W, 3), value, np.float32)
    return RNG.random((H, W, 3), dtype=np.float32)


def _code(call) -> ErrorCode:
    with pytest.raises(ProtocolError) as info:
        call()
    return info.value.code


def test_frame_source_protocol(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.num_frames == 10
    assert store.size == (W, H)


def test_raw_linear_frame_is_converted_to_srgb(tmp_path: Path) -> None:
    store = _store(tmp_path)
    linear = _linear()
    store.put_image(1003, *_raw(linear))
    out = store.rgb(2)
    assert out.dtype == torch.float32
    assert out.shape == (3, H, W)
    # Converted through the sRGB table: well inside one 8-bit step.
    expected = srgb_oetf(linear.astype(np.float64)).transpose(2, 0, 1)
    np.testing.assert_allclose(out.numpy(), expected, atol=5e-4)
    assert store.has(1003)
    assert store.frames() == [1003]
    assert (tmp_path / "plate" / "plate.1003.raw").is_file()


@pytest.mark.parametrize("dtype", ["float32", "float16", "uint16"])
def test_raw_frame_is_stored_as_sent_and_read_back_bit_exact(tmp_path: Path, dtype: str) -> None:
    store = _store(tmp_path)
    rgba = (RNG.random((H, W, 4)) * (1000 if dtype == "uint16" else 1)).astype(dtype)
    rgba[0, 0, :3] = 1 + 2**-20  # not a half-float value: a re-encoded plate would lose it
    data = rgba.tobytes()
    desc = {"encoding": "raw", "dtype": dtype, "shape": [H, W, 4], "channels": list("RGBA")}
    store.put_image(1001, data, desc)
    stored = tmp_path / "plate" / "plate.1001.raw"
    assert stored.read_bytes() == data  # as sent, not re-encoded
    entry = json.loads((tmp_path / "plate" / "refs.json").read_text())["frames"]["1001"]
    assert (entry["dtype"], entry["shape"], entry["channels"]) == (dtype, [H, W, 4], list("RGBA"))
    sent = decode_raw(data, dtype, [H, W, 4], list("RGBA"))  # the pixels as the host sent them
    converter = ColourConverter("srgb" if dtype == "uint16" else "scene_linear")
    expected = converter(sent.rgb).transpose(2, 0, 1)
    for reader in (store, _store(tmp_path)):  # and after a restart
        np.testing.assert_array_equal(reader.rgb(0).numpy(), expected)


def test_version_1_plate_index_is_still_read(tmp_path: Path) -> None:
    plate = tmp_path / "plate"
    plate.mkdir()
    _exr_plate(plate / "plate.1001.exr", value=0.25)
    frames = {"1001": {"file": "plate.1001.exr", "encoding": "exr", "origin": "top_left"}}
    index = {"format": "sam2matting-plate-refs", "version": 1, "width": W, "height": H}
    (plate / "refs.json").write_text(json.dumps(dict(index, frames=frames)))
    store = _store(tmp_path)
    assert store.frames() == [1001]
    np.testing.assert_allclose(store.rgb(0).numpy(), srgb_oetf(np.full((3, H, W), 0.25)), atol=1e-3)
    store.put_image(1002, *_raw(_linear()))  # the next save writes version 2, keeping 1001
    saved = json.loads((plate / "refs.json").read_text())
    assert saved["version"] == 2
    assert saved["frames"]["1001"] == frames["1001"]
    assert _store(tmp_path).frames() == [1001, 1002]


def test_one_put_of_many_frames_saves_the_index_once(tmp_path: Path, monkeypatch) -> None:
    store = _store(tmp_path)
    saves = []
    real = store._index.save
    monkeypatch.setattr(store._index, "save", lambda entries: (saves.append(1), real(entries)))
    store.store([store.prepare_image(f, *_raw(_linear())) for f in (1001, 1002, 1003)])
    assert len(saves) == 1
    assert store.frames() == [1001, 1002, 1003]


def test_png_is_stored_verbatim_and_taken_as_srgb(tmp_path: Path) -> None:
    store = _store(tmp_path)
    rgb = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    data = _png(rgb)
    store.put_image(1001, data, {"encoding": "png", "colourspace": None})
    assert (tmp_path / "plate" / "plate.1001.png").read_bytes() == data
    np.testing.assert_allclose(store.rgb(0).numpy(), rgb.transpose(2, 0, 1) / 255.0, atol=1e-6)


def test_bottom_left_origin_is_flipped(tmp_path: Path) -> None:
    store = _store(tmp_path)
    linear = _linear()
    store.put_image(1001, *_raw(linear, "top_left"))
    store.put_image(1002, *_raw(linear, "bottom_left"))
    np.testing.assert_array_equal(store.rgb(1).numpy(), store.rgb(0).numpy()[:, ::-1, :])


def test_davis_jpeg_frames(tmp_path: Path, shared_data: Path) -> None:
    folder = shared_data / "davis" / "JPEGImages" / "480p" / "car-shadow"
    store = FrameStore(tmp_path, 0, 2, 854, 480, allowed_roots=(shared_data,))
    store.put_image(0, (folder / "00000.jpg").read_bytes(), {"encoding": "jpeg"})
    store.put_path(1, folder / "00001.jpg")
    for index, name in enumerate(["00000.jpg", "00001.jpg"]):
        expected = cv2.imread(str(folder / name))[:, :, ::-1].transpose(2, 0, 1) / 255.0
        np.testing.assert_allclose(store.rgb(index).numpy(), expected, atol=1e-6)
    assert store.missing() == [2]


def test_size_mismatch_names_both_sizes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(ProtocolError) as info:
        store.put_image(1001, *_raw(np.zeros((H, W + 1, 3), np.float32)))
    assert info.value.code == ErrorCode.FRAME_SIZE_MISMATCH
    assert f"{W + 1}x{H}" in info.value.message
    assert f"{W}x{H}" in info.value.message
    assert not store.has(1001)


def test_out_of_range_missing_and_corrupt(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert _code(lambda: store.put_image(1011, *_raw(_linear()))) == ErrorCode.FRAME_OUT_OF_RANGE
    assert _code(lambda: store.rgb(10)) == ErrorCode.FRAME_OUT_OF_RANGE
    assert _code(lambda: store.rgb(-1)) == ErrorCode.FRAME_OUT_OF_RANGE
    assert _code(lambda: store.rgb(0)) == ErrorCode.FRAME_MISSING
    bad = lambda: store.put_image(1001, b"\x89PNG\r\n\x1a\n garbage", {"encoding": "png"})  # noqa: E731
    assert _code(bad) == ErrorCode.BAD_IMAGE
    assert store.frames() == []
    assert store.missing(1009, 1020) == [1009, 1010]
    assert [p.name for p in (tmp_path / "plate").iterdir()] == []


def test_unknown_colourspace_refused_at_put(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data, desc = _raw(_linear())
    desc["colourspace"] = "Made Up Log"
    assert _code(lambda: store.put_image(1001, data, desc)) == ErrorCode.INVALID_FIELD
    for bad in ({"origin": "top_right"}, {"encoding": "webp"}):
        fields = {**desc, "colourspace": None, **bad}
        assert _code(lambda f=fields: store.put_image(1001, data, f)) == ErrorCode.INVALID_FIELD
    assert store.frames() == []


def test_reput_replaces_and_drops_cached_frame(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.put_image(1001, *_raw(_linear(0.0)))
    assert float(store.rgb(0).max()) == 0.0  # now cached
    store.put_image(1001, _png(np.full((H, W, 3), 255, np.uint8)), {"encoding": "png"})
    assert float(store.rgb(0).min()) == 1.0
    names = sorted(p.name for p in (tmp_path / "plate").iterdir())
    assert names == ["plate.1001.png", "refs.json"]


def test_returned_tensor_is_the_callers_copy(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.put_image(1001, *_raw(_linear(0.5)))
    first = store.rgb(0)
    first.zero_()
    assert float(store.rgb(0).min()) > 0.7


# ---------------------------------------------------------------- paths


def _exr_plate(path: Path, value: float = 0.18, width: int = W) -> Path:
    planes = {c: np.full((H, width), value, np.float32) for c in "RGB"}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_exr(path, planes)
    return path


def test_put_path_inside_allowed_root(tmp_path: Path) -> None:
    plate = _exr_plate(tmp_path / "show" / "plate.1001.exr")
    store = _store(tmp_path / "cache", allowed_roots=(tmp_path / "show",))
    store.put_path(1001, plate)
    np.testing.assert_allclose(store.rgb(0).numpy(), 0.46142, atol=5e-4)


def test_put_path_refusals(tmp_path: Path) -> None:
    show, outside = tmp_path / "show", tmp_path / "secret"
    plate = _exr_plate(outside / "x.exr")
    _exr_plate(show / "wide.exr", width=W + 2)
    store = _store(tmp_path / "cache", allowed_roots=(show,))
    assert _code(lambda: store.put_path(1001, plate)) == ErrorCode.PATH_NOT_ALLOWED
    escape = show / "escape.exr"
    escape.symlink_to(plate)  # inside the root by name, outside once resolved
    assert _code(lambda: store.put_path(1001, escape)) == ErrorCode.PATH_NOT_ALLOWED
    dots = show / ".." / "secret" / "x.exr"
    assert _code(lambda: store.put_path(1001, dots)) == ErrorCode.PATH_NOT_ALLOWED
    assert _code(lambda: store.put_path(1001, "show/x.exr")) == ErrorCode.INVALID_FIELD
    assert _code(lambda: store.put_path(1001, show / "wide.exr")) == ErrorCode.FRAME_SIZE_MISMATCH
    assert _code(lambda: store.put_path(1001, show / "none.exr")) == ErrorCode.BAD_IMAGE
    assert store.frames() == []


def test_swapped_symlink_is_checked_again_at_read(tmp_path: Path) -> None:
    show = tmp_path / "show"
    _exr_plate(show / "real" / "p.exr")
    (show / "shots").symlink_to(show / "real")
    store = _store(tmp_path / "cache", allowed_roots=(show,))
    store.put_path(1001, show / "shots" / "p.exr")
    # The recorded path is the resolved one; a directory on it swapped for an escaping link
    # must not be followed.
    _exr_plate(tmp_path / "secret" / "p.exr")
    (show / "real").rename(show / "old")
    (show / "real").symlink_to(tmp_path / "secret")
    assert _code(lambda: store.rgb(0)) == ErrorCode.PATH_NOT_ALLOWED


# ---------------------------------------------------------------- restart, memory, threads


def test_reopened_store_finds_its_frames(tmp_path: Path) -> None:
    show = tmp_path / "show"
    plate = _exr_plate(show / "p.exr", value=0.5)
    store = _store(tmp_path / "cache", allowed_roots=(show,))
    linear = _linear()
    store.put_image(1001, *_raw(linear))
    store.put_path(1002, plate, colourspace="srgb")
    before = [store.rgb(0).numpy(), store.rgb(1).numpy()]
    (tmp_path / "cache" / "plate" / "plate.1005.exr").write_bytes(b"orphan from a crash")
    again = _store(tmp_path / "cache", allowed_roots=(show,))
    assert again.frames() == [1001, 1002]
    np.testing.assert_array_equal(again.rgb(0).numpy(), before[0])
    np.testing.assert_array_equal(again.rgb(1).numpy(), before[1])
    np.testing.assert_allclose(before[1], 0.5, atol=1e-6)  # srgb: taken as it is
    assert not (tmp_path / "cache" / "plate" / "plate.1005.exr").exists()


def test_reopen_with_another_size_is_shot_mismatch(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.put_image(1001, *_raw(_linear()))
    with pytest.raises(ProtocolError) as info:
        FrameStore(tmp_path, 1001, 1010, W * 2, H, allowed_roots=())
    assert info.value.code == ErrorCode.SHOT_MISMATCH


def test_lru_keeps_memory_flat(tmp_path: Path) -> None:
    width, height, frames = 1024, 768, 40
    frame_bytes = 3 * width * height * 4
    show = tmp_path / "show"
    planes = {c: RNG.random((height, width), dtype=np.float32) for c in "RGB"}
    show.mkdir()
    write_exr(show / "p.exr", planes)
    store = FrameStore(
        tmp_path / "c", 1, frames, width, height, allowed_roots=(show,), cache_frames=2
    )
    for frame in range(1, frames + 1):
        store.put_path(frame, show / "p.exr")
    process = psutil.Process()
    store.rgb(0)
    store.rgb(1)
    baseline = process.memory_info().rss
    for index in range(frames):
        store.rgb(index)
        assert store.cached_bytes <= 2 * frame_bytes
    growth = process.memory_info().rss - baseline
    # Unbounded caching would hold 40 x 9.4 MB = 377 MB more.
    assert growth < 8 * frame_bytes, f"RSS grew by {growth / 1e6:.0f} MB"


def test_threads_put_and_read_together(tmp_path: Path) -> None:
    store = _store(tmp_path, cache_frames=2)
    for frame in range(1001, 1011):
        store.put_image(frame, *_raw(_linear(0.0)))
    errors: list = []
    stop = threading.Event()

    def writer() -> None:
        for round_ in range(1, 6):
            for frame in range(1001, 1011):
                store.put_image(frame, *_raw(_linear(round_ / 10)))
        stop.set()

    def reader() -> None:
        while not stop.is_set():
            for index in range(10):
                pixels = store.rgb(index).numpy()
                if pixels.min() != pixels.max():  # a frame must never be half old, half new
                    errors.append(index)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    np.testing.assert_allclose(store.rgb(0).numpy(), srgb_oetf(np.float64(0.5)), atol=5e-4)
