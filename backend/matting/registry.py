"""The matting engines, as data: name -> class, best first.

- `sam2matting-tiny`, `sam2matting-base_plus`: the official SAM2Matting heads, available when
  their checkpoint is installed (non-commercial licence, accepted at install) and the sam2
  package imports; they need the matching SAM2.1 tracker's features.
- `refiner`: the learned edge refiner (its own weights; `matting.refiner.engine`).
- `closed_form`: weight-free, always available where pymatting is installed; the fallback.

Each class answers `capability(config, name)` and `create(name, config, device, options)`
(`MattingEngine`); `backend/registry.py` does the rest: "auto", checking options against what
`describe` advertises, a reason for each engine that cannot run here. One option belongs to
every engine and is handled here, not by the classes: `guard`, the strength of the do-no-harm
guard every result passes last (`matting/guard.py`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional

import torch

from sam2matting.backend.capabilities import Capability, Param, Scalar, check_params
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting.base import MattingEngine
from sam2matting.backend.model_files import SAM2MATTING_HEADS
from sam2matting.backend.registry import AUTO, Entry, Registry
from sam2matting.protocol.errors import ErrorCode

__all__ = ["AUTO", "ENGINES", "engine_capabilities", "load_engine", "resolve_engine"]

CLOSED_FORM = "closed_form"
REFINER = "refiner"
_PACKAGE = "sam2matting.backend.matting"

GUARD = Param(
    "guard",
    "float",
    1.0,
    "how firmly the matte is held to the tracker's mask where the image does not support a "
    "change: 1 never measurably worse than the mask; lower keeps more of the engine's own "
    "alpha (finer hair on a mask drawn over it, but grey rims and speckle on hard edges); "
    "0 off; above 1 stricter, 2 strict: a pixel whose colour is nearer its own side's colours "
    "keeps the mask's value (solid hard objects whose dark parts match the shadows around "
    "them; hair outside the mask is given up)",
    minimum=0.0,
    maximum=2.0,
)


class EngineRegistry(Registry[MattingEngine]):
    """The registry, with the option every engine shares (`GUARD`) added and applied here."""

    def capability(self, name: str, config: BackendConfig) -> Capability:
        cap = super().capability(name, config)
        return replace(cap, params=[*cap.params, GUARD])

    def create(
        self,
        name: str,
        config: BackendConfig,
        device: torch.device,
        options: Optional[Mapping[str, Any]] = None,
    ) -> MattingEngine:
        own: Dict[str, Any] = dict(options or {})
        shared = check_params([GUARD], {k: own.pop(k) for k in [GUARD.name] if k in own})
        engine = super().create(name, config, device, own)
        strength = shared.get(GUARD.name)
        if isinstance(strength, (int, float)):  # checked: a number in [0, 2]
            engine.guard_strength = float(strength)
        return engine


ENGINES: EngineRegistry = EngineRegistry(
    "matting engine",
    [
        *(Entry(name, f"{_PACKAGE}.heads.engine:HeadsEngine") for name in SAM2MATTING_HEADS),
        Entry(REFINER, f"{_PACKAGE}.refiner.engine:RefinerEngine"),
        Entry(CLOSED_FORM, f"{_PACKAGE}.closed_form_engine:ClosedFormEngine"),
    ],
    unknown=ErrorCode.MODEL_UNAVAILABLE,
)


def engine_names() -> List[str]:
    """Every engine name, best first."""
    return ENGINES.names()


def engine_needs_features(name: str) -> bool:
    """True for engines that need a SAM2 tracker's backbone features."""
    return bool(ENGINES.component(name).needs_features)


def engine_capabilities(config: BackendConfig, tracker: Optional[str] = None) -> List[Capability]:
    """Capabilities of every engine, best first; `tracker` narrows engines that need a given
    tracker's features (the heads) to that tracker."""
    return [_for_tracker(cap, tracker) for cap in ENGINES.capabilities(config)]


def resolve_engine(name: str, config: BackendConfig, tracker: Optional[str] = None) -> str:
    """A concrete, available engine name ("auto": the best available for this tracker)."""
    caps = engine_capabilities(config, tracker)
    return ENGINES.resolve(name, config.default_engine, caps)


def check_engine_options(
    name: str,
    config: BackendConfig,
    options: Optional[Mapping[str, Any]],
    path: str = "engine_params",
) -> dict[str, Scalar]:
    """`options` for engine `name` (a concrete name), checked against its advertised params."""
    return ENGINES.check_options(name, config, options, path)


def load_engine(
    name: str,
    config: BackendConfig,
    device: torch.device,
    tracker: Optional[str] = None,
    options: Optional[Mapping[str, Any]] = None,
) -> MattingEngine:
    """Load an engine by name ("auto" allowed); `options` are its capability's params."""
    return ENGINES.create(resolve_engine(name, config, tracker), config, device, options)


def _for_tracker(cap: Capability, tracker: Optional[str]) -> Capability:
    if tracker is None or not cap.available or cap.requires_tracker in (None, tracker):
        return cap
    reason = (
        f"needs the {cap.requires_tracker} tracker's features (this shot tracks with {tracker})"
    )
    return replace(cap, available=False, reason=reason)
