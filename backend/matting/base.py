"""The matting-engine interface: tracker mask (+ RGB, + optional SAM2 features) -> float alpha.

Tensors are torch tensors on the pipeline's device; on the CPU they convert to numpy without a
copy, so classical engines pay nothing for the shared interface.

Every engine runs in two phases (`matting/phases.py` runs them for the server and the farm):
the tracker-side phase keeps what only exists next to the tracker (its mask and, for engines
that need features, what they made of them) as a `MattePrior`; the native phase turns that prior
and the plate into alpha. The farm's Track step runs the first and stores the prior, its Matte
step the second (docs/FARM.md); on one machine they run back to back.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Dict, Mapping, Optional

import torch

from sam2matting.backend.capabilities import Capability
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting.guard import GuardParams, guard_tensor
from sam2matting.backend.tracking.base import SAM2Features


@dataclass
class MattingInput:
    """One object on one frame."""

    rgb: torch.Tensor  # (3, H, W) float32 in [0, 1], display-referred, full plate resolution
    mask: torch.Tensor  # (H, W) float32 0/1: the tracker's mask for this object at plate resolution
    # (h, w) tracker logits for this object (SAM2: 256x256 of the square-resized frame), if any
    logits: Optional[torch.Tensor] = None
    features: Optional[SAM2Features] = None  # same-frame SAM2 backbone features, if any


@dataclass
class MattePrior:
    """What the native phase needs of one object on one frame, besides the plate."""

    mask: torch.Tensor  # (H, W) float32 0/1: the tracker's mask at plate resolution
    # alpha the tracker-side phase made from the tracker's features (the heads' coarse alpha),
    # at the engine's own resolution; None for engines that need only the mask
    coarse: Optional[torch.Tensor] = None


class MattingEngine(abc.ABC):
    """Turns one object's mask into alpha. Engines are stateless between frames.

    Registered by name in `matting/registry.py`; the registry calls `capability` and `create`.
    Callers run an engine with `run`, never `matte` directly, or in its two phases with
    `track_phase` and `run_native` (`matting/phases.py`).
    """

    name: ClassVar[str] = ""
    # True for engines that need SAM2 backbone features (they cannot follow the flow tracker)
    needs_features: ClassVar[bool] = False
    # the do-no-harm guard every result passes last (`matting/guard.py`); None turns it off
    # (benchmarks measure engines without it)
    guard: Optional[GuardParams] = GuardParams()
    # how much of the guard's correction is applied (the engines' `guard` option): 1 in full,
    # 0 none; in between, a blend, which moves alpha towards the mask only, as the guard does;
    # above 1 (at most 2), in full and stricter: GuardParams.ambiguity goes linearly from its
    # default at 1 to 1 at 2 (strict)
    guard_strength: float = 1.0
    guard_stats: Dict[str, float]  # what the guard did on the latest call (set by `run`)

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
        """`matte` as every caller runs it: in inference mode, NaN-free, clamped to [0, 1],
        through the do-no-harm guard (never measurably worse than the mask it was given).

        The result is an ordinary tensor, not an inference tensor: callers (the server's
        shot, the writer) may change it in place, which PyTorch forbids for tensors made in
        inference mode once outside it.
        """
        with torch.inference_mode():
            alpha = torch.nan_to_num(self.matte(inp).float(), nan=0.0).clamp(0.0, 1.0)
            alpha = self._guarded(inp.rgb, inp.mask, alpha)
        return alpha.clone()

    def _guarded(self, rgb: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """The engine's alpha moved back to the mask where the image does not support it."""
        if self.guard is None or self.guard_strength <= 0.0:
            return alpha
        params = self.guard
        if self.guard_strength > 1.0:
            stricter = min(self.guard_strength - 1.0, 1.0) * (1.0 - params.ambiguity)
            params = replace(params, ambiguity=params.ambiguity + stricter)
        guarded, self.guard_stats = guard_tensor(rgb, mask, alpha, params)
        if self.guard_strength >= 1.0:
            return guarded
        return alpha + self.guard_strength * (guarded - alpha)

    def track_phase(self, inp: MattingInput) -> MattePrior:
        """The part of `matte` that needs the tracker's logits or features.

        `native_phase(inp.rgb, track_phase(inp))` equals `matte(inp)`. The default suits engines
        that need only the plate and the mask: it keeps the mask.
        """
        if self.needs_features:
            raise NotImplementedError(f"engine {self.name} needs features: it defines both phases")
        return MattePrior(mask=inp.mask)

    def native_phase(self, rgb: torch.Tensor, prior: MattePrior) -> torch.Tensor:
        """The rest of `matte`: (H, W) alpha from the plate's RGB and the stored prior."""
        if self.needs_features:
            raise NotImplementedError(f"engine {self.name} needs features: it defines both phases")
        return self.matte(MattingInput(rgb, prior.mask))

    def run_native(self, rgb: torch.Tensor, prior: MattePrior) -> torch.Tensor:
        """`native_phase` as every caller runs it, as `run` runs `matte`: in inference mode,
        NaN-free, clamped to [0, 1], an ordinary tensor."""
        with torch.inference_mode():
            alpha = torch.nan_to_num(self.native_phase(rgb, prior).float(), nan=0.0).clamp(0.0, 1.0)
            alpha = self._guarded(rgb, prior.mask, alpha)
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
