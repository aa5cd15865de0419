"""Scoring an engine on images with ground-truth alpha, from a simulated tracker mask.

The engine sees only the image and a mask made from the ground truth in one documented way
(`make_mask`): "tracker" (the default) simulates a tracker's edge error, seeded
(`simulate_mask`): mask = alpha > 0.5, then dilated or eroded (a coin flip) with a square kernel
of half-size k, k uniform in {1, 2, 3}, seeded by (seed, image name) so an image gets the same
mask whatever else is in the folder or in which order it is read; "exact" gives alpha > 0.5
itself; "dilate:K" / "erode:K" one fixed error. Each image gets a row for the engine and one
for the binary mask itself (the baseline the engine must beat), plus the hard-object measures
(`object_metrics`); means, the engine/mask ratios and the worst image summarise the run.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from sam2matting.backend.matting import metrics, object_metrics

log = logging.getLogger(__name__)

IMAGE_DIRS = ("input", "image", "images", "merged", "rgb")
ALPHA_DIRS = ("gt", "alpha", "alphas", "gt_alpha", "matte")
TRIMAP_DIRS = ("trimap", "trimaps")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr")
METRICS = ("sad", "mse", "grad", "conn")

MASK_MODES = ("tracker", "exact", "dilate:K", "erode:K")

# (rgb (H, W, 3) float32 in [0, 1], mask (H, W) float32 0/1) -> alpha (H, W)
MatteFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
# () -> (rgb (H, W, 3) float32 in [0, 1], alpha (H, W) float32): an image made in memory
Loader = Callable[[], Tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class EvalItem:
    """One image of a dataset: its paths (trimap only used for --region trimap), or a loader
    for images made in memory; frames of one `clip` share the clip's mask draw."""

    name: str
    image: Optional[Path] = None
    alpha: Optional[Path] = None
    trimap: Optional[Path] = None
    load: Optional[Loader] = field(default=None, compare=False)
    clip: Optional[str] = None

    def arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        """(rgb, alpha) float32, from the loader or the files."""
        if self.load is not None:
            return self.load()
        if self.image is None or self.alpha is None:
            raise ValueError(f"{self.name}: an item needs image and alpha files or a loader")
        return load_rgb(self.image), load_alpha(self.alpha)


@dataclass
class ImageResult:
    name: str
    width: int
    height: int
    seconds: float
    engine: Dict[str, float]
    mask: Dict[str, float]
    mask_op: str  # e.g. "dilate 2"
    hard: Dict[str, float] = field(default_factory=dict)  # object_metrics of the engine

    def ratio(self, metric: str) -> float:
        """Engine / mask for one metric (below 1: the engine beats the mask)."""
        base = self.mask[metric]
        return self.engine[metric] / base if base else float("nan")

    def badness(self) -> float:
        """For ranking worst cases: the SAD ratio; where the mask is exact (SAD 0, no ratio),
        1 + 10 x (1 - J), so a lost part of the object ranks with a ratio above 1."""
        ratio = self.ratio("sad")
        if np.isfinite(ratio):
            return ratio
        return 1.0 + 10.0 * (1.0 - self.hard.get("j", 1.0))

    @property
    def seconds_per_mp(self) -> float:
        return self.seconds / (self.width * self.height / 1e6)


@dataclass
class EvalReport:
    engine: str
    region: str
    seed: int
    results: List[ImageResult] = field(default_factory=list)

    def means(self, which: str) -> Dict[str, float]:
        rows = [getattr(r, which) for r in self.results]
        return {m: float(np.mean([row[m] for row in rows])) for m in METRICS} if rows else {}

    def ratios(self) -> Dict[str, float]:
        """Engine mean / mask mean per metric (below 1: the engine beats the mask)."""
        eng, base = self.means("engine"), self.means("mask")
        return {m: eng[m] / base[m] if base.get(m) else float("nan") for m in eng}

    def seconds_per_mp(self) -> float:
        pixels = sum(r.width * r.height for r in self.results) / 1e6
        return sum(r.seconds for r in self.results) / pixels if pixels else float("nan")

    def worst(self, metric: str = "sad") -> Optional[ImageResult]:
        """The image with the highest engine/mask ratio of `metric` (None when empty)."""
        rows = [r for r in self.results if np.isfinite(r.ratio(metric))]
        return max(rows, key=lambda r: r.ratio(metric)) if rows else None

    def summary(self) -> Dict[str, float]:
        """Worst cases and the hard-object measures over the images (min or max as they fail)."""
        out: Dict[str, float] = {}
        for m in ("sad", "grad"):
            worst = self.worst(m)
            out[f"worst_{m}_ratio"] = worst.ratio(m) if worst else float("nan")
        hard = [r.hard for r in self.results if r.hard]
        if hard:
            j_ratio = [h["j"] / h["j_mask"] for h in hard if h["j_mask"] > 0]
            interior = [h["interior"] for h in hard if np.isfinite(h["interior"])]
            out["min_j_ratio"] = float(min(j_ratio)) if j_ratio else float("nan")
            out["mean_j_ratio"] = float(np.mean(j_ratio)) if j_ratio else float("nan")
            out["min_interior"] = float(min(interior)) if interior else float("nan")
            out["mean_interior"] = float(np.mean(interior)) if interior else float("nan")
            out["max_edge_width"] = float(np.nanmax([h["edge_width"] for h in hard]))
            out["tile_artifacts"] = float(sum(h["tile_artifacts"] for h in hard))
            out["tile_artifacts_beyond_truth"] = float(sum(_beyond_truth(h) for h in hard))
        return out

    def to_dict(self) -> Dict[str, object]:
        return {
            "engine": self.engine,
            "region": self.region,
            "seed": self.seed,
            "mask_protocol": MASK_PROTOCOL,
            "images": [{**asdict(r), "seconds_per_mp": r.seconds_per_mp} for r in self.results],
            "mean_engine": self.means("engine"),
            "mean_mask": self.means("mask"),
            "ratio_engine_to_mask": self.ratios(),
            "summary": self.summary(),
            "seconds_per_mp": self.seconds_per_mp(),
        }


