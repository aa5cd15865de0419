"""Frame ranges, padding and sequence patterns: one meaning, for the plugin and the backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam2matting.protocol import frames


def test_ranges_round_trip_sorted_and_merged():
    values = [1005, 1001, 1002, 1003, 1010, 1002]
    assert frames.to_ranges(values) == [[1001, 1003], [1005, 1005], [1010, 1010]]
    assert frames.from_ranges(frames.to_ranges(values)) == sorted(set(values))
    assert frames.from_ranges([[1005, 1006], [1001, 1002], [1002, 1003]]) == [
        1001,
        1002,
        1003,
        1005,
        1006,
    ]
    assert frames.to_ranges([]) == []
    assert frames.from_ranges([]) == []


@pytest.mark.parametrize("bad", [[[1003, 1001]], [[1001]], [[1, 2, 3]]])
def test_a_reversed_or_malformed_pair_is_an_error_not_a_guess(bad):
    with pytest.raises(ValueError, match="frame range"):
        frames.from_ranges(bad)


def test_describe_joins_runs_and_says_how_many_when_cut():
    assert frames.describe([1005, 1001, 1002, 1003, 1010]) == "1001-1003, 1005, 1010"
    long = frames.describe(range(0, 100, 2), limit=3)
    assert long.startswith("0, 2, 4, ...")
    assert "50 frames in all" in long


@pytest.mark.parametrize(
    ("first", "last", "digits"),
    [(1001, 1240, 4), (1, 9, 4), (-5, 99999, 5), (-123456, 0, 6), (998, 1_000_000, 7)],
)
def test_padding_is_at_least_four_digits(first, last, digits):
    assert frames.padding(first, last) == digits


@pytest.mark.parametrize(
    ("pattern", "frame", "expected"),
    [
        ("/c/m.####.exr", 1043, "/c/m.1043.exr"),
        ("/c/m.####.exr", -5, "/c/m.-005.exr"),
        ("/c/m.####.exr", 12345, "/c/m.12345.exr"),
        ("/c/m.%05d.exr", 42, "/c/m.00042.exr"),
        ("/c/m.%d.exr", 42, "/c/m.42.exr"),
        ("/c/m.exr", 42, "/c/m.exr"),  # lenient: no token, nothing to replace
    ],
)
def test_frame_file(pattern, frame, expected):
    assert frames.frame_file(pattern, frame) == expected


def test_strict_and_lenient_readings_agree():
    for text in ("/a/plate.####.exr", "/a/plate.%06d.dpx", "/a/p_%d.png", "/a/#####.tif"):
        pattern = frames.SequencePattern.parse(text)
        for frame in (-7, 0, 5, 1001, 123456):
            assert str(pattern.path(frame)) == str(Path(frames.frame_file(text, frame)))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("/shots/plate.exr", "no frame number"),
        ("/shots/plate.####.%04d.exr", "2 frame numbers"),
        ("/shots/####/plate.exr", "folder name"),
    ],
)
def test_strict_patterns_explain_and_hint(text, why):
    with pytest.raises(frames.PatternError) as info:
        frames.SequencePattern.parse(text, "plate pattern")
    assert why in info.value.message
    assert "plate pattern" in info.value.message
    assert "####" in info.value.hint
    assert "%04d" in info.value.hint
