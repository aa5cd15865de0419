"""The SAM2Matting engine: official heads on the tracker's own features, then native resolution.

Per object and frame: the tracker's mask logits (binarised at 0), its backbone features and the
square image it saw go through the heads (no second encoder pass), under the same bf16 autocast
as the tracker on CUDA. alpha3 (half of the square input: 512x512 at 1024) is resized to the
plate - which undoes the tracker's square resize - and the native-resolution stage re-solves the
soft band at plate resolution, guided by the plate's RGB. The band is capped at `max_width`
plate pixels from the alpha's 0.5 contour, so the stage's cost follows the edge's length on
2K and 4K plates instead of the 512 grid's blur.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any, ClassVar, Mapping, Optional

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.capabilities import Capability, Param
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.device import autocast
from sam2matting.backend.matting.base import MattePrior, MattingEngine, MattingInput, TileSolver
from sam2matting.backend.matting.heads.model import SAM2MattingHeads
from sam2matting.backend.matting.native import NativeStage, TileLayout
from sam2matting.backend.model_files import SAM2MATTING_HEADS
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

FRACTIONAL = 0.02  # coarse alpha in (f, 1 - f) is refined
MARGIN = 3  # plate pixels around the fractional region
MAX_WIDTH = 24  # plate pixels from the coarse 0.5 contour beyond which nothing is refined
LABELS = {"sam2matting-tiny": "SAM2Matting (tiny)", "sam2matting-base_plus": "SAM2Matting (base+)"}
NATIVE_CHOICES = ("guided", "closed_form", "none")
PARAMS = [
    Param(
        "native",
        "choice",
        "guided",
        "native-resolution stage after the heads: guided filter (fast, on the GPU), "
        "closed-form (CPU, slower, finer strands) or none (the heads' 512x512 alpha, resized)",
        choices=NATIVE_CHOICES,
    ),
]


class HeadsEngine(MattingEngine):
    """SAM2Matting heads + native-resolution stage; needs a SAM2.1 tracker's features."""

    name: ClassVar[str] = "sam2matting"
    needs_features: ClassVar[bool] = True

    def __init__(
        self,
        heads: SAM2MattingHeads,
        solver: Optional[TileSolver] = None,
        layout: Optional[TileLayout] = None,
        max_width: int = MAX_WIDTH,
    ) -> None:
        self.heads = heads.eval()
        self.native = NativeStage(solver, layout or TileLayout(128, 32, 64)) if solver else None
        self.max_width = max_width

    @classmethod
    def capability(cls, config: BackendConfig, name: str = "") -> Capability:
        """One entry per official checkpoint (`model_files.SAM2MATTING_HEADS`): available when
        its file is installed and sam2 imports; it needs that checkpoint's tracker."""
        model = SAM2MATTING_HEADS.get(name)
        if model is None:
            why = f"choose a SAM2Matting checkpoint by name ({', '.join(SAM2MATTING_HEADS)})"
            return Capability(name or cls.name, "SAM2Matting heads", False, reason=why)
        reason: Optional[str] = None
        if importlib.util.find_spec("sam2") is None:
            reason = "the sam2 package is not installed (see docs/INSTALL.md)"
        elif not (Path(config.models_dir) / model.filename).is_file():
            reason = (
                f"needs the official {model.filename} (licence {model.licence}, non-commercial "
                f"use only): accept the licence and run: {model.install_hint()}"
            )
        return Capability(
            model.name,
            LABELS.get(model.name, model.name),
            reason is None,
            reason=reason,
            params=list(PARAMS),
            requires_tracker=model.tracker,
        )

    @classmethod
    def create(
        cls, name: str, config: BackendConfig, device: torch.device, options: Mapping[str, Any]
    ) -> HeadsEngine:
        """The checkpoint's heads (verified file, strict load) with the chosen native stage."""
        from sam2matting.backend.tracking.checkpoints import verify_model_file

        verified = verify_model_file(SAM2MATTING_HEADS[name], Path(config.models_dir))
        native = str(options.get("native", "guided"))
        return cls.from_checkpoint(verified.path, device, _native_solver(native))

    @classmethod
    def from_checkpoint(
        cls, path: Path, device: torch.device, solver: Optional[TileSolver] = None
    ) -> HeadsEngine:
        from sam2matting.backend.matting.heads.checkpoint import load_heads

        return cls(load_heads(path, device), solver)

    def matte(self, inp: MattingInput) -> torch.Tensor:
        return self.native_phase(inp.rgb, self.track_phase(inp))

    @torch.inference_mode()
    def track_phase(self, inp: MattingInput) -> MattePrior:
        """The heads on the tracker's features: the coarse alpha at the heads' resolution."""
        if inp.features is None or inp.logits is None:
            raise ProtocolError(
                ErrorCode.INVALID_FIELD,
                "the SAM2Matting engine needs a SAM2.1 tracker's features and mask logits",
                hint="Track with a SAM2.1 tracker, or choose the closed_form engine.",
            )
        feats = inp.features
        with autocast(feats.image.device):  # as the tracker ran, bf16 on CUDA
            mask = (inp.logits.float() > 0).float()[None, None]
            out = self.heads(feats.fpn, mask.to(feats.image.device), feats.image)
        return MattePrior(mask=inp.mask, coarse=out.alpha.float()[0, 0])

    @torch.inference_mode()
    def native_phase(self, rgb: torch.Tensor, prior: MattePrior) -> torch.Tensor:
        """The coarse alpha resized to the plate, its soft band re-solved at plate resolution."""
        if prior.coarse is None:
            raise ProtocolError(
                ErrorCode.INVALID_FIELD,
                "the SAM2Matting engine's native phase needs the heads' coarse alpha",
                hint="Run the Track step with the same engine again.",
            )
        h, w = prior.mask.shape
        coarse = F.interpolate(
            prior.coarse.float()[None, None], size=(h, w), mode="bilinear", align_corners=False
        )[0, 0].to(rgb.device)
        coarse = torch.nan_to_num(coarse, nan=0.0).clamp_(0.0, 1.0)
        if self.native is None:
            return coarse
        trimap = band_trimap(coarse, FRACTIONAL, MARGIN, self.max_width)
        return self.native.refine(rgb.float(), coarse, trimap)


