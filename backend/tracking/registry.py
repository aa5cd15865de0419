"""The trackers, as data: name -> class.

SAM2.1 trackers are available when their verified checkpoint is installed (the stock SAM2.1
file, or an official SAM2Matting file that bundles the same tracker); `flow` needs no weights
and is always available, as the labelled fallback. Nothing here downloads. Each class answers
`capability(config, name)` and `create(name, config, device, options)` (`Tracker`);
`backend/registry.py` does the rest.
"""

from __future__ import annotations

import logging
from typing import List, Mapping, Optional, Union

import torch

from sam2matting.backend.capabilities import Capability, Scalar
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.model_files import SAM2_TRACKERS
from sam2matting.backend.registry import AUTO, Entry, Registry
from sam2matting.backend.tracking.base import Tracker
from sam2matting.backend.tracking.sam2_model import (
    cuda_configured,
    find_tracker_checkpoint,
    tracker_files,
)

__all__ = ["AUTO", "TRACKERS", "find_tracker_checkpoint", "load_tracker", "tracker_files"]

log = logging.getLogger(__name__)

FLOW = "flow"
TRACKERS: Registry[Tracker] = Registry(
    "tracker",
    [
        *(Entry(n, "sam2matting.backend.tracking.sam2_model:SAM2Tracker") for n in SAM2_TRACKERS),
        Entry(FLOW, "sam2matting.backend.tracking.flow:FlowTracker"),
    ],
)


def tracker_capabilities(config: BackendConfig) -> List[Capability]:
    """Every tracker, available or not (with the reason and the fixing command), best first.

    Best on a GPU is the largest SAM2.1 model; on the CPU the smallest (large takes tens of
    seconds a frame there); the flow fallback comes last.
    """
    caps = TRACKERS.capabilities(config)
    sam2 = [c for c in caps if c.name in SAM2_TRACKERS]
    rest = [c for c in caps if c.name not in SAM2_TRACKERS]
    return [*(sam2[::-1] if cuda_configured(config) else sam2), *rest]


def resolve_tracker(name: str, config: BackendConfig) -> str:
    """A concrete, available tracker name ("auto": the best available, flow as the fallback)."""
    return TRACKERS.resolve(name, config.default_tracker, tracker_capabilities(config))


def load_tracker(
    name: str,
    config: BackendConfig,
    device: Union[torch.device, str],
    params: Optional[Mapping[str, Scalar]] = None,
) -> Tracker:
    """Load a tracker by name; "auto" is the best available SAM2.1 model, else the flow fallback."""
    if name == AUTO:
        name = best_available(config)
    return TRACKERS.create(name, config, torch.device(device), params)


def best_available(config: BackendConfig) -> str:
    """The first available tracker in tracker_capabilities' order (best first), flow last."""
    for cap in tracker_capabilities(config):
        if cap.available and not cap.fallback:
            return cap.name
    log.warning("no SAM2.1 checkpoint installed: using the optical-flow fallback tracker")
    return FLOW
