"""Image evidence for departing from the tracker's mask: which pixels the mask should keep.

The matting solve is free to change any pixel of its band, and where colours are ambiguous
(a white car before a white building, a dark dog's tail on dark ground) it drifts to grey:
hollow cores and 10-20 px soft rims. The rule here is the compositor's: where the image gives no
evidence against the mask, the mask is the answer. Per pixel of the band:

- **Colour pools.** Each side of the mask gets a pool of its own confident colours: pixels at
  least `pool_depth` from the mask's edge (beyond the tracker's edge error) on which the first
  solve agrees with the mask, excluding soft-textured alpha (below). Pools are local: per tile,
  the side's pixels within `margin` of it (widened while too few), reduced by farthest-point
  sampling to colours that cover the pool within `tau`.
- **Own / other.** A pixel is explained by a side when its colour is within `tau` of that
  side's pool. Explained by its own side (the mask's value), the image gives no reason to
  change it.
- **Soft texture.** Hair, fur and fine strands make the first solve's alpha vary from pixel to
  pixel (high-frequency energy above `soft_energy`); mush from ambiguous colours is smooth.
  Where the alpha is soft-textured, a colour near the own pool may be a mixture that only
  looks pure (dense hair is mostly hair), so it is pinned only when the colour is ambiguous
  too (explained by both sides).

`pinned_map` returns the pixels to hold at the mask's value: explained by their own side and
either not soft-textured or ambiguous. Everything runs on the arrays given (the engine passes
half-resolution ones); distances are scaled by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from numba import njit

from sam2matting.backend.matting.tile_loops import side_distances
from sam2matting.backend.matting.workers import tiles_holding


@dataclass(frozen=True)
class EvidenceParams:
    """Settings in pixels of the arrays given (`scaled` converts from plate pixels)."""

    tau: float = 0.06  # colour distance (RGB, 0-1) within which a pool explains a pixel
    pool_depth: float = 4.0  # pool pixels lie at least this far from the mask's edge
    soft_energy: float = 0.03  # mean |alpha - 3x3 mean| above which alpha is soft-textured
    soft_radius: int = 2  # window (2r+1) of that mean
    soft_grow: int = 3  # soft-textured regions are grown by this much
    tile: int = 32  # pixels per side of the tiles pools are made for
    margin: int = 24  # pool pixels are taken this far around a tile (doubled while too few)
    max_colours: int = 64  # farthest-point samples per pool and tile at most
    min_pool: int = 8  # fewer pool pixels than this within 4x the margin: no evidence
    denoise: float = 1.0  # Gaussian sigma applied to colours before they are compared
    thin_keep: float = 0.6  # in structures too thin for pool_depth, pools start this far in
    agree: float = 0.5  # pool pixels: the first solve's alpha on the mask's side of this
    flat: float = 0.02  # pool pixels: colour gradient below this per pixel (not in a blur ramp)
    # soft-textured pixels whose colour both sides explain are pinned from this far from the
    # mask's edge (beyond the tracker's edge error); None: never
    ambiguous_depth: Optional[float] = 4.0
    soft_tau: float = 0.0  # soft-textured pixels this close to their own pool are pinned too

    def scaled(self, factor: float) -> EvidenceParams:
        """The same evidence for arrays `factor` times the plate's resolution."""
        return EvidenceParams(
            tau=self.tau,
            pool_depth=self.pool_depth * factor,
            soft_energy=self.soft_energy,
            soft_radius=self.soft_radius,
            soft_grow=self.soft_grow,
            tile=self.tile,
            margin=self.margin,
            max_colours=self.max_colours,
            min_pool=self.min_pool,
            denoise=self.denoise * factor,
            thin_keep=self.thin_keep,
            agree=self.agree,
            flat=self.flat / factor,
            ambiguous_depth=None if self.ambiguous_depth is None else self.ambiguous_depth * factor,
            soft_tau=self.soft_tau,
        )


