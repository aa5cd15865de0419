"""The learned refiner as a `TileSolver` (native-resolution stage) and as a `MattingEngine`.

The solver loads the committed weights once, runs batched tiles on the pipeline device (fp16 on
CUDA, fp32 on the CPU) and never returns NaN. The engine is the matting package's band
(`band.candidate_zone` around the tracker's mask) and native-resolution stage (`native`) with
this solver. Without the weights file the engine reports itself unavailable with the reason.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Dict, Mapping, Optional, Union

import numpy as np
import torch

from sam2matting.backend.capabilities import Capability, Param
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting import band as bandlib
from sam2matting.backend.matting.base import MattingEngine, MattingInput, TileSolver
from sam2matting.backend.matting.native import NativeStage, TileLayout
from sam2matting.backend.matting.refiner import weights
from sam2matting.backend.matting.refiner.model import Refiner, fuse_for_inference

log = logging.getLogger(__name__)

LABEL = "Learned edge refiner"
DEFAULT_BAND = 32.0  # the band stage's default reach, so engines are compared on one band
DEFAULT_TILE = 256  # more context per tile than the closed-form solver needs, fewer seams
PARAMS = [
    Param(
        "max_width",
        "float",
        DEFAULT_BAND,
        "farthest the unknown band reaches from the mask edge (plate pixels)",
        minimum=4.0,
        maximum=128.0,
    ),
]


def resolve_device(name: str) -> torch.device:
    """BackendConfig.device ("auto" | "cpu" | "cuda[:N]") -> a torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class RefinerSolver(TileSolver):
    """Batched tiles -> alpha with the learned refiner."""

    name: ClassVar[str] = "refiner"

    def __init__(
        self,
        device: Union[str, torch.device] = "cpu",
        weights_dir: Optional[Union[str, Path]] = None,
        max_batch: int = 16,
        model: Optional[Refiner] = None,
    ) -> None:
        self.device = torch.device(device)
        self.half = self.device.type == "cuda"
        self.dtype = torch.float16 if self.half else torch.float32
        if model is None:
            model = weights.load(weights_dir, self.device, self.dtype)
        self.model = fuse_for_inference(model).to(device=self.device, dtype=self.dtype)
        self.format = torch.channels_last if self.half else torch.contiguous_format
        self.model = self.model.to(memory_format=self.format)
        self.max_batch = max(1, int(max_batch))

    @torch.inference_mode()
    def solve(self, rgb: torch.Tensor, trimap: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        n = rgb.shape[0]
        # Equal chunks: a 16 + 2 split runs a whole extra small batch.
        chunks = max(1, -(-n // self.max_batch))
        step = -(-n // chunks)
        out = []
        for i in range(0, n, step):
            parts = [
                t[i : i + step].to(self.device, self.dtype).contiguous(memory_format=self.format)
                for t in (rgb, coarse, trimap)
            ]
            out.append(self.model.predict(parts[0], parts[1], parts[2]).float())
        result = torch.cat(out).to(rgb.device)
        return torch.nan_to_num(result, nan=0.0, posinf=1.0, neginf=0.0).clamp_(0.0, 1.0)


class RefinerEngine(MattingEngine):
    """Mask -> band around its edge -> the refiner on plate-resolution tiles -> alpha."""

    name: ClassVar[str] = "refiner"
    needs_features: ClassVar[bool] = False  # tracker-agnostic: RGB + mask only

    def __init__(
        self,
        solver: Optional[TileSolver] = None,
        max_width: float = DEFAULT_BAND,
        layout: Optional[TileLayout] = None,
        config: Optional[BackendConfig] = None,
    ) -> None:
        """`solver` defaults to the committed weights on the configured device."""
        if solver is None:
            solver = RefinerSolver(resolve_device(config.device if config else "auto"))
        self.band = bandlib.BandParams(max_width=float(max_width))
        self.native = NativeStage(solver, layout or TileLayout(DEFAULT_TILE, 32, 16))
        self.stats: Dict[str, float] = {}

    @classmethod
    def capability(cls, config: BackendConfig, name: str = "") -> Capability:
        reason = weights.missing_reason()
        return Capability(
            name=name or cls.name,
            label=LABEL,
            available=reason is None,
            reason=reason,
            params=list(PARAMS),
        )

    @classmethod
    def create(
        cls, name: str, config: BackendConfig, device: torch.device, options: Mapping[str, Any]
    ) -> RefinerEngine:
        width = options.get("max_width")
        return cls.with_options(max_width=None if width is None else float(width), device=device)

    @classmethod
    def with_options(
        cls,
        max_width: Optional[float] = None,
        config: Optional[BackendConfig] = None,
        device: Optional[torch.device] = None,
    ) -> RefinerEngine:
        """An engine with user-facing options applied (the capability's params), on `device`
        (default: the configured one)."""
        width = DEFAULT_BAND if max_width is None else float(max_width)
        if device is None:
            return cls(max_width=width, config=config)
        return cls(RefinerSolver(device), max_width=width)

    def trimap(self, mask: torch.Tensor) -> torch.Tensor:
        """The pseudo-trimap the refiner sees: unknown in the band's candidate zone."""
        mask_np = (mask.detach().float().cpu().numpy() > 0.5).astype(np.float32)
        zone = bandlib.candidate_zone(mask_np, self.band)
        return torch.from_numpy(bandlib.trimap_from(zone, mask_np)).to(mask.device)

    def matte(self, inp: MattingInput) -> torch.Tensor:
        mask = (inp.mask.float() > 0.5).float()
        trimap = self.trimap(mask)
        alpha = self.native.refine(inp.rgb.float(), mask, trimap)
        self.stats = {
            "tiles": float(self.native.last_tile_count),
            "band_fraction": float(((trimap - 0.5).abs() < 0.25).float().mean()),
        }
        return torch.nan_to_num(alpha, nan=0.0).clamp_(0.0, 1.0)
