"""Scoring the demo's mattes against the exact truth, and reading frames back for the preview.

The metrics are the project's (`matting.metrics`): SAD per frame and dtSSD over the sequence.
The baseline is a hard mask made from the same matte (alpha > 0.5): what a binary tracker mask
of the same segmentation would score, which shows what the soft matte adds. (The tracker's own
mask never leaves the backend, so it cannot be scored directly.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from sam2matting.backend.cli.demo_shot import PLATE_COLOURSPACE, DemoShot
from sam2matting.backend.imageio.exr import read_exr
from sam2matting.protocol.frames import SequencePattern


@dataclass(frozen=True)
class Scores:
    sad: float  # mean over frames
    sad_hard: float
    dtssd: Optional[float]  # None for a single frame
    dtssd_hard: Optional[float]


def score(shot: DemoShot, matte: SequencePattern) -> Scores:
    """Mean SAD and dtSSD of the mattes and of their hard-mask baseline.

    Frames are read one at a time (a long 1080p demo does not fit in memory at once); dtSSD is
    the mean over consecutive pairs, so scoring pair by pair gives the metric's own value.
    """
    from sam2matting.backend.matting import metrics

    sad: List[float] = []
    sad_hard: List[float] = []
    dt: List[float] = []
    dt_hard: List[float] = []
    previous: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
    for frame in shot.frames:
        pred, truth = read_matte(matte, frame), shot.truth_alpha(frame)
        hard = (pred > 0.5).astype(np.float32)
        sad.append(metrics.sad(pred, truth))
        sad_hard.append(metrics.sad(hard, truth))
        if previous is not None:
            p0, h0, t0 = previous
            dt.append(metrics.dtssd([p0, pred], [t0, truth]))
            dt_hard.append(metrics.dtssd([h0, hard], [t0, truth]))
        previous = (pred, hard, truth)
    return Scores(
        sad=float(np.mean(sad)),
        sad_hard=float(np.mean(sad_hard)),
        dtssd=float(np.mean(dt)) if dt else None,
        dtssd_hard=float(np.mean(dt_hard)) if dt_hard else None,
    )


def read_matte(matte: SequencePattern, frame: int) -> np.ndarray:
    """The combined alpha `A` of one matte file."""
    return read_exr(matte.path(frame), only={"A"}).channels["A"]


def plates_and_mattes(
    shot: DemoShot, matte: SequencePattern, frames: Sequence[int]
) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Display-referred plates (as the backend sees them) and mattes of some frames."""
    from sam2matting.backend.imageio.colour import ColourConverter

    to_display = ColourConverter(PLATE_COLOURSPACE)
    plates, mattes = [], []
    for frame in frames:
        channels = read_exr(shot.plate.path(frame), only={"R", "G", "B"}).channels
        rgb = np.stack([channels["R"], channels["G"], channels["B"]], axis=2)
        plates.append(to_display(rgb))
        mattes.append(read_matte(matte, frame))
    return plates, mattes
