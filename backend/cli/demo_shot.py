"""The demo shot, generated at run time (nothing is stored in the repository).

`matting.synthetic.sequence.make_sequence` renders a moving subject with hair-like strands, a
semi-transparent veil and motion blur over a panning textured background, with exact alpha. It
composites in display-referred (sRGB-encoded) values; the plates are written as scene-linear
half-float EXRs, as plates usually are, and sent to the backend as `scene_linear`, which converts
them back to the same sRGB-encoded values: the ground truth holds exactly for what the tracker
and the matting engine see (up to half-float rounding).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from sam2matting.backend.imageio.exr import read_exr, write_exr
from sam2matting.backend.render.progress import ProgressBar
from sam2matting.protocol.frames import SequencePattern

log = logging.getLogger(__name__)

FIRST_FRAME = 1001
PLATE_COLOURSPACE = "scene_linear"
OBJECT_ID = 1
OBJECT_NAME = "subject"


@dataclass(frozen=True)
class DemoShot:
    """Where the generated plates and truth are, and the artist's prompt on the first frame."""

    folder: Path
    width: int
    height: int
    frames: List[int]
    plate: SequencePattern
    truth: SequencePattern
    box: Tuple[float, float, float, float]  # x0, y0, x1, y1, plate pixels, top-left origin
    point: Tuple[float, float]  # one positive click inside the subject

    def truth_alpha(self, frame: int) -> np.ndarray:
        return read_exr(self.truth.path(frame)).channels["A"]


def generate(
    folder: Path,
    count: int,
    size: Tuple[int, int],
    seed: int,
    progress: Optional[ProgressBar] = None,
) -> DemoShot:
    """Write `count` plate frames and their true alpha under `folder`; size is (width, height)."""
    from sam2matting.backend.matting.synthetic.sequence import make_sequence

    width, height = size
    plate = SequencePattern.parse(str(folder / "plate" / "plate.####.exr"))
    truth = SequencePattern.parse(str(folder / "truth" / "truth.####.exr"))
    for pattern in (plate, truth):
        _clear(pattern)
    frames = [FIRST_FRAME + i for i in range(count)]
    prompt: Optional[Tuple[Tuple[float, float, float, float], Tuple[float, float]]] = None
    sequence = make_sequence(np.random.default_rng(seed), count, (height, width))
    for frame, shot_frame in zip(frames, sequence):
        write_exr(
            plate.path(frame),
            _plate_channels(shot_frame.image),
            compression="piz",
            pixel_type="half",
        )
        write_exr(truth.path(frame), {"A": shot_frame.alpha}, compression="zip")
        if prompt is None:
            prompt = prompt_from_truth(shot_frame.alpha)
        if progress is not None:
            progress.update()
    assert prompt is not None  # count >= 1
    return DemoShot(folder, width, height, frames, plate, truth, *prompt)


def prompt_from_truth(
    alpha: np.ndarray,
) -> Tuple[Tuple[float, float, float, float], Tuple[float, float]]:
    """What an artist would click: a box around the solid subject and a point deep inside it.

    The box bounds alpha > 0.5 (fine hair strands fall outside it, as they would in a quick
    drag); the point is the pixel centre farthest from the subject's edge.
    """
    import cv2

    solid = (alpha > 0.5).astype(np.uint8)
    rows, cols = np.nonzero(solid)
    if rows.size == 0:
        raise ValueError("the first frame has no solid subject to prompt on")
    box = (float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1))
    distance = cv2.distanceTransform(solid, cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return box, (float(x) + 0.5, float(y) + 0.5)


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0, 1] -> linear (the exact inverse of the sRGB OETF the backend applies)."""
    v = np.clip(encoded, 0.0, 1.0).astype(np.float32)
    linear: np.ndarray = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return linear.astype(np.float32)


def _plate_channels(image: np.ndarray) -> Dict[str, np.ndarray]:
    linear = srgb_to_linear(image)
    return {"R": linear[..., 0], "G": linear[..., 1], "B": linear[..., 2]}


def _clear(pattern: SequencePattern) -> None:
    """Remove the frames an earlier demo left (only files named like this pattern's)."""
    folder = pattern.folder
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(pattern.head).name
    for old in folder.glob(f"{stem}*{pattern.tail}"):
        middle = old.name[len(stem) : len(old.name) - len(pattern.tail)]
        if middle.lstrip("-").isdigit():
            old.unlink()
