"""Do no harm: an engine's alpha departs from the tracker's mask only where the image says so.

Every engine's alpha passes through this guard last (`base.MattingEngine.run` and
`run_native`, so the server, the farm and `matte-image` all get it). A solve is
free to change any pixel of its band, and where colours are ambiguous it drifts: grey rims
along hard edges, hollowed wires and lace, speckle on textured backgrounds. The compositor's
rule is that the mask is the answer wherever the image gives no evidence against it, so each
pixel where the engine departs from the mask is put to the compositing equation
(colour = alpha * F + (1 - alpha) * B):

- **Pools.** Each side of the mask gets local colour pools: pixels at least `depth` from the
  mask's edge (beyond a tracker's edge error) on which the engine agrees with the mask
  (within `confident`), and every pixel at least `trusted` from the edge whatever the engine
  says: beyond the tracker's edge error the mask is the evidence. Without that, an engine that
  removed a whole region of one colour (a dark dog's hip before a dark pole) took that
  colour out of its side's pool and the guard then confirmed the hole. (In that trusted core,
  a kept departure smaller than `core_residue` is residue: the mask's value; the residue
  grows to that from nothing at the mask's edge, and fades out: no seam at a fixed depth.)
  Except where the image shows the mask's edge is off (`edge_fit.py`: more of the image's
  edge lies a few pixels beside the mask's edge than on it, as along a too-wide mask around
  hair): there a trusted pixel the engine calls a mixture is one, not the side's colour, and
  does not join the pool (`fit_sigma`); one the engine removed whole still does. Where the
  engine's alpha is also soft-textured (strands, the hold's measure) and the edge's fit is
  looser than `soft_fit`, no pixel joins a pool (`soft_energy`): in hair beside a misfit mask
  a colour is a mixture whatever either says.
  Structures too thin to reach `depth` (a line, a wire, a mesh's gaps) give their middles
  (`thin_keep`), so a thin line's own colour is evidence for it. Per tile of `tile` pixels,
  the side's pixels within `margin` of it (widened while too few), reduced by farthest-point
  sampling to colours that cover the pool within `tau` (`colour_cover.cover`).
- **Residuals.** The mask's value explains a pixel as well as its own side's nearest pool
  colour does; the engine's alpha, as well as the best pair of one colour from each side
  mixed in that proportion (the first `pair_colours` of each pool: a coarser cover, so the
  comparison leans towards the mask).
- **Decision.** The engine's alpha is kept in full where it explains the colour better than
  the mask by `2 * gain` or more, the mask's value where it does not explain it better at
  all, and a blend in between (no hard seam between the two). Where a side has no pool
  nearby (thin structure with no confident pixels, a frame edge), there is no evidence and
  the mask's value stands. Departures of at most `change` are solver residue: the mask's value.
- **Ambiguity.** The advantage must also beat `ambiguity` times the colour's distance to the
  nearer side's pool: a colour close to a pool is weak evidence of a mixture (a car's dark
  underside over its dark shadow, where both pools hold the colour and a mixture explains it a
  little better than the mask by chance). At 1 (the engines' `guard` option at 2: strict) a
  pixel whose colour is nearer its own side's pool than the other side's is never moved, and
  most hair beyond the mask is given up; 0.5 is the default.

Measured on the development sets (docs/MATTING.md, "Issue 11, round 3" to "round 9"). The
guard moves alpha only towards the mask, so it cannot make a pixel worse than the mask; it
can undo a correct departure where both sides' colours explain a pixel equally (an ambiguous
colour: then the mask's value is kept, as the compositor's rule says).

Cost: the examined pixels' bounding box (grown by the pools' reach), one Gaussian blur and two
distance transforms on it, then per occupied tile two covers and a pair search (`tile_loops`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from sam2matting.backend.matting.band import disk, edge_distances, grown_bbox
from sam2matting.backend.matting.edge_fit import edge_fit, looseness
from sam2matting.backend.matting.evidence import EvidenceParams, soft_texture
from sam2matting.backend.matting.tile_loops import mixture_support
from sam2matting.backend.matting.workers import tiles_holding


@dataclass(frozen=True)
class GuardParams:
    """Guard settings; distances in plate pixels, colours in RGB 0-1."""

    change: float = 0.02  # departures from the mask up to this are residue: the mask's value
    confident: float = 0.02  # pool pixels: the engine's alpha within this of the mask's value
    depth: float = 3.0  # pool pixels lie at least this far from the mask's edge
    # ... and from this far they are pool pixels whatever the engine says (None: never)
    trusted: Optional[float] = 5.0
    # there, a departure the evidence keeps less than this of is the mask's value (a solid
    # core), and from twice this kept in full; the residue grows to it from the mask's edge
    core_residue: float = 0.2
    # False: rounds 4-5's rule (the residue only in the trusted core, all or nothing)
    residue_fade: bool = True
    # pixels per side of the tiles pools are made for (round 4: 48 and 24; more local pools
    # are less often fooled by a colour of the other side from across the tile)
    tile: int = 32
    margin: int = 16  # pool pixels are taken this far around a tile (doubled while too few)
    colours: int = 64  # covering colours per pool and tile at most (the mask's residual)
    tau: float = 0.03  # ... until every pool colour is within this of one
    pair_colours: int = 16  # of which the first this many make the mixtures (the engine's)
    min_pool: int = 8  # fewer pool pixels than this within 4x the margin: no evidence
    gain: float = 0.03  # the engine's alpha is kept in full from 2x this better than the mask
    denoise: float = 1.0  # Gaussian sigma applied to colours before they are compared
    ambiguity: float = 0.5  # the advantage less this x the nearer pool's distance (Ambiguity)
    # in structures thinner than 2x `depth` (lines, wires, a mesh's gaps) the pixels at least
    # this fraction of the structure's largest depth nearby join their side's pool (None: not)
    thin_keep: Optional[float] = 0.6
    # the trusted pools leave out the engine's mixtures where the image's edge is not on the
    # mask's (`edge_fit.looseness` at least 0.5, measured over this many pixels of edge;
    # None: they do not, round 6's rule) ...
    fit_sigma: Optional[float] = 15.0
    # ... from the gradient ratio (on the edge / beside it) that is loose at the first value,
    # fits at the second
    fit_low_high: Tuple[float, float] = (0.5, 1.0)
    # where the engine's alpha is also soft-textured (strands: `evidence.soft_texture` above
    # this energy) and the fit is loose at `soft_fit`, no pixel joins a pool, whatever the
    # engine or the mask says (None: round 8's rule, mixtures only)
    soft_energy: Optional[float] = 0.05
    soft_fit: Tuple[float, float] = (1.0, 1.5)


@dataclass
class GuardResult:
    alpha: np.ndarray  # (H, W) float32: the guarded alpha
    examined: np.ndarray  # (H, W) bool: pixels where the engine departed from the mask
    kept: np.ndarray  # (H, W) float32: how much of the engine's departure was kept (0..1)


def guard(
    rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray, params: Optional[GuardParams] = None
) -> GuardResult:
    """`alpha` moved back towards `mask` wherever the image does not support the departure.

    rgb (H, W, 3) float in [0, 1]; mask (H, W) 0/1; alpha (H, W) in [0, 1]. CPU, numpy.
    """
    p = params or GuardParams()
    m = (np.asarray(mask) > 0.5).astype(np.float32)
    a = np.asarray(alpha, dtype=np.float32)
    examined = np.abs(a - m) > p.change
    out = np.where(examined, a, m).astype(np.float32)
    kept = np.zeros(m.shape, np.float32)
    box = grown_bbox(examined, 4 * p.margin + p.tile)
    if box is None:
        return GuardResult(out, examined, kept)
    ys, xs = box
    weight = _weights(
        np.asarray(rgb, np.float32)[ys, xs], m[ys, xs], a[ys, xs], examined[ys, xs], p
    )
    out[ys, xs] = m[ys, xs] + weight * (a[ys, xs] - m[ys, xs])
    kept[ys, xs] = weight
    return GuardResult(np.clip(out, 0.0, 1.0), examined, kept)


def guard_tensor(
    rgb: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor, params: GuardParams
) -> Tuple[torch.Tensor, Dict[str, float]]:
    """`guard` for an engine's tensors: rgb (3, H, W), mask and alpha (H, W) on one device.

    Only the examined pixels' bounding box (grown by the pools' reach) goes to the CPU, so a
    GPU engine copies a crop, not the plate. Returns the alpha on the input's device and what
    the guard did (fraction of pixels examined, mean support kept there, seconds).
    """
    start = time.perf_counter()
    m = (mask.detach() > 0.5).float()
    a = alpha.detach().float()
    examined = (a - m).abs() > params.change
    out = torch.where(examined, a, m)
    stats = {"guard_examined": 0.0, "guard_kept": 0.0, "guard_seconds": 0.0}
    box = grown_bbox(examined.cpu().numpy(), 4 * params.margin + params.tile)
    if box is not None:
        ys, xs = box
        crop = guard(
            rgb[:, ys, xs].detach().float().permute(1, 2, 0).cpu().numpy(),
            m[ys, xs].cpu().numpy(),
            a[ys, xs].cpu().numpy(),
            params,
        )
        out[ys, xs] = torch.from_numpy(crop.alpha).to(out.device)
        n = max(int(crop.examined.sum()), 1)
        stats["guard_examined"] = float(crop.examined.sum()) / float(m.numel())
        stats["guard_kept"] = float(crop.kept[crop.examined].sum()) / n
    stats["guard_seconds"] = time.perf_counter() - start
    return out, stats


def _weights(
    rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray, examined: np.ndarray, p: GuardParams
) -> np.ndarray:
    """Per pixel of the crop, how much of the engine's departure the image supports (0..1)."""
    import cv2

    colours = (
        rgb if p.denoise <= 0 else cv2.GaussianBlur(np.ascontiguousarray(rgb), (0, 0), p.denoise)
    )
    inside = mask > 0.5
    d_in, d_out = edge_distances(mask)
    trusted = np.inf if p.trusted is None else p.trusted
    depth = np.where(inside, d_in, d_out)  # from the mask's edge, on either side
    misfit = _misfits(colours, alpha, depth, (d_in, d_out), p)
    pools = (
        ~inside & ~misfit & (((alpha <= p.confident) & (d_out >= p.depth)) | (d_out >= trusted)),
        inside & ~misfit & (((alpha >= 1.0 - p.confident) & (d_in >= p.depth)) | (d_in >= trusted)),
    )  # (back, fore)
    if p.thin_keep is not None:  # structures too thin for `depth` give their middles
        pools = (
            pools[0] | _thin_middles(~inside, d_out, p.depth, p.thin_keep),
            pools[1] | _thin_middles(inside, d_in, p.depth, p.thin_keep),
        )
    weight = mixture_support(
        colours,
        pools,
        (examined, alpha, mask),
        tiles_holding(examined, p.tile),
        (p.tile, p.margin, p.min_pool),
        (p.colours, p.tau, p.pair_colours, p.confident, p.ambiguity, p.gain),
    )
    kept = weight * np.abs(alpha - mask)
    if not p.residue_fade:
        weight[(depth >= trusted) & (kept < p.core_residue)] = 0.0
        return weight
    faded: np.ndarray = weight * _residue_fade(kept, depth, p)
    return faded


