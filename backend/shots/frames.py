"""Frame numbers: sets as inclusive ranges [[first, last], ...] (as the protocol sends them) and
zero-padded numbers in file names (as Nuke's '####' reads them)."""

from __future__ import annotations

from typing import Iterable, Sequence, Set

from sam2matting.protocol.schema import frame_ranges as to_ranges

__all__ = ["frame_token", "from_ranges", "padding_for", "to_ranges"]


def from_ranges(ranges: Iterable[Sequence[int]]) -> Set[int]:
    """[[1001, 1003]] -> {1001, 1002, 1003}; a reversed pair counts the same as its sorted one."""
    frames: Set[int] = set()
    for first, last in ranges:
        low, high = sorted((int(first), int(last)))
        frames.update(range(low, high + 1))
    return frames


def padding_for(first_frame: int, last_frame: int) -> int:
    """Digits in file names: at least 4 (Nuke's '####'), more when the range needs them."""
    digits = max(len(str(abs(first_frame))), len(str(abs(last_frame))))
    return max(4, digits)


def frame_token(frame: int, padding: int) -> str:
    """The frame as a file name shows it: '%0Nd', so -5 with padding 4 is '-005' like Nuke's."""
    return f"{frame:0{padding}d}"
