"""Image sequence patterns (`plate.####.exr`, `plate.%04d.exr`) and frame ranges (`1001-1240`).

Frame numbers are real frame numbers, as Nuke writes them: `####` and `%04d` pad to four digits,
a longer number is written whole (`12345`), a negative one keeps its sign inside the padding
(`-005`), as `shots.frames.frame_token` does for the matte cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Tuple

from sam2matting.backend.errors import UsageError
from sam2matting.backend.shots.frames import frame_token, to_ranges

# One '#' per digit (Nuke), or printf style: %d, %4d, %04d.
_TOKEN = re.compile(r"#+|%0?(\d*)d")
_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$")
PATTERN_HINT = (
    "Name the frame number in the file name with #### (one # per digit) or %04d, "
    "e.g. /shots/sh010/plate/plate.####.exr"
)


@dataclass(frozen=True)
class SequencePattern:
    """A file name with one frame-number token; `path(1001)` is the file of frame 1001."""

    text: str
    head: str  # the path up to the token
    tail: str  # the path after the token
    padding: int  # digits; 0 or 1: no padding

    @classmethod
    def parse(cls, text: str, what: str = "pattern") -> SequencePattern:
        """Parse `plate.####.exr` or `plate.%04d.exr` (the token must be in the file name).

        Raises:
            UsageError: no token, several tokens, or a token in a folder name.
        """
        name = Path(text).name
        tokens = list(_TOKEN.finditer(text))
        if not tokens:
            raise UsageError(f"the {what} {text!r} has no frame number", PATTERN_HINT)
        if len(tokens) > 1:
            found = ", ".join(t.group(0) for t in tokens)
            raise UsageError(f"the {what} {text!r} has {len(tokens)} frame numbers ({found})",
                             PATTERN_HINT)  # fmt: skip
        token = tokens[0]
        if not _TOKEN.search(name):
            raise UsageError(f"the {what} {text!r} has its frame number in a folder name",
                             PATTERN_HINT)  # fmt: skip
        if token.group(0).startswith("#"):
            padding = len(token.group(0))
        else:
            padding = int(token.group(1) or 0)
        return cls(text, text[: token.start()], text[token.end() :], padding)

    def path(self, frame: int) -> Path:
        return Path(f"{self.head}{frame_token(frame, self.padding)}{self.tail}")

    @property
    def folder(self) -> Path:
        return self.path(0).parent


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
        raise UsageError(f"frame range {text!r} ends before it starts",
                         f"Did you mean {last}-{first}?")  # fmt: skip
    return first, last


def check_within(frames: Tuple[int, int], first: int, last: int) -> None:
    """Raises UsageError when `frames` (first, last) reach outside the shot's `first`-`last`."""
    if frames[0] < first or frames[1] > last:
        raise UsageError(f"frames {frames[0]}-{frames[1]} are outside the shot's range "
                         f"{first}-{last}", f"Use --frames within {first}-{last}.")  # fmt: skip


def describe_frames(frames: Iterable[int], limit: int = 20) -> str:
    """'1001-1003, 1010' for a list of frame numbers (at most `limit` ranges, then '...')."""
    ranges = to_ranges(frames)
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"... ({sum(b - a + 1 for a, b in ranges)} frames in all)")
    return ", ".join(parts)

