"""The weight-free engine: adaptive band + closed-form matting, at native resolution.

The default wherever no SAM2Matting weights are installed. Per object and frame:

1. At half resolution, the candidate zone around the tracker's mask (`band.candidate_zone`) is
   solved with closed-form matting, the mask as a weak prior (`closed_form`), in tiles.
2. The band shrinks to where that first alpha is fractional (`band.band_from_alpha`); outside it,
   pixels take the first solve's rounded answer, which also corrects the tracker's edge offset.
3. The native-resolution stage re-solves the band in plate-resolution tiles (`native`), each
   solved at half resolution and carried to full resolution through the local colour model.
4. The mask is held where the image gives no evidence against it (`evidence`, `hold`): pixels
   whose colour matches their own side of the mask keep the mask's value, and the rest of the
   zone is re-solved with them as constraints - solid cores and crisp edges where colours are
   ambiguous, soft alpha where the image is soft (issue 11).
6. Fine structure (`fine`): the mask's parts too thin for the half-resolution steps (wires,
   lines, lace; and thin gaps such as mesh holes) are pinned along their middle line and a rim
   around them is re-solved at full resolution, so they keep their width instead of going grey.

Robustness: every tile system is positive definite (the prior), tiles are bounded in size, a
failed or non-finite tile falls back to the coarse alpha (logged), and the output is clamped.
Cost: the steps run on the crop that holds everything they read (`reach.work_box`), with the
same answer as on the whole frame; the tile solves are compiled and run on a pool of threads.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Dict, Mapping, Optional

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.capabilities import Capability, Param
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting import band as bandlib
from sam2matting.backend.matting import reach
from sam2matting.backend.matting.base import MattingEngine, MattingInput
from sam2matting.backend.matting.closed_form import ClosedFormParams, ClosedFormSolver
from sam2matting.backend.matting.evidence import EvidenceParams
from sam2matting.backend.matting.fine import FineParams, keep_fine_structure
from sam2matting.backend.matting.guided import downsample
from sam2matting.backend.matting.hold import hold_mask
from sam2matting.backend.matting.native import NativeStage, TileLayout

log = logging.getLogger(__name__)

WORK_SCALE = 0.5  # the first solve and the band work at half the plate's resolution
MIN_SIDE_FOR_HALF = 32  # smaller images are solved at their own resolution


@dataclass(frozen=True)
class ClosedFormEngineParams:
    band: bandlib.BandParams = field(default_factory=bandlib.BandParams)
    first: ClosedFormParams = field(
        default_factory=lambda: ClosedFormParams(prior_weight=0.1, solve_scale=1.0)
    )
    second: ClosedFormParams = field(
        default_factory=lambda: ClosedFormParams(
            prior_weight=0.01, solve_scale=0.5, cg_iterations=50
        )
    )
    # tiles of the first solve are at half resolution: 96 px there is 192 plate pixels
    first_layout: TileLayout = field(default_factory=lambda: TileLayout(96, 16, 16))
    native_layout: TileLayout = field(default_factory=lambda: TileLayout(192, 32, 16))
    snap: float = 0.02  # band alpha within this of 0 or 1 becomes exactly 0 or 1
    # pixels the image gives no reason to change keep the mask's value (None: no evidence)
    evidence: Optional[EvidenceParams] = field(default_factory=EvidenceParams)
    hold_scale: float = 0.5  # the re-solve after the hold: 0.5 half resolution, 1.0 full
    # its conjugate-gradient iterations: pinned pixels constrain the tiles well, and the
    # solve starts from step 4's alpha
    hold_iterations: int = 20
    # step 6: thin structure pinned along its middle line, its rim re-solved at full resolution
    fine: bool = True
    fine_params: FineParams = field(default_factory=FineParams)
    fine_solve: ClosedFormParams = field(
        default_factory=lambda: ClosedFormParams(
            prior_weight=10.0, prior_width=2.0, solve_scale=1.0, cg_iterations=50
        )
    )
    # work on the crop that holds everything the steps read (`reach.work_box`): the same
    # answer, without whole-frame work for an object that fills a fraction of the frame
    crop: bool = True


class ClosedFormEngine(MattingEngine):
    """Adaptive band + closed-form matting (pymatting), solved per tile on the CPU."""

    name: ClassVar[str] = "closed_form"
    needs_features: ClassVar[bool] = False

    def __init__(self, params: Optional[ClosedFormEngineParams] = None) -> None:
        self.params = params or ClosedFormEngineParams()
        self.stats: Dict[str, float] = {}  # what the latest call did (for logs and benchmarks)

    @classmethod
    def capability(cls, config: BackendConfig, name: str = "") -> Capability:
        defaults = bandlib.BandParams()
        return Capability(
            name=name or cls.name,
            label="Closed-form matting (weight-free)",
            available=_pymatting_importable(),
            reason=None
            if _pymatting_importable()
            else "pymatting is not installed: pip install pymatting",
            fallback=True,
            params=[
                Param(
                    "max_width",
                    "float",
                    defaults.max_width,
                    "farthest the unknown band reaches from the mask edge (plate pixels)",
                    minimum=4.0,
                    maximum=128.0,
                ),
                Param(
                    "hold_tolerance",
                    "float",
                    EvidenceParams().tau,
                    "colour distance (RGB 0-1) within which a pixel matches its own side of "
                    "the mask and keeps the mask's value; 0 turns the hold off",
                    minimum=0.0,
                    maximum=0.5,
                ),
            ],
        )

    @classmethod
    def create(
        cls, name: str, config: BackendConfig, device: torch.device, options: Mapping[str, Any]
    ) -> ClosedFormEngine:
        width, tolerance = options.get("max_width"), options.get("hold_tolerance")
        return cls.with_options(
            max_width=None if width is None else float(width),
            hold_tolerance=None if tolerance is None else float(tolerance),
        )

    @classmethod
    def with_options(
        cls, max_width: Optional[float] = None, hold_tolerance: Optional[float] = None
    ) -> ClosedFormEngine:
        """An engine with user-facing options applied (the capability's params)."""
        params = ClosedFormEngineParams()
        if max_width is not None:
            params = replace(params, band=replace(params.band, max_width=float(max_width)))
        if hold_tolerance is not None:
            tau = float(hold_tolerance)
            evidence = None if tau <= 0 else replace(EvidenceParams(), tau=tau)
            params = replace(params, evidence=evidence)
        return cls(params)

    def matte(self, inp: MattingInput) -> torch.Tensor:
        device = inp.rgb.device
        rgb = inp.rgb.detach().float().cpu()  # clamped to [0, 1] on the crop only
        mask = (inp.mask.detach().float().cpu() > 0.5).float()
        h, w = mask.shape
        factor = 2 if min(h, w) >= MIN_SIDE_FOR_HALF else 1
        box = self._work_box(mask, factor) if self.params.crop else None
        if box is None:
            return self._matte_cpu(rgb.clamp(0.0, 1.0), mask, factor).to(device)
        ys, xs = box
        alpha = mask.clone()  # beyond the crop nothing is in reach of the mask's edge: 0
        alpha[ys, xs] = self._matte_cpu(rgb[:, ys, xs].clamp(0.0, 1.0), mask[ys, xs], factor)
        return alpha.to(device)

    def _work_box(self, mask: torch.Tensor, factor: int) -> Optional[reach.Box]:
        p = self.params
        grids = [(p.first_layout, factor), (p.native_layout, 1)]
        return reach.work_box(mask.numpy() > 0.5, p.band.max_width, grids, p.evidence, factor)

    def _matte_cpu(self, rgb: torch.Tensor, mask: torch.Tensor, factor: int) -> torch.Tensor:
        h, w = mask.shape
        first = self._first_pass(rgb, mask, factor)
        band = _upsample_nearest(first.band.astype(np.float32), factor, (h, w)) > 0.5
        known = _upsample_nearest(first.known, factor, (h, w))
        coarse = np.where(band, _upsample_bilinear(first.alpha, (h, w)), known)
        params = replace(self.params.second, prior_width=self.params.band.max_width)
        if factor == 1:  # too small to halve again
            params = replace(params, solve_scale=1.0)
        solver = ClosedFormSolver(params)
        second = NativeStage(solver, self.params.native_layout)
        alpha = second.refine(
            rgb,
            torch.from_numpy(coarse.astype(np.float32)),
            torch.from_numpy(bandlib.trimap_from(band, known)),
        )
        alpha = _snap(alpha, torch.from_numpy(band), self.params.snap)
        pinned, hold_tiles = np.zeros((h, w), bool), 0
        if self.params.evidence is not None:
            zone = _upsample_nearest(first.zone.astype(np.float32), factor, (h, w)) > 0.5
            alpha, pinned, hold_tiles = self._hold(rgb, mask, alpha, zone | band, params)
        fine_fraction, fine_tiles, fine_start = 0.0, 0, time.perf_counter()
        if self.params.fine:
            alpha, fine_fraction, fine_tiles = self._fine(rgb, mask, alpha)
        self.stats = {
            "zone_fraction": first.zone_fraction,
            "band_fraction": float(band.mean()),
            "first_tiles": float(first.tiles),
            "native_tiles": float(second.last_tile_count),
            "failed_tiles": float(first.failures + solver.failures),
            "pinned_fraction": float(pinned.mean()),
            "hold_tiles": float(hold_tiles),
            "fine_fraction": fine_fraction,
            "fine_tiles": float(fine_tiles),
            "fine_seconds": time.perf_counter() - fine_start,
        }
        return alpha

    def _fine(
        self, rgb: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor
    ) -> tuple[torch.Tensor, float, int]:
        """Step 6: thin structure kept (alpha, fraction of pixels re-solved, tiles)."""
        stage = NativeStage(ClosedFormSolver(self.params.fine_solve), self.params.native_layout)
        result = keep_fine_structure(stage, rgb, mask, alpha, self.params.fine_params)
        return result.alpha, float(result.rim.mean()), result.tiles

    def _hold(
        self,
        rgb: torch.Tensor,
        mask: torch.Tensor,
        alpha: torch.Tensor,
        region: np.ndarray,
        solve: ClosedFormParams,
    ) -> tuple[torch.Tensor, np.ndarray, int]:
        """Step 5: the mask where the image gives no evidence against it, the rest re-solved
        (alpha, pinned pixels, tiles re-solved)."""
        assert self.params.evidence is not None
        scale = self.params.hold_scale if solve.solve_scale != 1.0 else 1.0
        stage = NativeStage(
            ClosedFormSolver(
                replace(solve, solve_scale=scale, cg_iterations=self.params.hold_iterations)
            ),
            self.params.native_layout,
        )
        held, pinned = hold_mask(stage, rgb, mask, alpha, region, self.params.evidence)
        if held is alpha:
            return alpha, pinned, 0
        snapped = _snap(held, torch.from_numpy(region & ~pinned), self.params.snap)
        return snapped, pinned, stage.last_tile_count

    def _first_pass(self, rgb: torch.Tensor, mask: torch.Tensor, factor: int) -> _FirstPass:
        """Closed-form over the candidate zone at 1/factor resolution, and the band it implies."""
        band_params = self.params.band.scaled(1.0 / factor)
        rgb_low = downsample(rgb[None], factor)[0]
        mask_low = (downsample(mask[None, None], factor)[0, 0] > 0.5).float()
        mask_np = mask_low.numpy()
        zone = bandlib.candidate_zone(mask_np, band_params)
        solver = ClosedFormSolver(replace(self.params.first, prior_width=band_params.max_width))
        stage = NativeStage(solver, self.params.first_layout)
        trimap = torch.from_numpy(bandlib.trimap_from(zone, mask_np))
        alpha = stage.refine(rgb_low, mask_low, trimap).numpy()
        return _FirstPass(
            alpha=alpha,
            band=bandlib.band_from_alpha(alpha, zone, mask_np, band_params),
            # outside the band the first solve decides, which also fixes the mask's edge offset
            known=np.where(zone, alpha > 0.5, mask_np > 0.5).astype(np.float32),
            zone=zone,
            zone_fraction=float(zone.mean()),
            tiles=stage.last_tile_count,
            failures=solver.failures,
        )


@dataclass
class _FirstPass:
    alpha: np.ndarray  # (h, w) at the working resolution
    band: np.ndarray  # (h, w) bool: where the native stage re-solves
    known: np.ndarray  # (h, w) 0/1 values outside the band
    zone: np.ndarray  # (h, w) bool: the candidate zone
    zone_fraction: float
    tiles: int
    failures: int


def _pymatting_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("pymatting") is not None


def _upsample_nearest(x: np.ndarray, factor: int, size: tuple[int, int]) -> np.ndarray:
    """Each low-resolution pixel repeated factor x factor times, cropped to `size` (h, w)."""
    if factor == 1:
        return x[: size[0], : size[1]]
    up = np.repeat(np.repeat(x, factor, axis=0), factor, axis=1)
    return up[: size[0], : size[1]]


def _upsample_bilinear(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling to `size` (h, w), pixel centres aligned as by area downsampling."""
    if x.shape == size:
        return x.astype(np.float32)
    h, w = size
    factor_h, factor_w = -(-h // x.shape[0]), -(-w // x.shape[1])
    t = torch.from_numpy(x.astype(np.float32))[None, None]
    up = F.interpolate(
        t, size=(x.shape[0] * factor_h, x.shape[1] * factor_w), mode="bilinear", align_corners=False
    )
    return up[0, 0, :h, :w].numpy()


def _snap(alpha: torch.Tensor, band: torch.Tensor, eps: float) -> torch.Tensor:
    """Values within eps of 0 or 1 inside the band become exactly 0 or 1 (solver residue)."""
    if eps <= 0:
        return alpha
    out = alpha.clone()
    out[band & (alpha < eps)] = 0.0
    out[band & (alpha > 1.0 - eps)] = 1.0
    return out
