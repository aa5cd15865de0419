"""Frame lists: the protocol's ranges, padding and patterns, plus chunks and track coverage.

Frames are always real frame numbers (1001...), never indices. The rules both sides share
(range meaning, padding, pattern tokens, cache names) live in `sam2matting.protocol.frames` and
`.cache_layout`; they are imported when used, so importing this module needs no protocol.
"""

from __future__ import annotations

from typing import Iterable, List, Sequence

# The protocol's direction names and put_frames limit (protocol/messages.py: DIRECTIONS,
# MAX_BUFFERS); tests/host_plugin/test_shared_rules.py checks that these copies agree.
DIRECTIONS = ("forward", "backward", "both")
MAX_FRAMES_PER_MESSAGE = 64


def to_ranges(frames: Iterable[int]) -> List[List[int]]:
    """[1001, 1002, 1003, 1010] -> [[1001, 1003], [1010, 1010]] (sorted, duplicates dropped)."""
    from sam2matting.protocol import frames as rules

    return rules.to_ranges(frames)


def from_ranges(ranges: Iterable[Sequence[int]]) -> List[int]:
    """[[1001, 1003], [1010, 1010]] -> [1001, 1002, 1003, 1010]; a reversed pair is an error."""
    from sam2matting.protocol import frames as rules

    return rules.from_ranges(ranges)


def describe_ranges(ranges: Iterable[Sequence[int]], limit: int = 8) -> str:
    """'1001-1003, 1010' for messages; long lists end with '... (N frames in all)'."""
    from sam2matting.protocol import frames as rules

    return rules.describe(rules.from_ranges(ranges), limit)


def covered(direction: str, start: int, first: int, last: int) -> List[int]:
    """The frames a track from `start` in `direction` over first..last touches, in order."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    if not first <= start <= last:
        raise ValueError(f"start frame {start} is outside the range {first}-{last}")
    forward = list(range(start, last + 1))
    backward = list(range(start, first - 1, -1))
    if direction == "forward":
        return forward
    if direction == "backward":
        return backward
    return forward + backward[1:]


def missing(frames: Iterable[int], stored: Iterable[Sequence[int]]) -> List[int]:
    """Frames of `frames` not in the `stored` ranges, sorted."""
    have = set(from_ranges(stored))
    return sorted(set(frames) - have)


def chunks(frames: Sequence[int], size: int = MAX_FRAMES_PER_MESSAGE) -> List[List[int]]:
    """Consecutive pieces of at most `size` frames."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    return [list(frames[i : i + size]) for i in range(0, len(frames), size)]


def padding(first: int, last: int) -> int:
    """Digits in cache file names: max(4, digits of the largest |frame|) (docs/CACHE_LAYOUT.md)."""
    from sam2matting.protocol import frames as rules

    return rules.padding(first, last)


def matte_pattern(cache_dir: str, first: int, last: int) -> str:
    """The matte sequence a shot's cache holds, as Nuke's Read wants it (####)."""
    from sam2matting.protocol import cache_layout

    return cache_layout.matte_pattern(cache_dir, first, last)


def frame_file(pattern: str, frame: int) -> str:
    """A '####' (or '%04d') pattern at a frame; negative frames as Nuke writes them (-005)."""
    from sam2matting.protocol import frames as rules

    return rules.frame_file(pattern, frame)