def _misfits(
    colours: np.ndarray,
    alpha: np.ndarray,
    depth: np.ndarray,
    distances: Tuple[np.ndarray, np.ndarray],
    p: GuardParams,
) -> np.ndarray:
    """Pixels that join no pool because the image shows the mask's edge nearby is off
    (`edge_fit`): beyond the tracker's edge error, the engine's mixtures (alpha within neither
    `confident` of 0 nor of 1) where the fit is loose at `fit_low_high`; and in soft-textured
    alpha (hair, fur: the hold's measure) every pixel where it is loose at `soft_fit`, since
    there a colour is a mixture whatever the engine or the mask says (dense hair's colour
    spans its own mixtures, and in a pool it lets the mask's value explain them). A pixel the
    engine moved wholly to the other side outside soft texture stays evidence: a removal must
    not remove its own evidence (the dog's hip above). Where neither kind of pixel exists
    nothing is computed (a solve's speckle along a hard edge is soft-textured too: there the
    fit decides, and a mask on a hard edge fits)."""
    out = np.zeros(depth.shape, bool)
    if p.fit_sigma is None:
        return out
    mixture = out
    if p.trusted is not None:
        mixture = (depth >= p.trusted) & (alpha > p.confident) & (alpha < 1.0 - p.confident)
    soft = out
    if p.soft_energy is not None:
        soft = soft_texture(alpha, EvidenceParams(soft_energy=p.soft_energy))
    if not (mixture.any() or soft.any()):
        return out
    fit = edge_fit(colours, *distances, p.fit_sigma)
    out = mixture & (looseness(fit, p.fit_low_high) >= 0.5)
    out |= soft & (looseness(fit, p.soft_fit) >= 0.5)
    return out