def _beyond_truth(hard: Dict[str, float]) -> float:
    """Tile artifacts of one matte beyond its truth's own straight runs (0 if none beyond;
    results stored before the truth was scored count in full)."""
    return max(hard["tile_artifacts"] - hard.get("tile_artifacts_truth", 0.0), 0.0)


MASK_PROTOCOL = (
    "mask = alpha > 0.5, then dilated or eroded (coin flip) with a square kernel of half-size "
    "k, k uniform in {1, 2, 3}; numpy default_rng([seed, crc32(image name)])"
)


def mask_rng(seed: int, name: str) -> np.random.Generator:
    """The mask draw's generator: depends on the seed and the image's name only."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def simulate_mask(alpha: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, str]:
    """(mask float32 0/1, description) as a tracker would give it (module docstring)."""
    import cv2

    dilate = bool(rng.random() < 0.5)
    k = int(rng.integers(1, 4))
    binary = (np.asarray(alpha) > 0.5).astype(np.uint8)
    kernel = np.ones((2 * k + 1, 2 * k + 1), np.uint8)
    op = cv2.dilate if dilate else cv2.erode
    # border: outside the image counts as neither (no growth from, no erosion by, the frame)
    value = 0 if dilate else 1
    out = op(binary, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=value)
    return out.astype(np.float32), f"{'dilate' if dilate else 'erode'} {k}"


def make_mask(alpha: np.ndarray, mode: str, rng: np.random.Generator) -> Tuple[np.ndarray, str]:
    """(mask float32 0/1, description) for one of `MASK_MODES` (module docstring)."""
    import cv2

    if mode == "tracker":
        return simulate_mask(alpha, rng)
    binary = (np.asarray(alpha) > 0.5).astype(np.uint8)
    if mode == "exact":
        return binary.astype(np.float32), "exact"
    kind, _, size = mode.partition(":")
    if kind not in ("dilate", "erode") or not size.isdigit() or int(size) < 1:
        raise ValueError(f"mask mode must be one of {', '.join(MASK_MODES)} (K >= 1), not {mode!r}")
    k = int(size)
    kernel = np.ones((2 * k + 1, 2 * k + 1), np.uint8)
    if kind == "dilate":
        out = cv2.dilate(binary, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    else:
        out = cv2.erode(binary, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    return out.astype(np.float32), f"{kind} {k}"


def find_items(folder: Path, every: int = 1) -> List[EvalItem]:
    """Pairs of image and ground-truth alpha files, matched by file stem, sorted by name.

    A DAVIS-style folder (JPEGImages/<res>/<clip>/ + Annotations/<res>/<clip>/) gives the
    frames of every clip, named "<clip>/<frame>", each clip one `clip`; `every` keeps every
    N-th frame of each clip (or image of a folder).
    """
    folder = Path(folder)
    if (folder / "JPEGImages").is_dir() and (folder / "Annotations").is_dir():
        return _davis_items(folder, every)
    images = _first_dir(folder, IMAGE_DIRS)
    alphas = _first_dir(folder, ALPHA_DIRS)
    if images is None or alphas is None:
        raise FileNotFoundError(
            f"{folder}: expected an image folder ({'/'.join(IMAGE_DIRS)}) and a ground-truth "
            f"alpha folder ({'/'.join(ALPHA_DIRS)}) with files of matching names"
        )
    trimaps = _first_dir(folder, TRIMAP_DIRS)
    gt_by_stem = {p.stem: p for p in _image_files(alphas)}
    tri_by_stem = {p.stem: p for p in _image_files(trimaps)} if trimaps else {}
    items = [
        EvalItem(p.stem, p, gt_by_stem[p.stem], tri_by_stem.get(p.stem))
        for p in _image_files(images)
        if p.stem in gt_by_stem
    ]
    if not items:
        raise FileNotFoundError(f"{folder}: no image has a ground-truth alpha of the same name")
    return items[:: max(1, every)]


def _davis_items(folder: Path, every: int) -> List[EvalItem]:
    """Frames of the clips of a DAVIS-layout folder (one resolution subfolder, e.g. 480p)."""
    images, annotations = folder / "JPEGImages", folder / "Annotations"
    res = sorted(p.name for p in images.iterdir() if p.is_dir() and (annotations / p.name).is_dir())
    clips_root = images / res[0] if res and not any(images.glob("*/*.jpg")) else images
    items: List[EvalItem] = []
    for clip_dir in sorted(p for p in clips_root.iterdir() if p.is_dir()):
        truth = annotations / clip_dir.relative_to(images)
        frames = [p for p in _image_files(clip_dir) if (truth / f"{p.stem}.png").is_file()]
        items.extend(
            EvalItem(f"{clip_dir.name}/{p.stem}", p, truth / f"{p.stem}.png", clip=clip_dir.name)
            for p in frames[:: max(1, every)]
        )
    if not items:
        raise FileNotFoundError(f"{folder}: no DAVIS clip has frames with annotations")
    return items


def _first_dir(folder: Path, names: Sequence[str]) -> Optional[Path]:
    for name in names:
        if (folder / name).is_dir():
            return folder / name
    return None


def _image_files(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float32 display-referred RGB in [0, 1] (EXR: scene-linear sRGB assumed)."""
    from sam2matting.backend.imageio.colour import ColourConverter
    from sam2matting.backend.imageio.decode import decode_image

    decoded = decode_image(Path(path))
    rgb = decoded.rgb
    if not decoded.display_referred:
        rgb = ColourConverter("scene_linear")(rgb)
    return np.asarray(np.clip(rgb, 0.0, 1.0), dtype=np.float32)


