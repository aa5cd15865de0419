"""The native-resolution stage: solve alpha at plate resolution, only in tiles along the band.

Any engine's alpha is soft where it came from a low-resolution model or a coarse solve. This
stage re-solves it at full plate resolution, guided by full-resolution RGB, but only inside tiles
that touch the unknown band of a trimap. Cost therefore grows with the band's length, not with
the frame's area: the only full-frame work is a max-pool to find occupied tiles and the output
copy.

Tiling: the frame is cut into square cores of `tile - overlap` pixels; a core that holds unknown
pixels gets a tile that is the core grown by overlap/2 on each side. Tiles are solved in batches
(bounded memory) by a `TileSolver` and blended back with linear ramps over the overlap that sum to
one between neighbours, so seams never show. Known pixels keep the coarse input's values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.matting.base import TileSolver

UNKNOWN_TOLERANCE = 0.25  # trimap values within this of 0.5 are unknown


@dataclass(frozen=True)
class TileLayout:
    """Tile size and overlap in plate pixels, and how many tiles a solver gets at once."""

    tile: int = 128
    overlap: int = 32
    batch: int = 32

    def __post_init__(self) -> None:
        if self.overlap < 2 or self.overlap % 2:
            raise ValueError(f"overlap must be an even number >= 2, got {self.overlap}")
        if self.tile <= 2 * self.overlap:
            raise ValueError(f"tile {self.tile} must exceed twice the overlap {self.overlap}")
        if self.batch < 1:
            raise ValueError("batch must be at least 1")

    @property
    def core(self) -> int:
        return self.tile - self.overlap


def unknown_mask(trimap: torch.Tensor) -> torch.Tensor:
    """Boolean (H, W): the trimap's unknown pixels (within the tolerance of 0.5)."""
    return (trimap > 0.5 - UNKNOWN_TOLERANCE) & (trimap < 0.5 + UNKNOWN_TOLERANCE)


def occupied_cores(unknown: torch.Tensor, core: int) -> List[Tuple[int, int]]:
    """(row, col) of every core that holds an unknown pixel, in row-major order.

    One byte per pixel, padded to whole cores and reduced per core: a tenth of the cost of a
    float max-pool over a 2160p frame.
    """
    h, w = unknown.shape
    rows, cols = -(-h // core), -(-w // core)
    flags = unknown.to(torch.uint8)[None]
    padded = F.pad(flags, (0, cols * core - w, 0, rows * core - h))[0]
    occupied = padded.view(rows, core, cols, core).amax(dim=(1, 3))
    return [(int(r), int(c)) for r, c in torch.nonzero(occupied).tolist()]


def ramp(length: int, overlap: int, device: torch.device) -> torch.Tensor:
    """1-D blend weight: rises over the first `overlap` samples, falls over the last ones.

    Two tiles that share `overlap` samples get weights that sum to exactly one there.
    """
    t = torch.arange(length, device=device, dtype=torch.float32)
    rise = (t + 0.5) / overlap
    fall = (length - t - 0.5) / overlap
    return torch.clamp(torch.minimum(rise, fall), max=1.0)


def _crop(x: torch.Tensor, y0: int, x0: int, size: int) -> torch.Tensor:
    """(C, size, size) window of (C, H, W) at (y0, x0), replicating edge pixels outside."""
    _, h, w = x.shape
    ya, yb = max(y0, 0), min(y0 + size, h)
    xa, xb = max(x0, 0), min(x0 + size, w)
    part = x[:, ya:yb, xa:xb]
    pads = (xa - x0, x0 + size - xb, ya - y0, y0 + size - yb)
    if any(pads):
        part = F.pad(part[None], pads, mode="replicate")[0]
    return part


class NativeStage:
    """Refines alpha at plate resolution inside tiles along a trimap's unknown band."""

    def __init__(self, solver: TileSolver, layout: Optional[TileLayout] = None) -> None:
        self.solver = solver
        self.layout = layout or TileLayout()
        self.last_tile_count = 0  # tiles solved by the latest call (for benchmarks and tests)

    def refine(self, rgb: torch.Tensor, coarse: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        """(H, W) alpha: the solver's answer in the unknown band, `coarse` elsewhere.

        rgb: (3, H, W) float32 in [0, 1]; coarse: (H, W) alpha prior; trimap: (H, W) with
        0 / 0.5 / 1. All on one device; the result is float32 on it, in [0, 1], never NaN.
        """
        unknown = unknown_mask(trimap)
        # the coarse values where nothing is solved; solved values are clamped as they land
        out = torch.nan_to_num(coarse.float(), nan=0.0).clamp_(0.0, 1.0)
        cells = occupied_cores(unknown, self.layout.core)
        self.last_tile_count = len(cells)
        if not cells:
            return out
        acc = torch.zeros_like(out)
        wsum = torch.zeros_like(out)
        for chunk in self._chunks(cells):
            self._solve_chunk((rgb.float(), trimap.float(), coarse.float()), chunk, acc, wsum)
        # normalise tile by tile: the work follows the band, not the frame (a window's pixels
        # shared with a neighbour get the same value twice)
        h, w = out.shape
        size = self.layout.tile
        for y0, x0 in self.tile_origins(cells):
            win = (slice(max(y0, 0), min(y0 + size, h)), slice(max(x0, 0), min(x0 + size, w)))
            take = unknown[win] & (wsum[win] > 0)
            blended = (acc[win] / wsum[win]).clamp_(0.0, 1.0)  # inf / NaN only where not taken
            out[win] = torch.where(take, blended, out[win])
        return out

    def tile_origins(self, cells: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        """Top-left corner (y, x) of each cell's tile, in frame pixels (may be negative)."""
        half = self.layout.overlap // 2
        core = self.layout.core
        return [(r * core - half, c * core - half) for r, c in cells]

    def _chunks(self, cells: List[Tuple[int, int]]) -> Iterator[List[Tuple[int, int]]]:
        step = self.layout.batch
        for i in range(0, len(cells), step):
            yield cells[i : i + step]

    def _solve_chunk(
        self,
        frame: Tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        cells: List[Tuple[int, int]],
        acc: torch.Tensor,
        wsum: torch.Tensor,
    ) -> None:
        size = self.layout.tile
        origins = self.tile_origins(cells)
        rgb_f, trimap_f, coarse_f = frame
        rgb = torch.stack([_crop(rgb_f, y0, x0, size) for y0, x0 in origins])
        trimap = torch.stack([_crop(trimap_f[None], y0, x0, size) for y0, x0 in origins])
        coarse = torch.stack([_crop(coarse_f[None], y0, x0, size) for y0, x0 in origins])
        alpha = self.solver.solve(rgb, trimap, coarse).float()
        # where the solver failed outright (NaN), fall back to the coarse prior; a finite sum
        # means every value is finite, and costs a fraction of an elementwise isfinite
        if not torch.isfinite(alpha.sum()):
            alpha = torch.where(torch.isfinite(alpha), alpha, coarse)
        alpha = alpha.clamp(0.0, 1.0)  # not in place: a solver may return inference tensors
        line = ramp(size, self.layout.overlap, acc.device)
        weight = line[:, None] * line[None, :]
        h, w = acc.shape
        for k, (y0, x0) in enumerate(origins):
            ya, yb = max(y0, 0), min(y0 + size, h)
            xa, xb = max(x0, 0), min(x0 + size, w)
            win = weight[ya - y0 : yb - y0, xa - x0 : xb - x0]
            acc[ya:yb, xa:xb] += win * alpha[k, 0, ya - y0 : yb - y0, xa - x0 : xb - x0]
            wsum[ya:yb, xa:xb] += win
