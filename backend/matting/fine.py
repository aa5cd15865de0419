"""Fine structure: keep the mask's thin parts (wires, lines, lace, stems) and thin gaps (holes).

The engine's first solve and its band work at half resolution, where a wire one or two plate
pixels wide is a grey smear or nothing, and the later stages only refine what survived: thin
structure comes out hollow or grey, mesh holes half filled. This step (the engine's step 6):

1. Thin structure is what an opening with a disk of `radius` removes (the mask minus its
   opening, grown by `reach` so junctions with thick parts count), in the mask and, with
   `gaps`, in the background.
2. Its middle line (medial pixels: ridges of the distance to the mask's edge) is pinned to 1
   where the alpha so far lost it (below `lost`); the background's middle lines within `rim`
   of thin structure (mesh holes, the space between wires) are pinned to 0 where the alpha
   filled them. Where the earlier steps kept the structure nothing is pinned or re-solved.
3. A rim of `rim` pixels around the pins is re-solved at full resolution by closed-form
   matting with the pins as constraints. Its prior is the mask near strokes at most about
   3 px wide (what half resolution cannot represent: measured, a full-resolution solve alone
   fills mesh holes with grey on textured backgrounds) and the incoming alpha elsewhere (soft
   hair around a dilated tracker mask is kept as the earlier steps made it).

Cost: the morphology runs on the mask's bounding box grown by the step's reach, the solve only
on tiles that touch the rim (`native.NativeStage`); a frame without thin structure costs the
morphology alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import torch

from sam2matting.backend.matting import band as bandlib
from sam2matting.backend.matting.native import NativeStage


@dataclass(frozen=True)
class FineParams:
    """Fine-structure settings in plate pixels."""

    radius: float = 4.0  # structure that does not survive an opening with this disk is thin
    reach: float = 1.0  # thin structure grown by this much (where it joins thick parts)
    rim: float = 4.0  # pixels re-solved on either side of the thin structure
    # a pixel whose distance to the edge is within this of its 3x3 neighbourhood's largest is
    # medial (the ridge of the distance transform: the middle line of a stroke)
    ridge: float = 0.5
    gaps: bool = True  # thin background gaps too: their middle line pinned to 0
    # a medial pixel is lost (and pinned) where alpha so far is below this (a gap's: above
    # 1 - lost); elsewhere the earlier steps kept the structure and the step leaves it alone
    lost: float = 0.9
    # the rim's prior is the mask around strokes whose medial pixels lie at most this far
    # from the edge (up to ~3 px wide: what the half-resolution steps cannot represent), the
    # incoming alpha elsewhere (what they did represent, e.g. soft hair around a dilated
    # mask); 0: the alpha everywhere
    mask_prior_width: float = 1.5
    min_run: int = 6  # fewer such medial pixels together are a jagged edge, not a stroke


@dataclass
class FineResult:
    alpha: torch.Tensor  # (H, W) the re-solved alpha (the input itself when nothing was thin)
    pinned: np.ndarray  # (H, W) bool: medial pixels pinned to the mask's value
    rim: np.ndarray  # (H, W) bool: pixels re-solved
    tiles: int


def thin_parts(mask: np.ndarray, params: FineParams) -> np.ndarray:
    """Bool (H, W): the pixels of a 0/1 mask that an opening with a `radius` disk removes,
    grown by `reach` and kept inside the mask."""
    import cv2

    inside = (mask > 0.5).astype(np.uint8)
    opened = cv2.morphologyEx(inside, cv2.MORPH_OPEN, bandlib.disk(params.radius))
    thin = (inside > opened).astype(np.uint8)
    grown = cv2.dilate(thin, bandlib.disk(params.reach)) if params.reach > 0 else thin
    return np.asarray((grown > 0) & (inside > 0))


def medial(mask: np.ndarray, ridge: float) -> np.ndarray:
    """Bool (H, W): mask pixels on the ridge of their distance to the mask's edge."""
    import cv2

    inside = (mask > 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    local = cv2.dilate(dist, np.ones((3, 3), np.uint8))
    return np.asarray((inside > 0) & (dist >= local - ridge))


def fine_pins(
    mask: np.ndarray, alpha: np.ndarray, params: FineParams
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pinned to 1, pinned to 0, rim) for a 0/1 mask and the alpha solved so far: the medial
    pixels of its thin parts that alpha lost (and of its thin gaps that alpha filled, when
    `gaps`), and the pixels of the thin structure around them to re-solve."""
    import cv2

    inside = mask > 0.5
    thin = thin_parts(mask, params)
    if params.gaps:
        thin = thin | thin_parts(~inside, params)
    area = cv2.dilate(thin.astype(np.uint8), bandlib.disk(params.rim)) > 0
    ones = thin & inside & medial(mask, params.ridge) & (alpha < params.lost)
    # the background's middle lines in reach of thin structure: mesh holes, the space
    # between strands; without them nothing holds a hole open but the far background
    zeros = area & medial(~inside, params.ridge) & (alpha > 1.0 - params.lost)
    pins = ones | zeros
    disk = bandlib.disk(params.rim)
    near = cv2.dilate(pins.astype(np.uint8), bandlib.disk(params.rim + params.radius)) > 0
    rim = (cv2.dilate(thin.astype(np.uint8), disk) > 0) & near
    return ones, zeros, rim & ~pins


def keep_fine_structure(
    stage: NativeStage,
    rgb: torch.Tensor,
    mask: torch.Tensor,
    alpha: torch.Tensor,
    params: FineParams,
) -> FineResult:
    """`alpha` with the mask's thin structure pinned along its middle line and re-solved.

    rgb (3, H, W) in [0, 1], mask (H, W) 0/1, alpha (H, W), all on the CPU; the stage should
    solve at full resolution (thin structure is what half resolution loses). Only the mask's
    bounding box, grown by the step's reach, is looked at.
    """
    h, w = mask.shape
    none = np.zeros((h, w), bool)
    m = mask.detach().float().cpu().numpy() > 0.5
    box = bandlib.grown_bbox(m, round(params.radius + params.reach + params.rim) + 4)
    if box is None:
        return FineResult(alpha, none, none, 0)
    ys, xs = box
    crop = alpha[ys, xs].detach().float().cpu()
    a = crop.numpy()
    ones, zeros, rim = fine_pins(m[ys, xs], a, params)
    if not rim.any():
        return FineResult(alpha, none, none, 0)
    prior = _prior(m[ys, xs], ones, a, rim, params)
    pins = ones | zeros
    coarse = np.where(ones, 1.0, np.where(zeros, 0.0, np.where(rim, prior, a)))
    known = np.where(pins, ones, a > 0.5).astype(np.float32)
    trimap = bandlib.trimap_from(rim, known)
    solved = stage.refine(
        rgb[:, ys, xs].float().cpu(),
        torch.from_numpy(coarse.astype(np.float32)),
        torch.from_numpy(trimap),
    )
    out = alpha.detach().float().cpu().clone()
    out[ys, xs] = torch.where(torch.from_numpy(rim | pins), solved, crop)
    pinned, region = none.copy(), none.copy()
    pinned[ys, xs], region[ys, xs] = pins, rim
    return FineResult(out.clamp_(0.0, 1.0), pinned, region, stage.last_tile_count)


def _prior(
    mask: np.ndarray, ones: np.ndarray, alpha: np.ndarray, rim: np.ndarray, params: FineParams
) -> np.ndarray:
    """The rim's prior: the mask near strokes at most 2 x `mask_prior_width` wide (pinned
    medial pixels that close to the edge, in runs of at least `min_run` pixels; shorter runs
    are the corners of a jagged edge), the incoming alpha elsewhere."""
    import cv2

    if params.mask_prior_width <= 0:
        return alpha
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    strokes = (ones & (dist <= params.mask_prior_width)).astype(np.uint8)
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    long_enough = stats[:, cv2.CC_STAT_AREA] >= params.min_run
    long_enough[0] = False
    near = cv2.dilate(long_enough[labels].astype(np.uint8), bandlib.disk(params.rim)) > 0
    return np.where(near & rim, mask.astype(np.float32), alpha)