def soft_texture(alpha: np.ndarray, params: EvidenceParams) -> np.ndarray:
    """Boolean (H, W): where alpha varies pixel to pixel (strands), grown by `soft_grow`."""
    import cv2

    a = alpha.astype(np.float32)
    fine = np.abs(a - cv2.blur(a, (3, 3)))
    k = 2 * params.soft_radius + 1
    energy = cv2.blur(fine, (k, k))
    g = 2 * params.soft_grow + 1
    soft = cv2.dilate((energy > params.soft_energy).astype(np.uint8), np.ones((g, g), np.uint8))
    return np.asarray(soft > 0)


def side_pools(
    mask: np.ndarray,
    alpha: np.ndarray,
    soft: np.ndarray,
    depth: np.ndarray,
    params: EvidenceParams,
    gradient: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """(outside pool, inside pool) boolean maps: confident, not soft, beyond the edge error.

    depth: each pixel's distance from the mask's edge (`band.edge_distances`, on its side).
    In structures thinner than twice `pool_depth` (wires, stems, the gaps of a mesh) the pool
    is the structure's middle: at least `thin_keep` of the largest depth nearby.
    """
    import cv2

    inside = mask > 0.5
    reach = int(np.ceil(2 * params.pool_depth))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    nearby = cv2.dilate(np.minimum(depth, 1e6).astype(np.float32), disk)
    start = np.minimum(params.pool_depth, np.maximum(1.0, params.thin_keep * nearby))
    firm = ~soft & (depth >= start)
    if gradient is not None:  # a pure colour, not a mixture on a blur or defocus ramp
        firm &= gradient < params.flat
    outside_pool = ~inside & (alpha <= 1.0 - params.agree) & firm
    return outside_pool, inside & (alpha >= params.agree) & firm


def pool_distances(
    rgb: np.ndarray,
    pools: Tuple[np.ndarray, np.ndarray],
    region: np.ndarray,
    params: EvidenceParams,
) -> Tuple[np.ndarray, np.ndarray]:
    """Per pixel of `region`, colour distance to the (outside, inside) pools; inf elsewhere
    and where a side has no pool nearby (`tile_loops.side_distances`, per tile)."""
    reach = (params.tile, params.margin, params.min_pool)
    origins = tiles_holding(region, params.tile)
    return side_distances(rgb, pools, region, origins, reach, (params.max_colours, params.tau))


def _denoised(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Colours with sensor noise and grain smoothed away (they are compared to within tau)."""
    import cv2

    if sigma <= 0:
        return rgb
    out: np.ndarray = cv2.GaussianBlur(np.ascontiguousarray(rgb, np.float32), (0, 0), sigma)
    return out


def _gradient(rgb: np.ndarray) -> np.ndarray:
    """Largest per-channel colour gradient (central differences), per pixel: half the largest
    |I(x+1) - I(x-1)| or |I(y+1) - I(y-1)| over the channels, edges reflected (OpenCV's
    Sobel with ksize=1, which `test_hold.py` checks this against, bit for bit)."""
    out: np.ndarray = _max_central_difference(np.ascontiguousarray(rgb, np.float32))
    return out


@njit(cache=True, nogil=True)
def _max_central_difference(rgb: np.ndarray) -> np.ndarray:
    # one pass, no frame-sized temporaries: at 2160p the Sobel-and-maxima version took 0.4 s
    h, w, channels = rgb.shape
    out = np.empty((h, w), np.float32)
    for y in range(h):
        up = y - 1 if y > 0 else min(1, h - 1)  # BORDER_REFLECT_101
        down = y + 1 if y < h - 1 else max(h - 2, 0)
        for x in range(w):
            left = x - 1 if x > 0 else min(1, w - 1)
            right = x + 1 if x < w - 1 else max(w - 2, 0)
            most = np.float32(0.0)
            for c in range(channels):
                gx = abs(rgb[y, right, c] - rgb[y, left, c])
                gy = abs(rgb[down, x, c] - rgb[up, x, c])
                most = max(most, gx, gy)
            out[y, x] = most / np.float32(2.0)
    return out


def pinned_map(
    rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray, region: np.ndarray, params: EvidenceParams
) -> np.ndarray:
    """Boolean (H, W): pixels of `region` the image gives no reason to change from the mask.

    rgb (H, W, 3) in [0, 1]; mask (H, W) 0/1; alpha (H, W): a first solve over the region.
    Computed on `reach_box` (the region's tiles, their pools' reach and the filters' reach):
    the answer is the same as on the whole frame, at a fraction of the cost for a small object.
    """
    out = np.zeros(region.shape, bool)
    box = reach_box(region, params)
    if box is not None:
        ys, xs = box
        out[ys, xs] = _pinned(rgb[ys, xs], mask[ys, xs], alpha[ys, xs], region[ys, xs], params)
    return out


def reach_box(region: np.ndarray, params: EvidenceParams) -> Optional[Tuple[slice, slice]]:
    """(rows, cols) of a crop on which `pinned_map` sees everything it would see on
    the whole array, or None for an empty region.

    It starts on the tile grid (tiles stay where they were), spans the region's tiles and the
    widest pool window around them (4x the margin), and a guard band beyond that: a window's
    pixels must have the colours, gradient and soft-texture of the whole frame (filters reach
    a few pixels) and the same decisions from their edge distance (a distance transform only
    sees the crop: exact up to the guard band, and beyond it every depth threshold is met
    either way).
    """
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    if rows.size == 0:
        return None
    span = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    return reach_of_span(span, region.shape, params)


def reach_of_span(
    span: Tuple[slice, slice], shape: Tuple[int, ...], params: EvidenceParams
) -> Tuple[slice, slice]:
    """`reach_box` of a region whose bounding box is `span` (rows, cols) in an array of
    `shape`: the box depends on the region only through its bounding box."""
    p, tile = params, params.tile
    filters = (
        (4 * p.denoise + 2)  # Gaussian kernel radius (OpenCV: about 4 sigma for float)
        + 1  # central differences
        + (1 + p.soft_radius + p.soft_grow)  # soft texture: two box filters and a dilation
    )
    thin = p.pool_depth / p.thin_keep if p.thin_keep > 0 else 0.0
    depths = (
        np.ceil(2 * p.pool_depth)  # side_pools' dilation of the depth
        + max(p.pool_depth, thin, p.ambiguous_depth or 0.0) * 1.1  # thresholds, chamfer slack
        + 2
    )
    guard = int(np.ceil(filters + depths))
    reach = 4 * p.margin + guard
    h, w = shape[:2]
    ys, xs = span
    y0 = max((ys.start // tile) * tile - reach, 0) // tile * tile
    x0 = max((xs.start // tile) * tile - reach, 0) // tile * tile
    y1 = min(((ys.stop - 1) // tile + 1) * tile + reach, h)
    x1 = min(((xs.stop - 1) // tile + 1) * tile + reach, w)
    return slice(y0, y1), slice(x0, x1)


def _pinned(
    rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray, region: np.ndarray, params: EvidenceParams
) -> np.ndarray:
    """`pinned_map` on arrays already cropped to `reach_box`."""
    from sam2matting.backend.matting.band import edge_distances

    inside = mask > 0.5
    d_in, d_out = edge_distances(mask)
    depth = np.where(inside, d_in, d_out)
    soft = soft_texture(alpha, params)
    colours = _denoised(rgb, params.denoise)
    pools = side_pools(mask, alpha, soft, depth, params, _gradient(colours))
    d_outside, d_inside = pool_distances(colours, pools, region, params)
    d_own = np.where(inside, d_inside, d_outside)
    own = d_own <= params.tau
    other = np.where(inside, d_outside, d_inside) <= params.tau
    # ambiguous colours deep inside a side: the image cannot say, the mask does
    deep = depth >= (np.inf if params.ambiguous_depth is None else params.ambiguous_depth)
    return np.asarray(region & own & (~soft | (other & deep) | (d_own <= params.soft_tau)))
