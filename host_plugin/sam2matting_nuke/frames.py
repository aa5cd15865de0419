"""Frame lists: the protocol's ranges, padding and patterns, plus chunks and track coverage.

Frames are always real frame numbers (1001...), never indices. The rules both sides share
(range meaning, padding, pattern tokens, cache names) live in `sam2matting.protocol.frames` and
`.cache_layout`; they are imported when used, so importing this module needs no protocol. The
few the render check needs on a farm machine are restated below in the standard library.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Iterable, List, Sequence, Tuple

# The protocol's direction names and put_frames limit (protocol/messages.py: DIRECTIONS,
# MAX_BUFFERS); tests/host_plugin/test_shared_rules.py checks that these copies agree.
DIRECTIONS = ("forward", "backward", "both")
MAX_FRAMES_PER_MESSAGE = 64


def to_ranges(frames: Iterable[int]) -> List[List[int]]:
    """[1001, 1002, 1003, 1010] -> [[1001, 1003], [1010, 1010]] (sorted, duplicates dropped)."""
    from sam2matting.protocol import frames as rules

    return rules.to_ranges(frames)


def runs(frames: Iterable[int]) -> List[Tuple[int, int]]:
    """[1001, 1002, 1003, 1010] -> [(1001, 1003), (1010, 1010)] (sorted, duplicates dropped).

    Standard library only: the render check uses it on farm machines where the protocol package
    may not be installed (to_ranges needs it).
    """
    out: List[Tuple[int, int]] = []
    for frame in sorted(set(frames)):
        if out and frame == out[-1][1] + 1:
            out[-1] = (out[-1][0], frame)
        else:
            out.append((frame, frame))
    return out


def from_ranges(ranges: Iterable[Sequence[int]]) -> List[int]:
    """[[1001, 1003], [1010, 1010]] -> [1001, 1002, 1003, 1010]; a reversed pair is an error."""
    from sam2matting.protocol import frames as rules

    return rules.from_ranges(ranges)


def describe_ranges(ranges: Iterable[Sequence[int]], limit: int = 8) -> str:
    """'1001-1003, 1010' for messages; long lists end with '... (N frames in all)'.

    The protocol's wording (protocol/frames.py `describe`) in the standard library: the render
    check's messages use it on farm machines without the protocol package."""
    items = [(int(a), int(b)) for a, b in ranges]
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in items[:limit]]
    if len(items) > limit:
        parts.append(f"... ({sum(b - a + 1 for a, b in items)} frames in all)")
    return ", ".join(parts)


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


# padding, matte_pattern and frame_file are also the protocol's (protocol/frames.py,
# protocol/cache_layout.py), restated here in the standard library because the render check
# uses them on farm machines where the protocol package may not be installed;
# tests/host_plugin/test_shared_rules.py checks that both give the same answers.


def padding(first: int, last: int) -> int:
    """Digits in cache file names: max(4, digits of the largest |frame|) (docs/CACHE_LAYOUT.md)."""
    return max(4, len(str(max(abs(first), abs(last)))))


def matte_pattern(cache_dir: str, first: int, last: int) -> str:
    """The matte sequence a shot's cache holds, as Nuke's Read wants it (####)."""
    name = "matte." + "#" * padding(first, last) + ".exr"
    return (PurePosixPath(cache_dir.replace("\\", "/")) / "matte" / name).as_posix()


def frame_file(pattern: str, frame: int) -> str:
    """A '####' (or '%04d') pattern at a frame; negative frames as Nuke writes them (-005)."""
    printf = re.sub(r"#+", lambda m: f"%0{len(m.group(0))}d", pattern)
    return re.sub(r"%0?(\d*)d", lambda m: f"{frame:0{int(m.group(1) or 1)}d}", printf)
