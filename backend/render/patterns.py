"""Command-line sequence patterns and frame ranges: `plate.####.exr`, `1001-1240`.

The rules (tokens, padding, negative frames) are the protocol's (`sam2matting.protocol.frames`),
shared with the Nuke plugin; this module turns what a user typed into them, with usage errors
that say how to write it.
"""

from __future__ import annotations

import re
from typing import Tuple

from sam2matting.backend.errors import UsageError
from sam2matting.protocol.frames import PatternError, SequencePattern

__all__ = ["SequencePattern", "check_within", "parse_frame_range", "sequence_pattern"]

_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$")


def sequence_pattern(text: str, what: str = "pattern") -> SequencePattern:
    """`SequencePattern.parse`, with a bad pattern as a UsageError (message and hint)."""
    try:
        return SequencePattern.parse(text, what)
    except PatternError as exc:
        raise UsageError(exc.message, exc.hint) from exc


def parse_frame_range(text: str) -> Tuple[int, int]:
    """'1001-1240' -> (1001, 1240); '1001' -> (1001, 1001); '-10--5' -> (-10, -5).

    Raises:
        UsageError: not a range, or first > last.
    """
    match = _RANGE.match(text)
    if match is None:
        raise UsageError(f"bad frame range {text!r}", "Write it as FIRST-LAST, e.g. 1001-1240")
    first = int(match.group(1))
    last = first if match.group(2) is None else int(match.group(2))
    if last < first:
        raise UsageError(
            f"frame range {text!r} ends before it starts", f"Did you mean {last}-{first}?"
        )
    return first, last


def check_within(frames: Tuple[int, int], first: int, last: int) -> None:
    """Raises UsageError when `frames` (first, last) reach outside the shot's `first`-`last`."""
    if frames[0] < first or frames[1] > last:
        raise UsageError(
            f"frames {frames[0]}-{frames[1]} are outside the shot's range {first}-{last}",
            f"Use --frames within {first}-{last}.",
        )
