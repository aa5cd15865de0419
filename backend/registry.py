"""Trackers and matting engines registered as data: a name and the class that implements it.

Every registered class answers the same two class methods:

- `capability(config, name) -> Capability`: whether it runs here (and why not, with the fixing
  command) and the typed options it takes, which is what `describe` advertises;
- `create(name, config, device, options)`: the loaded tracker or engine, with options that
  `Registry.create` has already checked against that capability.

Classes import on first use, so a missing optional package makes its entry unavailable with
the reason instead of failing start-up. Adding an engine is one `Entry` in
`matting/registry.py` and one class (docs/ARCHITECTURE.md, "Adding an engine").
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any, Dict, Generic, List, Mapping, Optional, Sequence, TypeVar

import torch

from sam2matting.backend.capabilities import Capability, Scalar, check_params
from sam2matting.backend.config import BackendConfig
from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

AUTO = "auto"
T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One registered name and where its class is: "package.module:Class"."""

    name: str
    target: str

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


class Registry(Generic[T]):
    """Names in order, best first: "auto" takes the first available one that is no fallback."""

    def __init__(
        self, kind: str, entries: Sequence[Entry], unknown: ErrorCode = ErrorCode.INVALID_FIELD
    ) -> None:
        self.kind = kind  # "tracker", "matting engine": for messages
        self.entries: Dict[str, Entry] = {e.name: e for e in entries}
        self.unknown = unknown  # the error code of a name nobody registered

    def names(self) -> List[str]:
        return list(self.entries)

    def component(self, name: str) -> Any:
        """The class registered as `name` (imported now)."""
        return self._entry(name).load()

    def capability(self, name: str, config: BackendConfig) -> Capability:
        entry = self._entry(name)
        try:
            cls = entry.load()
        except (ImportError, AttributeError) as exc:
            log.debug("%s %s unavailable: %s", self.kind, name, exc)
            return Capability(name, name, False, reason=f"not part of this build ({exc})")
        cap: Capability = cls.capability(config, name)
        return cap

    def capabilities(self, config: BackendConfig) -> List[Capability]:
        return [self.capability(name, config) for name in self.entries]

    def resolve(
        self,
        wanted: str,
        default: str,
        caps: Optional[Sequence[Capability]] = None,
        config: Optional[BackendConfig] = None,
    ) -> str:
        """A concrete, available name: `wanted`, or for "auto" the configured default, or the
        best available entry (a fallback only when nothing else runs).

        Raises:
            ProtocolError: an unknown name, or MODEL_UNAVAILABLE with the reason it cannot run.
        """
        if caps is None:
            assert config is not None, "give the capabilities or the config to compute them"
            caps = self.capabilities(config)
        if wanted == AUTO:
            wanted = default
        if wanted == AUTO:
            available = [c for c in caps if c.available]
            best = [c for c in available if not c.fallback] or available
            if not best:
                raise ProtocolError(
                    ErrorCode.MODEL_UNAVAILABLE, f"no {self.kind} can run on this machine"
                )
            return best[0].name
        for cap in caps:
            if cap.name == wanted:
                if not cap.available:
                    raise ProtocolError(
                        ErrorCode.MODEL_UNAVAILABLE,
                        f"{self.kind} {wanted} is unavailable: {cap.reason}",
                    )
                return cap.name
        self._entry(wanted)  # raises for a name nobody registered
        raise ProtocolError(ErrorCode.MODEL_UNAVAILABLE, f"{self.kind} {wanted} cannot run here")

    def check_options(
        self,
        name: str,
        config: BackendConfig,
        options: Optional[Mapping[str, Any]],
        path: str = "params",
    ) -> Dict[str, Scalar]:
        """Options for `name` checked against the parameters its capability advertises."""
        return check_params(self.capability(name, config).params, options, path)

    def create(
        self,
        name: str,
        config: BackendConfig,
        device: torch.device,
        options: Optional[Mapping[str, Any]] = None,
    ) -> T:
        """Load `name` on `device` with `options` checked against its advertised params.

        Raises:
            ProtocolError: INVALID_FIELD for a bad option; whatever the class raises when it
                cannot load (MODEL_UNAVAILABLE, CHECKPOINT_INVALID, with the fixing command).
        """
        cap = self.capability(name, config)
        values = check_params(cap.params, options)
        try:
            cls = self.component(name)
        except (ImportError, AttributeError) as exc:
            raise ProtocolError(
                ErrorCode.MODEL_UNAVAILABLE, f"{self.kind} {name} is unavailable: {cap.reason}"
            ) from exc
        made: T = cls.create(name, config, device, values)
        return made

    def _entry(self, name: str) -> Entry:
        entry = self.entries.get(name)
        if entry is None:
            raise ProtocolError(
                self.unknown,
                f"unknown {self.kind} {name!r}",
                hint=f"Choose one of: {', '.join([AUTO, *self.entries])}.",
                details={"name": name},
            )
        return entry
