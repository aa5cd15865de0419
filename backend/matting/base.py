"""The matting-engine interface: tracker mask (+ RGB, + optional SAM2 features) -> float alpha.

Tensors are torch tensors on the pipeline's device; on the CPU they convert to numpy without a
copy, so classical engines pay nothing for the shared interface.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Optional

import torch

from sam2matting.backend.capabilities import Capability
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.tracking.base import SAM2Features


@dataclass
class MattingInput:
    """One object on one frame."""

    rgb: torch.Tensor  # (3, H, W) float32 in [0, 1], display-referred, full plate resolution
    mask: torch.Tensor  # (H, W) float32 0/1: the tracker's mask for this object at plate resolution
    # (h, w) tracker logits for this object (SAM2: 256x256 of the square-resized frame), if any
    logits: Optional[torch.Tensor] = None
    features: Optional[SAM2Features] = None  # same-frame SAM2 backbone features, if any


class MattingEngine(abc.ABC):
    """Turns one object's mask into alpha. Engines are stateless between frames.

    Registered by name in `matting/registry.py`; the registry calls `capability` and `create`.
    Callers run an engine with `run`, never `matte` directly.
    """

    name: ClassVar[str] = ""
    # True for engines that need SAM2 backbone features (they cannot follow the flow tracker)
    needs_features: ClassVar[bool] = False

    @classmethod
    @abc.abstractmethod
    def capability(cls, config: BackendConfig, name: str = "") -> Capability:
        """Describe the engine registered as `name` (default: `cls.name`): whether it can run on
        this machine and why not, and its typed options (what `describe` advertises)."""

    @classmethod
    @abc.abstractmethod
    def create(
        cls, name: str, config: BackendConfig, device: torch.device, options: Mapping[str, Any]
    ) -> MattingEngine:
        """The engine registered as `name` on `device`; `options` are already checked against
        the capability's params (only the ones the host sent)."""

    @abc.abstractmethod
    def matte(self, inp: MattingInput) -> torch.Tensor:
        """(H, W) float32 alpha in [0, 1] on the input's device; never NaN."""

    def run(self, inp: MattingInput) -> torch.Tensor:
        """`matte` as every caller runs it: in inference mode, NaN-free, clamped to [0, 1].

        The result is an ordinary tensor, not an inference tensor: callers (the server's
        shot, the writer) may change it in place, which PyTorch forbids for tensors made in
        inference mode once outside it.
        """
        with torch.inference_mode():
            alpha = torch.nan_to_num(self.matte(inp).float(), nan=0.0).clamp(0.0, 1.0)
        return alpha.clone()


class TileSolver(abc.ABC):
    """Solves alpha on plate-resolution tiles around the unknown band (the native-resolution stage).

    The closed-form solver and the learned refiner both implement this; the native stage picks
    tiles, batches them, calls `solve`, and blends the results back seamlessly.
    """

    name: ClassVar[str] = ""

    @abc.abstractmethod
    def solve(self, rgb: torch.Tensor, trimap: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """Alpha for a batch of tiles.

        rgb: (N, 3, h, w) float32 in [0, 1]; trimap: (N, 1, h, w) with 0 = background,
        1 = foreground, 0.5 = unknown; coarse: (N, 1, h, w) alpha prior in [0, 1] (the tracker
        mask or an earlier engine's alpha). Returns (N, 1, h, w) float32 in [0, 1], never NaN;
        known pixels may be overwritten by the caller.
        """
