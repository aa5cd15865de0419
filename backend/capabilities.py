"""What a tracker or matting engine offers, as `describe` reports it to the host.

Each engine and tracker module describes itself with a `Capability`; optional ones that cannot
run here report `available=False` with a plain-words reason instead of failing start-up. The
typed `Param`s are the options a host may send (`tracker_params`, `engine_params`, a shot
file's `params`): `check_params` holds every sent value to what `describe` advertised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union, cast

from sam2matting.protocol.errors import ErrorCode, ProtocolError

Scalar = Union[str, int, float, bool, None]
# Param.type -> the JSON values it accepts (a bool is never a number, an int is a float).
_TYPES: Dict[str, Tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "choice": (str,),
}


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

    def check(self, value: Any, path: str) -> Scalar:
        """The value if it has this parameter's type, choices and range; else INVALID_FIELD."""
        if isinstance(value, bool) != (self.type == "bool") or not isinstance(
            value, _TYPES[self.type]
        ):
            raise _bad_param(path, f"{self.name} must be {self.type}, got {value!r}")
        if self.choices and value not in self.choices:
            choices = ", ".join(self.choices)
            raise _bad_param(path, f"{self.name} must be one of {choices}, not {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low = -float("inf") if self.minimum is None else self.minimum
            high = float("inf") if self.maximum is None else self.maximum
            if not low <= value <= high:
                raise _bad_param(path, f"{self.name}={value} is outside {low:g}..{high:g}")
        return cast(Scalar, value)


@dataclass(frozen=True)
class Capability:
    """One tracker or matting engine: whether it runs here, and why not if it does not."""

    name: str
    label: str
    available: bool
    reason: Optional[str] = None  # why unavailable, in plain words, with the fixing command
    fallback: bool = False  # True for the weight-free stand-ins
    params: List[Param] = field(default_factory=list)

    # the tracker whose features this engine needs (the SAM2Matting heads); not on the wire
    requires_tracker: Optional[str] = None

    def to_wire(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "available": self.available,
            "reason": self.reason,
            "fallback": self.fallback,
            "params": [p.to_wire() for p in self.params],
        }


def check_params(
    spec: Sequence[Param], values: Optional[Mapping[str, Any]], path: str = "params"
) -> Dict[str, Scalar]:
    """Host-sent option values checked against their typed description (what `describe` says).

    Raises:
        ProtocolError: INVALID_FIELD for an unknown option or a value of the wrong type, choice
            or range, naming the field (`path.name`) and the options that exist.
    """
    known = {p.name: p for p in spec}
    out: Dict[str, Scalar] = {}
    for key, value in (values or {}).items():
        param = known.get(key)
        if param is None:
            listing = ", ".join(known) or "none"
            raise _bad_param(f"{path}.{key}", f"unknown option {key!r}; this one takes: {listing}")
        out[key] = param.check(value, f"{path}.{key}")
    return out


def _bad_param(path: str, message: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.INVALID_FIELD,
        f"{path}: {message}",
        hint="The backend's describe reply lists each tracker's and engine's options.",
        details={"field": path},
    )
