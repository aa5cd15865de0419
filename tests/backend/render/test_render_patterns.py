"""Sequence patterns, frame ranges and the frame-list wording used in messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam2matting.backend.errors import UsageError
from sam2matting.backend.render.patterns import parse_frame_range, sequence_pattern
from sam2matting.protocol.frames import SequencePattern
from sam2matting.protocol.frames import describe as describe_frames


@pytest.mark.parametrize(
    ("text", "frame", "expected"),
    [
        ("/shots/sh010/plate.####.exr", 1001, "/shots/sh010/plate.1001.exr"),
        ("/shots/sh010/plate.####.exr", 7, "/shots/sh010/plate.0007.exr"),
        ("/shots/sh010/plate.####.exr", 12345, "/shots/sh010/plate.12345.exr"),
        ("/shots/sh010/plate.####.exr", -5, "/shots/sh010/plate.-005.exr"),
        ("plate.%04d.exr", 42, "plate.0042.exr"),
        ("plate.%4d.exr", 42, "plate.0042.exr"),
        ("plate.%d.exr", 42, "plate.42.exr"),
        ("plate_######.dpx", 1001, "plate_001001.dpx"),
        ("/a/b/####.exr", 3, "/a/b/0003.exr"),
    ],
)
def test_pattern_paths(text, frame, expected):
    assert SequencePattern.parse(text).path(frame) == Path(expected)


def test_pattern_folder_is_the_files_folder():
    assert SequencePattern.parse("/a/b/####.exr").folder == Path("/a/b")
    assert SequencePattern.parse("/a/b/plate.%04d.exr").folder == Path("/a/b")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("/shots/plate.exr", "no frame number"),
        ("/shots/plate.####.%04d.exr", "2 frame numbers"),
        ("/shots/####/plate.exr", "folder name"),
    ],
)
def test_bad_patterns_explain_and_hint(text, why):
    with pytest.raises(UsageError) as info:
        sequence_pattern(text, "plate pattern")
    assert why in info.value.message
    assert "plate pattern" in info.value.message
    assert "####" in info.value.hint
    assert "%04d" in info.value.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1001-1240", (1001, 1240)),
        ("1001", (1001, 1001)),
        (" 5 - 9 ", (5, 9)),
        ("-10--5", (-10, -5)),
        ("-3-2", (-3, 2)),
    ],
)
def test_frame_ranges(text, expected):
    assert parse_frame_range(text) == expected


@pytest.mark.parametrize("text", ["", "a-b", "1001:1240", "1001-", "1,2"])
def test_bad_frame_ranges(text):
    with pytest.raises(UsageError, match="bad frame range") as info:
        parse_frame_range(text)
    assert "1001-1240" in info.value.hint


def test_reversed_range_suggests_the_fix():
    with pytest.raises(UsageError, match="ends before it starts") as info:
        parse_frame_range("1240-1001")
    assert "1001-1240" in info.value.hint


def test_describe_frames_joins_runs_and_truncates():
    assert describe_frames([1005, 1001, 1002, 1003, 1010]) == "1001-1003, 1005, 1010"
    long = describe_frames(range(0, 100, 2), limit=3)
    assert long.startswith("0, 2, 4, ...")
    assert "50 frames in all" in long
