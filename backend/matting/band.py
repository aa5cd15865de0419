"""The unknown band around a tracker's mask: where alpha may be fractional, and nothing else.

Two steps, both deterministic and bounded:

1. `candidate_zone`: every pixel within `max_width` of the mask's edge, except the middle of
   background gaps (holes between leaves, between strands of wicker): a background pixel stays
   known when it is at least `gap_keep` of the way to its gap's middle (distance from the mask at
   least gap_keep x the largest distance nearby) and at least `min_gap_radius` from the mask.
   Without that, a band wider than a gap swallows it, nothing pins the gap to background, and
   closed-form matting fills it with foreground. Gaps narrower than what a tracker resolves
   (SAM2's mask grid is 4 px at 1024, 4-8 plate pixels on HD/UHD) are not trusted.
2. `band_from_alpha`: given a first alpha solved over that zone, the band shrinks to where that
   alpha is fractional, grown by a margin. So the band's width follows the image: a few pixels
   along a sharp edge, as wide as the blur, the hair or the transparency elsewhere - the evidence
   being the closed-form solution's own colour-line fit, not a fixed erosion.

Distances are in pixels of the arrays given (the engine passes half-resolution arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class BandParams:
    """Band settings in plate pixels (the engine scales them to its working resolution)."""

    max_width: float = 32.0  # farthest a band reaches from the mask edge, on either side
    gap_keep: float = 0.6  # fraction of a gap's half-width beyond which background stays known
    min_gap_radius: float = 8.0  # gaps narrower than twice this are left to the solver
    fractional: float = 0.03  # alpha in (f, 1-f) is fractional
    margin: float = 4.0  # band = fractional pixels grown by this much
    min_width: float = 2.0  # always unknown this close to the mask edge (tracker mask error)

    def scaled(self, factor: float) -> BandParams:
        """The same band for arrays `factor` times the plate's resolution."""
        return BandParams(
            max_width=self.max_width * factor,
            gap_keep=self.gap_keep,
            min_gap_radius=self.min_gap_radius * factor,
            fractional=self.fractional,
            margin=self.margin * factor,
            min_width=self.min_width * factor,
        )


def disk(radius: float) -> np.ndarray:
    """uint8 elliptic structuring element of the given radius (rounded; 0 gives one pixel)."""
    import cv2

    r = max(round(radius), 0)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def edge_distances(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inside, outside) Euclidean distance of each pixel to the other side of a 0/1 mask."""
    import cv2

    inside = (mask > 0.5).astype(np.uint8)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    if not inside.any():  # OpenCV reports a huge distance when there is no zero pixel
        d_out[:] = np.inf
    if inside.all():
        d_in[:] = np.inf
    return d_in, d_out


def candidate_zone(mask: np.ndarray, params: BandParams) -> np.ndarray:
    """Boolean (H, W): pixels whose alpha the first solve may change (see module docstring)."""
    import cv2

    d_in, d_out = edge_distances(mask)
    zone = np.where(mask > 0.5, d_in, d_out) < params.max_width
    if np.isfinite(d_out).all() and params.gap_keep > 0:
        # neighbourhood over which a gap's middle is looked for: a band of max_width in open
        # background is exactly where d_out >= gap_keep * (d_out + reach)
        reach = params.max_width * (1.0 - params.gap_keep) / params.gap_keep
        local_max = cv2.dilate(np.minimum(d_out, 1e6).astype(np.float32), disk(reach))
        keep = (d_out >= params.min_gap_radius) & (d_out >= params.gap_keep * local_max)
        zone &= ~keep
    return zone


def band_from_alpha(
    alpha: np.ndarray, zone: np.ndarray, mask: np.ndarray, params: BandParams
) -> np.ndarray:
    """Boolean (H, W): zone pixels where `alpha` is fractional, grown by the margin."""
    import cv2

    lo = params.fractional
    frac = ((alpha > lo) & (alpha < 1.0 - lo)).astype(np.uint8)
    d_in, d_out = edge_distances(mask)
    near_edge = np.where(mask > 0.5, d_in, d_out) <= params.min_width
    grown = cv2.dilate(frac, disk(params.margin)) > 0
    return np.asarray((grown | near_edge) & zone)


def trimap_from(band: np.ndarray, known: np.ndarray) -> np.ndarray:
    """float32 trimap: 0.5 in the band, the 0/1 `known` values elsewhere."""
    return np.where(band, 0.5, (known > 0.5).astype(np.float32)).astype(np.float32)


def grown_bbox(inside: np.ndarray, margin: int) -> Optional[Tuple[slice, slice]]:
    """(rows, cols) slices of the bounding box of `inside` (bool) grown by `margin`, or None
    if it is empty."""
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size == 0:
        return None
    h, w = inside.shape
    ys = slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + margin + 1, h))
    xs = slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + margin + 1, w))
    return ys, xs
