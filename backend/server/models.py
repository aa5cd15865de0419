"""Loaded trackers and matting engines, shared by every shot (one copy of each model).

Names and options are resolved and checked when a shot opens (cheap: registries, checkpoint
checks, the options against what `describe` advertises); weights load on first use in the GPU
worker. A tracker or engine loaded with other options is another instance.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

import sam2matting.backend.matting.registry as engines
import sam2matting.backend.tracking.registry as trackers
from sam2matting.backend.capabilities import Capability, Scalar
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting.base import MattingEngine
from sam2matting.backend.tracking.base import Tracker

log = logging.getLogger(__name__)

_Key = Tuple[str, Tuple[Tuple[str, Any], ...]]


@dataclass(frozen=True)
class Choice:
    """A shot's concrete tracker and engine and their checked options (only those sent)."""

    tracker: str
    engine: str
    tracker_params: Mapping[str, Scalar]
    engine_params: Mapping[str, Scalar]


class ModelPool:
    def __init__(self, config: BackendConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        self._trackers: Dict[_Key, Tracker] = {}
        self._engines: Dict[_Key, MattingEngine] = {}
        self._lock = threading.Lock()

    def capabilities(self) -> Tuple[List[Capability], List[Capability]]:
        return trackers.tracker_capabilities(self.config), engines.engine_capabilities(self.config)

    def resolve(
        self,
        tracker: str,
        engine: str,
        params: Optional[Mapping[str, Mapping[str, Any]]] = None,
    ) -> Choice:
        """Concrete, available names for a shot's choices ('auto' picks the best available),
        and their options checked against the chosen tracker's and engine's params.

        The engine is resolved for the chosen tracker: heads need their own tracker's features.

        Raises:
            ProtocolError: MODEL_UNAVAILABLE (with the reason), or INVALID_FIELD naming the
                option that the chosen tracker or engine does not take or that is out of range.
        """
        params = params or {}
        tracker_name = trackers.resolve_tracker(tracker, self.config)
        engine_name = engines.resolve_engine(engine, self.config, tracker_name)
        return Choice(
            tracker=tracker_name,
            engine=engine_name,
            tracker_params=trackers.TRACKERS.check_options(
                tracker_name, self.config, params.get("tracker"), "tracker_params"
            ),
            engine_params=engines.check_engine_options(
                engine_name, self.config, params.get("engine"), "engine_params"
            ),
        )

    def tracker(self, name: str, options: Optional[Mapping[str, Scalar]] = None) -> Tracker:
        key = _key(name, options)
        with self._lock:
            if key not in self._trackers:
                log.info("loading tracker %s %s on %s", name, dict(key[1]), self.device)
                self._trackers[key] = trackers.load_tracker(
                    name, self.config, self.device, dict(key[1])
                )
            return self._trackers[key]

    def engine(self, name: str, options: Optional[Mapping[str, Scalar]] = None) -> MattingEngine:
        key = _key(name, options)
        with self._lock:
            if key not in self._engines:
                log.info("loading matting engine %s %s on %s", name, dict(key[1]), self.device)
                self._engines[key] = engines.load_engine(
                    name, self.config, self.device, options=dict(key[1])
                )
            return self._engines[key]


def _key(name: str, options: Optional[Mapping[str, Scalar]]) -> _Key:
    return name, tuple(sorted((options or {}).items()))
