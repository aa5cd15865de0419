"""The crop of a frame on which the weight-free engine gives exactly its whole-frame answer.

The engine only changes pixels within the band's reach of the mask's edge, but several of its
steps are whole-frame work (distance transforms, dilations, trimaps, tile accumulators, the
copies between them). An object of a tenth of a 1080p frame pays for all of it. `work_box`
finds a crop that holds everything any step reads, so the engine can run on the crop and leave
the rest of the frame at the mask's value (0: the crop holds the whole mask):

- the candidate zone: within `max_width` of the mask's edge (plus one working-resolution pixel);
- every tile the tiled solves give an unknown pixel of the zone, with its overlap (tiles sit on
  a grid from the array's origin, so the crop starts on that grid: a multiple of every core);
- the hold's evidence window (`evidence.reach_of_span` of the zone's box);
- the fine-structure step's own box (the mask's box grown by its reach: inside the above).

The crop's end is rounded to the working resolution's factor, so the half-resolution pixels are
the same ones. Nothing is approximate: `test_reach.py` compares cropped and whole-frame mattes
bit for bit, including objects at the frame's edge.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from sam2matting.backend.matting.band import grown_bbox
from sam2matting.backend.matting.evidence import EvidenceParams, reach_of_span
from sam2matting.backend.matting.native import TileLayout

Box = Tuple[slice, slice]


def work_box(
    mask: np.ndarray,
    zone_width: float,
    grids: Sequence[Tuple[TileLayout, int]],
    evidence: Optional[EvidenceParams],
    factor: int,
) -> Optional[Box]:
    """(rows, cols) of the crop, or None where the mask is empty (nothing to crop to).

    mask (H, W) bool; zone_width: the candidate zone's reach from the edge (plate pixels);
    grids: each tiled solve's layout and its scale (plate pixels per layout pixel); factor: the
    working resolution's downsampling factor.
    """
    zone = grown_bbox(mask, math.ceil(zone_width) + 2 * factor)
    if zone is None:
        return None
    h, w = mask.shape
    align = math.lcm(factor, *(layout.core * scale for layout, scale in grids))
    if evidence is not None:
        align = math.lcm(align, evidence.tile)
    spans = [_tile_span(zone[0], grids), _tile_span(zone[1], grids)]
    if evidence is not None:  # the zone's box bounds the hold's region
        box = reach_of_span(zone, mask.shape, evidence)
        spans = [(min(s[0], b.start), max(s[1], b.stop)) for s, b in zip(spans, box)]
    (y0, y1), (x0, x1) = spans
    rows = slice(max(y0, 0) // align * align, min(-(-y1 // factor) * factor, h))
    cols = slice(max(x0, 0) // align * align, min(-(-x1 // factor) * factor, w))
    return rows, cols


def _tile_span(zone: slice, grids: Sequence[Tuple[TileLayout, int]]) -> Tuple[int, int]:
    """First and last-plus-one plate pixel any tile touching the zone's span reads."""
    first, last = zone.start, zone.stop
    for layout, scale in grids:
        core, half = layout.core * scale, layout.overlap // 2 * scale
        first = min(first, zone.start // core * core - half)
        last = max(last, -(-zone.stop // core) * core + half)
    return first, last
