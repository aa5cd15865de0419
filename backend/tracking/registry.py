"""Which trackers run here, and loading one by name.

SAM2.1 trackers are available when their verified checkpoint is installed (the stock SAM2.1 file, or
an official SAM2Matting file that bundles the same tracker); `flow` needs no weights and is always
available, as the labelled fallback. Nothing here downloads.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from sam2matting.backend.capabilities import Capability, Param, Scalar
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.model_files import SAM2_TRACKERS, SAM2MATTING_HEADS, ModelFile
from sam2matting.backend.tracking.base import Tracker
from sam2matting.backend.tracking.checkpoints import VerifiedFile, verify_model_file
from sam2matting.backend.tracking.flow import DIS_PRESETS, FlowSettings, FlowTracker
from sam2matting.backend.tracking.sam2_model import (
    SAM2Settings,
    SAM2Tracker,
    load_sam2_tracker,
    sam2_available,
)
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

AUTO = "auto"
FLOW = "flow"
SAM2_LABELS: Dict[str, str] = {
    "sam2.1-tiny": "SAM2.1 tiny",
    "sam2.1-small": "SAM2.1 small",
    "sam2.1-base_plus": "SAM2.1 base+",
    "sam2.1-large": "SAM2.1 large",
}
FLOW_LABEL = "Optical flow (fallback: no model weights, rough masks)"
CPU_NOTE = " (on the CPU: very slow, seconds per frame)"

SAM2_PARAMS: List[Param] = [
    Param(
        "memory_window",
        "int",
        SAM2Settings.memory_window,
        "Tracked frames kept in memory on each side of the current frame (SAM2 attends to the "
        "last 6 masks and 15 object pointers: below 15 it forgets some of them).",
        minimum=1,
        maximum=512,
    ),
    Param(
        "offload_state_to_cpu",
        "bool",
        SAM2Settings.offload_state_to_cpu,
        "Keep tracking memory in host RAM instead of GPU memory (slower; for long shots, many "
        "objects or small GPUs).",
    ),
]
FLOW_PARAMS: List[Param] = [
    Param(
        "working_size",
        "int",
        FlowSettings.working_size,
        "Long side in pixels of the resolution flow is computed at (plates are never upscaled).",
        minimum=64,
        maximum=4096,
    ),
    Param(
        "preset",
        "choice",
        FlowSettings.preset,
        "DIS optical-flow preset: ultrafast, fast or medium (slower, not always better).",
        choices=tuple(DIS_PRESETS),
    ),
    Param(
        "memory_window",
        "int",
        FlowSettings.memory_window,
        "Tracked frames kept in memory on each side of the current frame.",
        minimum=1,
        maximum=512,
    ),
]


def tracker_capabilities(config: BackendConfig) -> List[Capability]:
    """Every tracker, available or not (with the reason and the fixing command), best first.

    Best on a GPU is the largest SAM2.1 model; on the CPU the smallest (large takes tens of
    seconds a frame there); the flow fallback comes last.
    """
    cuda = _cuda_configured(config)
    names = list(SAM2_TRACKERS)[::-1] if cuda else list(SAM2_TRACKERS)
    caps = [_sam2_capability(name, config, "" if cuda else CPU_NOTE) for name in names]
    flow = Capability(FLOW, FLOW_LABEL, available=True, fallback=True, params=list(FLOW_PARAMS))
    return [*caps, flow]


def load_tracker(
    name: str,
    config: BackendConfig,
    device: Union[torch.device, str],
    params: Optional[Mapping[str, Scalar]] = None,
) -> Tracker:
    """Load a tracker by name; "auto" is the best available SAM2.1 model, else the flow fallback."""
    device = torch.device(device)
    if name == AUTO:
        name = best_available(config)
    if name == FLOW:
        values = check_params(FLOW_PARAMS, params)
        return FlowTracker(replace(FlowSettings(), **values), device)
    if name not in SAM2_TRACKERS:
        known = ", ".join([AUTO, *SAM2_TRACKERS, FLOW])
        raise ProtocolError(ErrorCode.INVALID_FIELD, f"unknown tracker {name!r}; known: {known}")
    if not sam2_available():
        raise ProtocolError(ErrorCode.MODEL_UNAVAILABLE, _NO_SAM2)
    settings = SAM2Settings(
        memory_window=config.memory_window, offload_state_to_cpu=config.offload_state_to_cpu
    )
    settings = replace(settings, **check_params(SAM2_PARAMS, params))
    checkpoint = find_tracker_checkpoint(name, config)
    tracker: SAM2Tracker = load_sam2_tracker(
        name, config.models_dir, device, settings, model_file=checkpoint.model
    )
    return tracker


def best_available(config: BackendConfig) -> str:
    """The first available tracker in tracker_capabilities' order (best first), flow last."""
    for cap in tracker_capabilities(config):
        if cap.available and not cap.fallback:
            return cap.name
    log.warning("no SAM2.1 checkpoint installed: using the optical-flow fallback tracker")
    return FLOW