def _residue_fade(kept: np.ndarray, depth: np.ndarray, p: GuardParams) -> np.ndarray:
    """The factor (0..1) of a kept departure `kept` at `depth` px from the mask's edge that
    is more than residue: the residue grows from nothing at the edge's own pixels (depth 1)
    to `core_residue` in the trusted core; a kept departure below the residue goes, one above
    twice the residue stays, linear between. Continuous in both, so a departure fading with
    depth fades out instead of stopping at a fixed depth (round 5's cut at `trusted` drew a
    contour parallel to a straight edge: a seam), and a noisy one does not turn to speckle."""
    if p.trusted is None or p.core_residue <= 0:
        return np.ones(kept.shape, np.float32)
    reach = max(p.trusted - 1.0, 1e-6)
    residue = p.core_residue * np.clip((depth - 1.0) / reach, 0.0, 1.0)
    fade = np.clip((kept - residue) / np.maximum(residue, 1e-6), 0.0, 1.0)
    out: np.ndarray = np.where(residue > 0, fade, 1.0).astype(np.float32)
    return out


def _thin_middles(side: np.ndarray, depth: np.ndarray, reach: float, keep: float) -> np.ndarray:
    """The middles of one side's structures too thin to reach `reach` (the hold's rule for its
    pools, `evidence.side_pools`): a thin line's own colour is then its side's evidence, and
    the guard keeps it where an engine thinned or dropped it."""
    import cv2

    nearby = cv2.dilate(np.minimum(depth, 1e6).astype(np.float32), disk(2 * reach))
    out: np.ndarray = side & (nearby < reach) & (depth >= np.maximum(1.0, keep * nearby))
    return out
