"""Loaded trackers and matting engines, shared by every shot (one copy of each model).

Names are resolved and checked when a shot opens (cheap: registries and checkpoint checks);
weights load on first use in the GPU worker.
"""

from __future__ import annotations

import logging
import threading
from typing import Dict, List, Tuple

import torch

import sam2matting.backend.matting.registry as engines
import sam2matting.backend.tracking.registry as trackers
from sam2matting.backend.capabilities import Capability
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting.base import MattingEngine
from sam2matting.backend.tracking.base import Tracker
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)


class ModelPool:
    def __init__(self, config: BackendConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        self._trackers: Dict[str, Tracker] = {}
        self._engines: Dict[str, MattingEngine] = {}
        self._lock = threading.Lock()

    def capabilities(self) -> Tuple[List[Capability], List[Capability]]:
        return trackers.tracker_capabilities(self.config), engines.engine_capabilities(self.config)

    def resolve(self, tracker: str, engine: str) -> Tuple[str, str]:
        """Concrete, available names for a shot's choices ('auto' picks the best available).

        The engine is resolved for the chosen tracker: heads need their own tracker's features.
        """
        tracker_caps = trackers.tracker_capabilities(self.config)
        tracker_name = _pick("tracker", tracker, tracker_caps, self.config.default_tracker)
        return tracker_name, engines.resolve_engine(engine, self.config, tracker_name)

    def tracker(self, name: str) -> Tracker:
        with self._lock:
            if name not in self._trackers:
                log.info("loading tracker %s on %s", name, self.device)
                self._trackers[name] = trackers.load_tracker(name, self.config, self.device)
            return self._trackers[name]

    def engine(self, name: str) -> MattingEngine:
        with self._lock:
            if name not in self._engines:
                log.info("loading matting engine %s on %s", name, self.device)
                self._engines[name] = engines.load_engine(name, self.config, self.device)
            return self._engines[name]


def _pick(kind: str, wanted: str, caps: List[Capability], default: str) -> str:
    available = [c for c in caps if c.available]
    if wanted == "auto":
        wanted = default
    if wanted == "auto":
        # Registries list their entries best first; a fallback is used only if nothing else runs.
        best = [c for c in available if not c.fallback] or available
        if not best:
            raise ProtocolError(ErrorCode.MODEL_UNAVAILABLE, f"no {kind} can run on this machine")
        return best[0].name
    for cap in caps:
        if cap.name == wanted:
            if not cap.available:
                raise ProtocolError(
                    ErrorCode.MODEL_UNAVAILABLE, f"{kind} {wanted} is unavailable: {cap.reason}"
                )
            return cap.name
    names = ", ".join(c.name for c in caps)
    raise ProtocolError(
        ErrorCode.MODEL_UNAVAILABLE, f"unknown {kind} {wanted!r}", hint=f"Choose one of: {names}."
    )
