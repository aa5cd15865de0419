"""Texture pools from photo folders and packs; the evaluation split is never used."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2matting.backend.matting.synthetic.textures import (
    TexturePool,
    find_photos,
    pack_textures,
)


def _write(path: Path, seed: int, size: tuple = (60, 90)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "plates"
    _write(root / "set_a" / "original" / "p1.jpg", 1)
    _write(root / "set_a" / "original" / "p2.png", 2)
    _write(root / "set_a" / "alpha_pred" / "p1.png", 3)  # a model's matte, not a photo
    _write(root / "set_b" / "lemur_trimap.png", 4)
    _write(root / "set_b" / "lemur.png", 5)
    for i in range(30):  # a video folder: near-duplicates are thinned out
        _write(root / "clip" / f"{i:05d}.jpg", 100 + i, (24, 32))
    return root


def test_find_photos_skips_mattes_and_thins_video(photos: Path) -> None:
    found = find_photos([photos])
    names = {p.relative_to(photos).as_posix() for p in found}
    assert {"set_a/original/p1.jpg", "set_a/original/p2.png", "set_b/lemur.png"} <= names
    assert not any("alpha" in n or "trimap" in n for n in names)
    assert sum(n.startswith("clip/") for n in names) == 16


def test_evaluation_split_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "alphamatting_dev" / "input" / "x.png", 0)
    with pytest.raises(ValueError, match="evaluation set"):
        TexturePool.from_folders([tmp_path / "alphamatting_dev"])
    # given a parent folder, the split is skipped, not read
    assert find_photos([tmp_path]) == []


def test_crops_have_the_requested_size_and_range(photos: Path) -> None:
    pool = TexturePool.from_folders([photos])
    rng = np.random.default_rng(0)
    for size in [(16, 16), (40, 100), (128, 64)]:
        crop = pool.crop(rng, size)
        assert crop.shape == (*size, 3)
        assert crop.dtype == np.float32
        assert crop.min() >= 0.0
        assert crop.max() <= 1.0


def test_pack_round_trip_within_budget(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack" / "textures.npz"
    count = pack_textures(out, max_mb=0.25, folders=[photos], crop=48, seed=0)
    assert count > 10
    assert out.stat().st_size <= 0.25 * 1024 * 1024
    pool = TexturePool.from_pack(out)
    assert len(pool) == count
    assert all(im.shape == (48, 48, 3) and im.dtype == np.uint8 for im in pool.images)
    both = TexturePool.load([out, photos])
    assert len(both) == count + len(find_photos([photos]))


def test_procedural_pool_is_deterministic() -> None:
    a = TexturePool.procedural(seed=3, count=2, side=32)
    b = TexturePool.procedural(seed=3, count=2, side=32)
    for x, y in zip(a.images, b.images):
        np.testing.assert_array_equal(x, y)
    assert float(a.images[0].std()) > 1.0


def test_shared_photo_folders_never_include_the_evaluation_split(shared_data: Path) -> None:
    found = find_photos([shared_data])
    assert len(found) > 20
    assert not any("alphamatting_dev" in p.parts for p in found)
    assert not any("pred" in p.as_posix() or "trimap" in p.as_posix() for p in found)