def find_tracker_checkpoint(name: str, config: BackendConfig) -> VerifiedFile:
    """The verified file holding a SAM2.1 tracker: its own checkpoint, else a SAM2Matting one.

    A file that exists but fails verification is an error, never skipped for the next candidate.
    """
    candidates = tracker_files(name)
    for model in candidates:
        if (config.models_dir / model.filename).is_file():
            return verify_model_file(model, config.models_dir)
    stock = candidates[0]
    raise ProtocolError(
        ErrorCode.MODEL_UNAVAILABLE,
        f"{name} is not installed: {config.models_dir / stock.filename} not found",
        hint=f"Install it with: {stock.install_hint()}",
        details={"model": name},
    )


def tracker_files(name: str) -> List[ModelFile]:
    """Files that hold tracker `name`: its stock checkpoint first, then SAM2Matting bundles."""
    bundles = [m for m in SAM2MATTING_HEADS.values() if m.tracker == name]
    return [SAM2_TRACKERS[name], *bundles]


def check_params(spec: Sequence[Param], values: Optional[Mapping[str, Scalar]]) -> Dict[str, Any]:
    """Validate host-sent parameter values against their typed description."""
    known = {p.name: p for p in spec}
    out: Dict[str, Any] = {}
    for key, value in (values or {}).items():
        param = known.get(key)
        if param is None:
            raise _bad_param(f"unknown parameter {key!r}; known: {', '.join(known)}")
        out[key] = _check_value(param, value)
    return out


_NO_SAM2 = "the sam2 package is not installed in the backend environment"
_TYPES: Dict[str, Tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "choice": (str,),
}


def _check_value(param: Param, value: Scalar) -> Scalar:
    expected = _TYPES[param.type]
    if (isinstance(value, bool) and param.type != "bool") or not isinstance(value, expected):
        raise _bad_param(f"parameter {param.name} must be {param.type}, got {value!r}")
    if param.choices and value not in param.choices:
        raise _bad_param(f"parameter {param.name} must be one of {list(param.choices)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low = -float("inf") if param.minimum is None else param.minimum
        high = float("inf") if param.maximum is None else param.maximum
        if not low <= value <= high:
            raise _bad_param(f"parameter {param.name}={value} outside {low}..{high}")
    return value


def _bad_param(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_FIELD, message)


def _sam2_capability(name: str, config: BackendConfig, note: str) -> Capability:
    label = SAM2_LABELS.get(name, name) + note
    if not sam2_available():
        reason = f"{_NO_SAM2}: run the installer again (python3 installer/install.py)"
        return Capability(name, label, available=False, reason=reason)
    try:
        find_tracker_checkpoint(name, config)
    except ProtocolError as exc:
        return Capability(name, label, available=False, reason=f"{exc.message}. {exc.hint}")
    return Capability(name, label, available=True, params=list(SAM2_PARAMS))


def _cuda_configured(config: BackendConfig) -> bool:
    return config.device != "cpu" and torch.cuda.is_available()
