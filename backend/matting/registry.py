"""Which matting engines run here, and loading one by name.

Entries are listed best first (the server's "auto" takes the first available non-fallback one):

- `sam2matting-tiny`, `sam2matting-base_plus`: the official SAM2Matting heads, available when
  their checkpoint is installed (non-commercial licence, accepted at install) and the sam2
  package imports; they need the matching SAM2.1 tracker's features.
- `refiner`: the learned edge refiner (its own weights; `matting.refiner.engine`).
- `closed_form`: weight-free, always available where pymatting is installed; the fallback.

Engines import lazily: listing capabilities never imports torch models or pymatting code, and a
missing optional engine reports `available=False` with the reason and the fixing command.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

import torch

from sam2matting.backend.capabilities import Capability, Param
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting.base import MattingEngine
from sam2matting.backend.model_files import SAM2MATTING_HEADS, ModelFile
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

AUTO = "auto"
CLOSED_FORM = "closed_form"
REFINER = "refiner"
HEADS_LABELS = {"sam2matting-tiny": "SAM2Matting (tiny)",
                "sam2matting-base_plus": "SAM2Matting (base+)"}
NATIVE_CHOICES = ("guided", "closed_form", "none")
HEADS_PARAMS = [
    Param("native", "choice", "guided",
          "native-resolution stage after the heads: guided filter (fast, on the GPU), "
          "closed-form (CPU, slower, finer strands) or none (the heads' 512x512 alpha, resized)",
          choices=NATIVE_CHOICES),
]


def engine_names() -> List[str]:
    """Every engine name, best first."""
    return [*SAM2MATTING_HEADS, REFINER, CLOSED_FORM]


def engine_needs_features(name: str) -> bool:
    """True for engines that need a SAM2 tracker's backbone features."""
    return name in SAM2MATTING_HEADS


def engine_capabilities(config: BackendConfig, tracker: Optional[str] = None) -> List[Capability]:
    """Capabilities of every engine, best first; `tracker` narrows the heads to its own."""
    caps = [_heads_capability(m, config, tracker) for m in SAM2MATTING_HEADS.values()]
    caps.append(_refiner_capability(config))
    caps.append(_closed_form_capability(config))
    return caps


def resolve_engine(name: str, config: BackendConfig, tracker: Optional[str] = None) -> str:
    """A concrete, available engine name ("auto": the best available for this tracker)."""
    caps = engine_capabilities(config, tracker)
    if name == AUTO:
        name = config.default_engine
    if name == AUTO:
        best = [c for c in caps if c.available and not c.fallback]
        fallback = [c for c in caps if c.available]
        if not (best or fallback):
            raise ProtocolError(ErrorCode.MODEL_UNAVAILABLE, "no matting engine can run here",
                                hint="Install pymatting: pip install pymatting")
        return (best or fallback)[0].name
    for cap in caps:
        if cap.name == name:
            if not cap.available:
                raise ProtocolError(ErrorCode.MODEL_UNAVAILABLE,
                                    f"matting engine {name} is unavailable: {cap.reason}")
            return name
    raise ProtocolError(ErrorCode.MODEL_UNAVAILABLE, f"unknown matting engine {name!r}",
                        hint=f"Choose one of: {', '.join(engine_names())}.")


def load_engine(
    name: str,
    config: BackendConfig,
    device: torch.device,
    tracker: Optional[str] = None,
    options: Optional[Mapping[str, Any]] = None,
) -> MattingEngine:
    """Load an engine by name ("auto" allowed); `options` are its capability's params."""
    name = resolve_engine(name, config, tracker)
    opts = dict(options or {})
    loaders: Dict[str, Callable[[], MattingEngine]] = {
        CLOSED_FORM: lambda: _load_closed_form(opts),
        REFINER: lambda: _load_refiner(config, opts),
    }
    if name in SAM2MATTING_HEADS:
        return _load_heads(SAM2MATTING_HEADS[name], config, device, opts)
    return loaders[name]()


# ---------------------------------------------------------------- capabilities


def _closed_form_capability(config: BackendConfig) -> Capability:
    from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine

    return ClosedFormEngine.capability(config)


def _refiner_capability(config: BackendConfig) -> Capability:
    try:
        module = importlib.import_module("sam2matting.backend.matting.refiner.engine")
        cap: Capability = module.RefinerEngine.capability(config)
    except (ImportError, AttributeError) as exc:
        log.debug("refiner engine unavailable: %s", exc)
        return Capability(REFINER, "Learned edge refiner", False,
                          reason=f"the refiner is not part of this build ({exc})")
    return cap


def _heads_capability(model: ModelFile, config: BackendConfig,
                      tracker: Optional[str]) -> Capability:
    label = HEADS_LABELS.get(model.name, model.name)
    path = Path(config.models_dir) / model.filename
    reason = None
    if importlib.util.find_spec("sam2") is None:
        reason = "the sam2 package is not installed (see docs/INSTALL.md)"
    elif not path.is_file():
        reason = (
            f"needs the official {model.filename} (licence {model.licence}, non-commercial use "
            f"only): accept the licence and run: {model.install_hint()}"
        )
    elif tracker is not None and tracker != model.tracker:
        reason = f"needs the {model.tracker} tracker's features (this shot tracks with {tracker})"
    return Capability(model.name, label, reason is None, reason=reason,
                      params=list(HEADS_PARAMS))


# ---------------------------------------------------------------- loaders


def _load_closed_form(opts: Mapping[str, Any]) -> MattingEngine:
    from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine

    width = opts.get("max_width")
    return ClosedFormEngine.with_options(max_width=None if width is None else float(width))


def _load_refiner(config: BackendConfig, opts: Mapping[str, Any]) -> MattingEngine:
    module = importlib.import_module("sam2matting.backend.matting.refiner.engine")
    width = opts.get("max_width")
    engine: MattingEngine = module.RefinerEngine.with_options(
        max_width=None if width is None else float(width), config=config
    )
    return engine


def _load_heads(model: ModelFile, config: BackendConfig, device: torch.device,
                opts: Mapping[str, Any]) -> MattingEngine:
    from sam2matting.backend.matting.heads.engine import HeadsEngine
    from sam2matting.backend.tracking.checkpoints import verify_model_file

    native = str(opts.get("native", "guided"))
    if native not in NATIVE_CHOICES:
        raise ProtocolError(ErrorCode.INVALID_FIELD,
                            f"native must be one of {', '.join(NATIVE_CHOICES)}, not {native!r}")
    verified = verify_model_file(model, Path(config.models_dir))
    return HeadsEngine.from_checkpoint(verified.path, device, _native_solver(native))


def _native_solver(kind: str) -> Any:
    if kind == "none":
        return None
    if kind == "closed_form":
        from sam2matting.backend.matting.closed_form import ClosedFormParams, ClosedFormSolver

        return ClosedFormSolver(ClosedFormParams(prior_weight=0.01, solve_scale=0.5))
    from sam2matting.backend.matting.guided import GuidedFilterSolver

    return GuidedFilterSolver()
