"""Colour snap for the flow tracker: the warped mask's edge pulled to where the colours say.

Flow alone drifts. Each frame's flow error adds to the last, and where the background has a
texture flow cannot resolve (stripes along their own direction, flat areas) the mask is dragged
along with it: on the demo's shot (an object before a panning striped background) IoU fell from
0.90 on the second frame to 0.69 on the twelfth, and the matte followed the mask off the object.

So every prompted frame also gives the object a colour model: a histogram of its own colours (the
seed's foreground) and one of the background ring around it (within `ring` px). On a tracked
frame, within `band` px of the warped mask's edge, each pixel's foreground logit gets `strength`
times the log-likelihood ratio of its colour under the two histograms (smoothed over a pixel, so
one odd pixel does not flip). Colours both histograms share give a ratio near zero and leave
the flow's answer; a colour only one side has pulls the pixel to that side. Nothing farther than
`band` from the edge changes, so a background object of the subject's colour elsewhere in the
frame is never picked up, and a wrong colour model can move the edge by `band` at most per frame.

The model is the seed's, not updated from tracked frames: a model learned from its own output
would learn its own drift. Measured in benchmarks/tracking_flow_cpu.py and on the demo's shot
(numbers in docs/BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sam2matting.backend.matting.band import edge_distances

BINS = 16  # histogram cells per channel (16^3 cells: uint8 colours in steps of 16)
_EPS = 1e-4  # added to both histograms: a colour neither side has gives a ratio of 1


@dataclass(frozen=True)
class ColourModel:
    """Normalised colour histograms (BINS^3,) of an object and of the background around it."""

    fore: np.ndarray
    back: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.fore.nbytes + self.back.nbytes)


def _cells(rgb: np.ndarray) -> np.ndarray:
    """Histogram cell index of each pixel of an (..., 3) uint8 RGB array."""
    idx = rgb.astype(np.int32) // (256 // BINS)
    out: np.ndarray = (idx[..., 0] * BINS + idx[..., 1]) * BINS + idx[..., 2]
    return out


def _histogram(cells: np.ndarray) -> np.ndarray:
    counts = np.bincount(cells.ravel(), minlength=BINS**3).astype(np.float32)
    out: np.ndarray = counts / max(float(counts.sum()), 1.0)
    return out


def _edge_depth(inside: np.ndarray) -> np.ndarray:
    """Each pixel's distance to the other side of a boolean mask (both sides positive)."""
    d_in, d_out = edge_distances(inside.astype(np.float32))
    out: np.ndarray = np.where(inside, d_in, d_out)
    return out


def colour_model(prob: np.ndarray, rgb: np.ndarray, ring: float) -> ColourModel:
    """The object's colours (prob > 0.5) and the background's within `ring` px of it.

    prob (H, W) foreground probability; rgb (H, W, 3) uint8, the same frame at the same size.
    """
    inside = prob > 0.5
    cells = _cells(rgb)
    around = ~inside & (_edge_depth(inside) <= ring)
    return ColourModel(_histogram(cells[inside]), _histogram(cells[around]))


def snap(
    prob: np.ndarray, rgb: np.ndarray, model: ColourModel, band: float, strength: float
) -> np.ndarray:
    """`prob` with each pixel within `band` px of its 0.5 edge moved by its colour's evidence.

    prob (H, W) float32 in [0, 1]; rgb (H, W, 3) uint8 of the same frame. Returns float32.
    """
    inside = prob > 0.5
    if strength <= 0 or not inside.any() or inside.all():
        return prob
    zone = _edge_depth(inside) <= band
    cells = _cells(rgb)
    ratio = np.log(model.fore[cells] + _EPS) - np.log(model.back[cells] + _EPS)
    ratio = cv2.GaussianBlur(ratio.astype(np.float32), (0, 0), 1.0)
    p = np.clip(prob, 1e-4, 1.0 - 1e-4)
    logit = np.log(p / (1.0 - p)) + strength * ratio
    snapped = 1.0 / (1.0 + np.exp(-logit))
    out: np.ndarray = np.where(zone, snapped, prob).astype(np.float32)
    return out
