"""Foreground and background textures: real photographs from folders or a pack, or procedural.

Photos come from plate folders (never the alphamatting evaluation split) and are held as uint8
RGB; `crop` yields random float crops at random scale. `pack_textures` writes a compact JPEG
pack (one .npz) for machines that cannot see the photo folders.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Iterable, List, Sequence, Tuple, Union

import cv2
import numpy as np

from sam2matting.backend.matting.synthetic import procedural
from sam2matting.protocol.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# The evaluation split: training on it would make every reported metric meaningless.
FORBIDDEN_FOLDER = "alphamatting_dev"
# Name parts of files and folders that hold mattes, trimaps or model outputs, not photos.
_NOT_PHOTO = re.compile(r"^(pred|alpha|trimap\d*|masks?|foreground|annotations?|gt\d*)$")
# Video folders hold near-duplicate frames: keep at most this many, evenly spaced.
_MAX_PER_FOLDER = 16


def _is_photo(path: Path) -> bool:
    names = [*path.parent.parts[-3:], path.stem]
    tokens = [t for name in names for t in re.split(r"[^a-z0-9]+", name.lower()) if t]
    return not any(_NOT_PHOTO.match(t) for t in tokens)


def find_photos(folders: Iterable[PathLike]) -> List[Path]:
    """Photo files under `folders`, sorted; refuses the evaluation split."""
    found: List[Path] = []
    for folder in folders:
        root = Path(folder)
        if FORBIDDEN_FOLDER in root.resolve().parts:
            raise ValueError(f"{root}: {FORBIDDEN_FOLDER} is the evaluation set; never train on it")
        by_dir: dict[Path, List[Path]] = {}
        for p in sorted(root.rglob("*")):
            if FORBIDDEN_FOLDER in p.parts:  # a parent folder was given: skip the split
                continue
            if p.suffix.lower() in IMAGE_SUFFIXES and _is_photo(p):
                by_dir.setdefault(p.parent, []).append(p)
        for files in by_dir.values():
            keep = np.linspace(0, len(files) - 1, min(len(files), _MAX_PER_FOLDER))
            found.extend(files[i] for i in sorted(set(keep.round().astype(int))))
    return found


def _read_rgb(path: Path, max_side: int) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot decode image {path}")
    scale = max_side / max(bgr.shape[:2])
    if scale < 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[..., ::-1])


class TexturePool:
    """A set of uint8 RGB images to cut random float crops from."""

    def __init__(self, images: Sequence[np.ndarray], sources: Sequence[str] = ()) -> None:
        if not images:
            raise ValueError("a texture pool needs at least one image")
        self.images = list(images)
        self.sources = list(sources) or [f"image{i}" for i in range(len(self.images))]

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def from_folders(cls, folders: Iterable[PathLike], max_side: int = 1024) -> TexturePool:
        """Load every photo under `folders` (see `find_photos`), long side at most `max_side`."""
        paths = find_photos(folders)
        if not paths:
            raise ValueError("no photos found in the texture folders")
        log.info("texture pool: %d photos", len(paths))
        return cls([_read_rgb(p, max_side) for p in paths], [str(p) for p in paths])

    @classmethod
    def from_pack(cls, pack: PathLike) -> TexturePool:
        """Load a pack written by `pack_textures`."""
        with np.load(pack, allow_pickle=False) as data:
            blob, offsets, sources = data["jpeg"], data["offsets"], data["sources"]
        images = []
        for i in range(len(offsets) - 1):
            bgr = cv2.imdecode(blob[offsets[i] : offsets[i + 1]], cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"{pack}: texture {i} does not decode")
            images.append(np.ascontiguousarray(bgr[..., ::-1]))
        return cls(images, [str(s) for s in sources])

    @classmethod
    def procedural(cls, seed: int, count: int = 24, side: int = 512) -> TexturePool:
        """Generated textures: for the demo and tests on a machine with no photographs."""
        rng = np.random.default_rng(seed)
        images = [
            (procedural.texture(rng, (side, side)) * 255.0 + 0.5).astype(np.uint8)
            for _ in range(count)
        ]
        return cls(images, [f"procedural{i}" for i in range(count)])

    @classmethod
    def load(cls, sources: Sequence[PathLike], max_side: int = 1024) -> TexturePool:
        """A pool from packs (.npz files) and/or photo folders."""
        pools = [
            cls.from_pack(s) if str(s).endswith(".npz") else cls.from_folders([s], max_side)
            for s in sources
        ]
        if not pools:
            raise ValueError("no texture sources given")
        return cls([im for p in pools for im in p.images], [s for p in pools for s in p.sources])

    def crop(self, rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
        """A random float32 (h, w, 3) crop in [0, 1], at a random scale, maybe mirrored."""
        h, w = size
        image = self.images[int(rng.integers(0, len(self.images)))]
        ih, iw = image.shape[:2]
        # zoom < 1 shows more of the photo than the tile has pixels (downsampled detail).
        zoom = float(np.exp(rng.uniform(np.log(0.35), np.log(1.5))))
        ch = int(min(ih, max(4, round(h / zoom))))
        cw = int(min(iw, max(4, round(w / zoom))))
        y0 = int(rng.integers(0, ih - ch + 1))
        x0 = int(rng.integers(0, iw - cw + 1))
        patch = image[y0 : y0 + ch, x0 : x0 + cw]
        interp = cv2.INTER_AREA if ch > h else cv2.INTER_LINEAR
        out = cv2.resize(patch, (w, h), interpolation=interp).astype(np.float32) / 255.0
        if rng.random() < 0.5:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)


def pack_textures(
    out_npz: PathLike,
    max_mb: float,
    folders: Sequence[PathLike],
    crop: int = 384,
    seed: int = 0,
    quality: int = 90,
) -> int:
    """Write random JPEG crops of the photos under `folders` into one .npz of at most `max_mb`.

    Crops go round-robin over the photos so every photo is represented. Returns the crop count.
    """
    rng = np.random.default_rng(seed)
    pool = TexturePool.from_folders(folders, max_side=max(1024, 2 * crop))
    budget = int(max_mb * 1024 * 1024) - 64 * 1024  # room for the index and npz headers
    chunks: List[np.ndarray] = []
    sources: List[str] = []
    used = 0
    while True:
        for i in rng.permutation(len(pool)):
            one = TexturePool([pool.images[i]])
            rgb = one.crop(rng, (crop, crop))
            ok, enc = cv2.imencode(
                ".jpg",
                (rgb[..., ::-1] * 255.0 + 0.5).astype(np.uint8),
                [cv2.IMWRITE_JPEG_QUALITY, quality],
            )
            if not ok:
                raise RuntimeError("JPEG encoding failed")
            if used + enc.size > budget:
                _write_pack(Path(out_npz), chunks, sources)
                return len(chunks)
            chunks.append(enc.reshape(-1))
            sources.append(pool.sources[i])
            used += enc.size


def _write_pack(path: Path, chunks: List[np.ndarray], sources: List[str]) -> None:
    offsets = np.zeros(len(chunks) + 1, np.int64)
    offsets[1:] = np.cumsum([c.size for c in chunks])
    blob = np.concatenate(chunks) if chunks else np.zeros(0, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, jpeg=blob, offsets=offsets, sources=np.array(sources, dtype=str))
    atomic_write_bytes(path, buffer.getvalue())
