"""Frame numbers as both sides write them: ranges on the wire, padding and sequence patterns.

The one home of these rules (standard library only: it runs inside Nuke too):

- **Ranges**: inclusive `[first, last]` pairs with `first <= last`, sorted and merged when made
  (`to_ranges`). A reversed pair means nothing: reading one is an error, not a silent empty or
  swapped range.
- **Padding**: file names pad frame numbers to `max(4, digits of the largest |frame|)`, with
  `%0Nd`, so frame -5 with padding 4 is `-005`, as Nuke writes it.
- **Patterns**: one frame token in the file name, Nuke's `####` (one `#` per digit) or printf's
  `%04d` / `%d`.

Frames are real frame numbers (1001...), never indices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Sequence, Set

# One '#' per digit (Nuke), or printf style: %d, %4d, %04d.
TOKEN = re.compile(r"#+|%0?(\d*)d")
PATTERN_HINT = (
    "Name the frame number in the file name with #### (one # per digit) or %04d, "
    "e.g. /shots/sh010/plate/plate.####.exr"
)
MIN_PADDING = 4  # Nuke's '####'


class PatternError(ValueError):
    """A sequence pattern that names no frame, or more than one: message and how to fix it."""

    def __init__(self, message: str, hint: str = PATTERN_HINT) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# ---------------------------------------------------------------- ranges


def to_ranges(frames: Iterable[int]) -> List[List[int]]:
    """[1001, 1002, 1003, 1010] -> [[1001, 1003], [1010, 1010]] (sorted, duplicates dropped)."""
    out: List[List[int]] = []
    for f in sorted({int(f) for f in frames}):
        if out and f == out[-1][1] + 1:
            out[-1][1] = f
        else:
            out.append([f, f])
    return out


def from_ranges(ranges: Iterable[Sequence[int]]) -> List[int]:
    """[[1001, 1003], [1010, 1010]] -> [1001, 1002, 1003, 1010] (sorted, each frame once).

    Raises:
        ValueError: a pair that is not two frames, or that ends before it starts.
    """
    frames: Set[int] = set()
    for pair in ranges:
        if len(pair) != 2:
            raise ValueError(f"frame range {list(pair)} is not a [first, last] pair")
        first, last = int(pair[0]), int(pair[1])
        if last < first:
            raise ValueError(f"frame range [{first}, {last}] ends before it starts")
        frames.update(range(first, last + 1))
    return sorted(frames)


def describe(frames: Iterable[int], limit: int = 20) -> str:
    """'1001-1003, 1010' for messages; past `limit` ranges: '..., ... (N frames in all)'."""
    ranges = to_ranges(frames)
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"... ({sum(b - a + 1 for a, b in ranges)} frames in all)")
    return ", ".join(parts)


# ---------------------------------------------------------------- file names


def padding(first: int, last: int) -> int:
    """Digits in a shot's file names: at least 4 (Nuke's '####'), more when the range needs."""
    return max(MIN_PADDING, len(str(abs(int(first)))), len(str(abs(int(last)))))


def frame_token(frame: int, digits: int) -> str:
    """The frame as a file name shows it: '%0Nd' (-5 with 4 digits is '-005', like Nuke)."""
    return f"{int(frame):0{digits}d}"


def token_digits(token: str) -> int:
    """Digits a pattern token pads to: '####' -> 4, '%04d' -> 4, '%d' -> 0 (no padding)."""
    if token.startswith("#"):
        return len(token)
    match = TOKEN.fullmatch(token)
    if match is None:
        raise PatternError(f"{token!r} is not a frame token")
    return int(match.group(1) or 0)


def hashes(digits: int) -> str:
    """The '####' token for `digits` digits (what Nuke's Read wants)."""
    return "#" * digits


def frame_file(pattern: str, frame: int) -> str:
    """`pattern` with every frame token replaced by `frame` (lenient: a pattern without a token
    is returned as it is; `SequencePattern` is the strict reading for user input)."""
    return TOKEN.sub(lambda m: frame_token(frame, token_digits(m.group(0))), pattern)


@dataclass(frozen=True)
class SequencePattern:
    """A file name with exactly one frame token; `path(1001)` is the file of frame 1001."""

    text: str
    head: str  # the path up to the token
    tail: str  # the path after the token
    padding: int  # digits; 0 or 1: no padding

    @classmethod
    def parse(cls, text: str, what: str = "pattern") -> SequencePattern:
        """Parse `plate.####.exr` or `plate.%04d.exr` (the token must be in the file name).

        Raises:
            PatternError: no token, several tokens, or a token in a folder name.
        """
        tokens = list(TOKEN.finditer(text))
        if not tokens:
            raise PatternError(f"the {what} {text!r} has no frame number")
        if len(tokens) > 1:
            found = ", ".join(t.group(0) for t in tokens)
            raise PatternError(f"the {what} {text!r} has {len(tokens)} frame numbers ({found})")
        if not TOKEN.search(Path(text).name):
            raise PatternError(f"the {what} {text!r} has its frame number in a folder name")
        token = tokens[0]
        return cls(text, text[: token.start()], text[token.end() :], token_digits(token.group(0)))

    def path(self, frame: int) -> Path:
        return Path(f"{self.head}{frame_token(frame, self.padding)}{self.tail}")

    @property
    def folder(self) -> Path:
        return self.path(0).parent