def _native_solver(kind: str) -> Optional[TileSolver]:
    if kind == "none":
        return None
    if kind == "closed_form":
        from sam2matting.backend.matting.closed_form import ClosedFormParams, ClosedFormSolver

        return ClosedFormSolver(ClosedFormParams(prior_weight=0.01, solve_scale=0.5))
    from sam2matting.backend.matting.guided import GuidedFilterSolver

    return GuidedFilterSolver()


def band_trimap(
    coarse: torch.Tensor, fractional: float, margin: int, max_width: int
) -> torch.Tensor:
    """Trimap of a soft alpha: unknown where fractional (grown by margin) and near its 0.5 edge."""
    inside = coarse > 0.5
    frac = (coarse > fractional) & (coarse < 1.0 - fractional)
    grown = _dilate(frac, margin)
    edge = _dilate(inside, 1) & ~_erode(inside, 1)
    near = _dilate(edge, max_width)
    unknown = grown & near
    return torch.where(unknown, torch.full_like(coarse, 0.5), inside.float())


def _dilate(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Square dilation of a (H, W) bool map, separable (two 1-D max-pools)."""
    if radius <= 0:
        return x
    k = 2 * radius + 1
    t = x.float()[None, None]
    t = F.max_pool2d(t, (1, k), stride=1, padding=(0, radius))
    t = F.max_pool2d(t, (k, 1), stride=1, padding=(radius, 0))
    return t[0, 0] > 0.5


def _erode(x: torch.Tensor, radius: int) -> torch.Tensor:
    return ~_dilate(~x, radius)
