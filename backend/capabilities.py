"""What a tracker or matting engine offers, as `describe` reports it to the host.

Each engine and tracker module describes itself with a `Capability`; optional ones that cannot
run here report `available=False` with a plain-words reason instead of failing start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

Scalar = Union[str, int, float, bool, None]


@dataclass(frozen=True)
class Param:
    """A typed, user-facing parameter (the host builds its knobs from these)."""

    name: str
    type: str  # "int" | "float" | "bool" | "choice" | "str"
    default: Scalar
    help: str
    choices: Sequence[str] = ()
    minimum: Optional[float] = None
    maximum: Optional[float] = None

    def to_wire(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
        }
        if self.choices:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        return out


@dataclass(frozen=True)
class Capability:
    """One tracker or matting engine: whether it runs here, and why not if it does not."""

    name: str
    label: str
    available: bool
    reason: Optional[str] = None  # why unavailable, in plain words, with the fixing command
    fallback: bool = False  # True for the weight-free stand-ins
    params: List[Param] = field(default_factory=list)

    def to_wire(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "available": self.available,
            "reason": self.reason,
            "fallback": self.fallback,
            "params": [p.to_wire() for p in self.params],
        }
