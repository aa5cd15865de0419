"""PROTOCOL.md's generated parts: the limits table and the field reference of every message.

Generated from `limits.py` and `messages.py`, so the document cannot drift from the code
(`tests/protocol/test_spec.py` compares). After changing either, regenerate with

    python -m sam2matting.protocol.spec_doc --write
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Callable, List, Tuple

from . import limits, messages
from .schema import Bool, Field, Float, Int, ListOf, Map, Nullable, Record, Scalar, Spec, Str

SPEC_FILE = Path(__file__).resolve().parent / "PROTOCOL.md"
LIMITS_BEGIN, LIMITS_END = "<!-- limits: generated -->", "<!-- /limits -->"
FIELDS_BEGIN, FIELDS_END = "<!-- fields: generated -->", "<!-- /fields -->"


def describe(spec: Spec) -> str:
    """A compact type with its bounds: 'int [1, 10000]', 'list of 2..2 × (number ...)'."""
    for kind, render in _RENDERERS:
        if isinstance(spec, kind):
            return render(spec)
    return type(spec).__name__


def _describe_str(spec: Str) -> str:
    if spec.choices:
        return "one of " + ", ".join(f"`{c}`" for c in spec.choices)
    text = f"string ({spec.min_len}..{spec.max_len} chars"
    if spec.pattern is not None:
        text += f", `{spec.pattern.pattern}`"
    return text + ")"


_RENDERERS: List[Tuple[type, Callable[[Any], str]]] = [
    (Nullable, lambda s: f"{describe(s.inner)} or null"),
    (Str, _describe_str),
    (Int, lambda s: f"int [{s.lo}, {s.hi}]"),
    (Float, lambda s: f"number [{s.lo:g}, {s.hi:g}]"),
    (Bool, lambda s: "bool"),
    (Scalar, lambda s: "string (≤ 1024), number, bool or null"),
    (ListOf, lambda s: f"list of {s.min_len}..{s.max_len} × ({describe(s.item)})"),
    (Map, lambda s: f"object of ≤ {s.max_items} name → ({describe(s.value)})"),
    (Record, lambda s: "object (" + ", ".join(s.fields) + ")"),
]


def _default(field: Field) -> str:
    if field.required:
        return "required"
    return f"optional, default `{_json(field.default)}`"


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def record_rows(record: Record, prefix: str = "") -> List[str]:
    rows = []
    for name, field in record.fields.items():
        spec = field.spec.inner if isinstance(field.spec, Nullable) else field.spec
        rows.append(f"| {prefix}{name} | {describe(field.spec)} | {_default(field)} |")
        inner = spec.item if isinstance(spec, ListOf) else spec
        if isinstance(inner, Record) and inner.fields:
            rows += record_rows(inner, f"{prefix}{name}{'[]' if spec is not inner else ''}.")
    return rows


def fields_reference() -> str:
    parts = []
    for msg_type in messages.MESSAGE_TYPES:
        record = messages.CONTENT[msg_type]
        assert isinstance(record, Record)
        parts.append(f"#### {msg_type}\n")
        if not record.fields:
            parts.append("No fields: the content is `{}`.\n")
            continue
        parts.append("| field | type and bounds | presence |\n|---|---|---|")
        parts.append("\n".join(record_rows(record)) + "\n")
    header = messages.HEADER
    parts.append("#### header (every message)\n")
    parts.append("| field | type and bounds | presence |\n|---|---|---|")
    parts.append("\n".join(record_rows(header)) + "\n")
    return "\n".join(parts).rstrip() + "\n"


def generated(text: str) -> str:
    """`text` (PROTOCOL.md) with both generated blocks replaced by fresh ones."""
    text = _replace(text, LIMITS_BEGIN, LIMITS_END, limits.limits_table() + "\n")
    return _replace(text, FIELDS_BEGIN, FIELDS_END, fields_reference())


def _replace(text: str, begin: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"PROTOCOL.md lacks the markers {begin} ... {end}")
    return pattern.sub(lambda _: f"{begin}\n{body}{end}", text)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite PROTOCOL.md in place")
    args = parser.parse_args(argv)
    current = SPEC_FILE.read_text(encoding="utf-8")
    fresh = generated(current)
    if args.write:
        SPEC_FILE.write_text(fresh, encoding="utf-8")
        return 0
    sys.stdout.write(fresh)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