def load_alpha(path: Path) -> np.ndarray:
    """(H, W) float32 alpha in [0, 1] from a grey, RGB (R=G=B) or RGBA (A) image."""
    from sam2matting.backend.imageio.decode import decode_image

    decoded = decode_image(Path(path))
    plane = decoded.alpha if decoded.alpha is not None else decoded.rgb[..., 0]
    return np.asarray(np.clip(plane, 0.0, 1.0), dtype=np.float32)


def resize_max_side(
    rgb: np.ndarray, alpha: np.ndarray, max_side: Optional[int]
) -> Tuple[np.ndarray, np.ndarray]:
    """Downscale (area) so the long side is at most max_side; ground truth alike."""
    import cv2

    h, w = alpha.shape
    if not max_side or max(h, w) <= max_side:
        return rgb, alpha
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return (
        cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
        cv2.resize(alpha, size, interpolation=cv2.INTER_AREA),
    )


@dataclass
class Evaluated:
    """One image's arrays, for the contact sheet."""

    name: str
    rgb: np.ndarray
    mask: np.ndarray
    alpha: np.ndarray
    gt: np.ndarray


def evaluate(
    items: Sequence[EvalItem],
    matte: MatteFn,
    seed: int = 0,
    region: str = "image",
    max_side: Optional[int] = None,
    clip: Optional[str] = None,
    mask_mode: str = "tracker",
) -> Iterator[Tuple[ImageResult, Evaluated]]:
    """Run the engine on each item; yields each image's row and arrays as it finishes.

    `clip`: the items are frames of one clip; every frame gets the clip's one mask draw (a
    tracker's edge bias is steady over a shot), seeded by (seed, clip). Items that name their
    own clip (DAVIS folders) draw per clip too.
    """
    if region not in ("image", "trimap"):
        raise ValueError("region must be 'image' or 'trimap'")
    for item in items:
        rgb, gt = resize_max_side(*item.arrays(), max_side)
        mask, op = make_mask(gt, mask_mode, mask_rng(seed, clip or item.clip or item.name))
        start = time.perf_counter()
        alpha = np.asarray(matte(rgb, mask), dtype=np.float64)
        seconds = time.perf_counter() - start
        where = _region(item, gt.shape, region)
        row = ImageResult(
            name=item.name,
            width=gt.shape[1],
            height=gt.shape[0],
            seconds=seconds,
            engine=metrics.all_metrics(alpha, gt, where),
            mask=metrics.all_metrics(mask, gt, where),
            mask_op=op,
            hard=object_metrics.object_metrics(alpha, gt, mask, rgb),
        )
        log.info(
            "%s: SAD %.2f (mask %.2f) in %.2f s",
            item.name,
            row.engine["sad"],
            row.mask["sad"],
            seconds,
        )
        yield row, Evaluated(item.name, rgb, mask, alpha.astype(np.float32), gt)


def _region(item: EvalItem, shape: Tuple[int, ...], region: str) -> Optional[np.ndarray]:
    if region == "image":
        return None
    import cv2

    if item.trimap is None:
        raise FileNotFoundError(f"{item.name}: --region trimap needs a trimap folder")
    tri = load_alpha(item.trimap)
    if tri.shape != shape:
        tri = cv2.resize(tri, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return np.asarray((tri > 0.25) & (tri < 0.75))
