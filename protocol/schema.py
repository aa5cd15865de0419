"""A small declarative validator for message content (stdlib only: it runs inside Nuke too).

Every field of every message is checked for type, range and size; a failure names the field's
path (``content.points[2][0]``) in an ``invalid_field`` error. Validation returns a normalised
copy with defaults filled in, so handlers never see a missing optional field.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from .errors import ErrorCode, ProtocolError

_MISSING = object()


def _key(name: str) -> str:
    """A peer's field name as an error shows it: plain names as they are, others quoted."""
    return name if re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", name) else ascii(name[:64])


def invalid(path: str, why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_FIELD, f"{path}: {why}", details={"field": path})


class Spec:
    """Checks one value; returns it normalised or raises an ``invalid_field`` ProtocolError."""

    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        """Short human description, used in PROTOCOL.md-facing error messages."""
        return type(self).__name__.lower()


class Str(Spec):
    def __init__(
        self,
        max_len: int = 256,
        min_len: int = 0,
        choices: Optional[Sequence[str]] = None,
        pattern: Optional[str] = None,
    ) -> None:
        self.max_len = max_len
        self.min_len = min_len
        self.choices = tuple(choices) if choices else None
        self.pattern = re.compile(pattern) if pattern else None

    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        if not isinstance(value, str):
            raise invalid(path, f"expected a string, got {_kind(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise invalid(path, f"length {len(value)} outside [{self.min_len}, {self.max_len}]")
        if self.choices is not None and value not in self.choices:
            raise invalid(path, f"{value!r} is not one of {', '.join(self.choices)}")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise invalid(path, f"{value!r} does not match {self.pattern.pattern}")
        if "\x00" in value:
            raise invalid(path, "NUL characters are not allowed")
        return value


class Int(Spec):
    def __init__(self, lo: int = -(2**31), hi: int = 2**31 - 1) -> None:
        self.lo, self.hi = lo, hi

    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        # bool is an int in Python; on the wire true/false are not numbers.
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(path, f"expected an integer, got {_kind(value)}")
        if not self.lo <= value <= self.hi:
            raise invalid(path, f"{value} outside [{self.lo}, {self.hi}]")
        return value


class Float(Spec):
    def __init__(self, lo: float = -1e9, hi: float = 1e9) -> None:
        self.lo, self.hi = lo, hi

    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid(path, f"expected a number, got {_kind(value)}")
        if not math.isfinite(value) or not self.lo <= value <= self.hi:
            raise invalid(path, f"{value} outside [{self.lo}, {self.hi}]")
        return float(value)


class Bool(Spec):
    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        if not isinstance(value, bool):
            raise invalid(path, f"expected true or false, got {_kind(value)}")
        return value


class Scalar(Spec):
    """A JSON scalar: string (bounded), finite number, bool or null (parameter defaults)."""

    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return Float(-1e18, 1e18).check(value, path) if isinstance(value, float) else value
        return Str(max_len=1024).check(value, path)


class Nullable(Spec):
    def __init__(self, inner: Spec) -> None:
        self.inner = inner

    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        return None if value is None else self.inner.check(value, path, lenient)


class ListOf(Spec):
    def __init__(self, item: Spec, min_len: int = 0, max_len: int = 1024) -> None:
        self.item, self.min_len, self.max_len = item, min_len, max_len

    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        if not isinstance(value, list):
            raise invalid(path, f"expected a list, got {_kind(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise invalid(path, f"{len(value)} items, expected {self.min_len} to {self.max_len}")
        return [self.item.check(v, f"{path}[{i}]", lenient) for i, v in enumerate(value)]


class Map(Spec):
    """A dict of free keys (bounded identifiers) to values of one spec (engine params)."""

    def __init__(self, value: Spec, max_items: int = 64) -> None:
        self.value, self.max_items = value, max_items

    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        if not isinstance(value, dict):
            raise invalid(path, f"expected an object, got {_kind(value)}")
        if len(value) > self.max_items:
            raise invalid(path, f"{len(value)} entries, at most {self.max_items}")
        key_spec = Str(max_len=64, min_len=1, pattern=r"[A-Za-z_][A-Za-z0-9_.\-]*")
        return {
            key_spec.check(k, f"{path}.<key>"): self.value.check(v, f"{path}.{k}")
            for k, v in value.items()
        }


class Field:
    """One record field: its spec, whether it is required, and its default."""

    def __init__(self, spec: Spec, required: bool = True, default: Any = _MISSING) -> None:
        self.spec = spec
        self.required = required and default is _MISSING
        self.default = default


def opt(spec: Spec, default: Any = None) -> Field:
    """An optional field with a default (None unless given)."""
    return Field(spec, required=False, default=default)


Check = Callable[[Dict[str, Any], str], None]


class Record(Spec):
    """A JSON object with known fields.

    Unknown fields are rejected (a typo in a field name is a bug we want to hear about), except
    when ``lenient`` is set: a peer with a newer minor protocol version may send optional fields
    this side does not know yet; those are dropped.
    """

    def __init__(self, fields: Mapping[str, Field], checks: Sequence[Check] = ()) -> None:
        self.fields = dict(fields)
        self.checks = tuple(checks)

    def check(self, value: Any, path: str, lenient: bool = False) -> Any:
        if not isinstance(value, dict):
            raise invalid(path, f"expected an object, got {_kind(value)}")
        unknown = sorted(set(value) - set(self.fields))
        if unknown and not lenient:
            raise invalid(f"{path}.{_key(unknown[0])}", "unknown field")
        out: Dict[str, Any] = {}
        for name, field in self.fields.items():
            sub = f"{path}.{name}"
            if name in value:
                out[name] = field.spec.check(value[name], sub, lenient)
            elif field.required:
                raise invalid(sub, "missing required field")
            else:
                out[name] = _copy_default(field.default)
        for check in self.checks:
            check(out, path)
        return out


def _copy_default(default: Any) -> Any:
    if isinstance(default, (list, dict)):
        return type(default)(default)
    return None if default is _MISSING else default


def _kind(value: Any) -> str:
    return {
        type(None): "null",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


# ---------------------------------------------------------------- shared cross-field checks


def one_of(*names: str) -> Check:
    """Exactly one of these fields must be non-null."""

    def check(record: Dict[str, Any], path: str) -> None:
        present = [n for n in names if record.get(n) is not None]
        if len(present) != 1:
            raise invalid(path, f"give exactly one of {', '.join(names)} (got {len(present)})")

    return check


def ordered(lo: str, hi: str) -> Check:
    """record[lo] <= record[hi] when both are set."""

    def check(record: Dict[str, Any], path: str) -> None:
        a, b = record.get(lo), record.get(hi)
        if a is not None and b is not None and a > b:
            raise invalid(f"{path}.{hi}", f"{hi} ({b}) is before {lo} ({a})")

    return check


def same_length(a: str, b: str) -> Check:
    def check(record: Dict[str, Any], path: str) -> None:
        if len(record[a]) != len(record[b]):
            raise invalid(f"{path}.{b}", f"{len(record[b])} {b} for {len(record[a])} {a}")

    return check
