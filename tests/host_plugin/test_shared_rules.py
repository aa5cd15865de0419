"""The plugin's copies of protocol constants agree with the protocol (one meaning each)."""

from __future__ import annotations

from sam2matting_nuke import frames

from sam2matting.protocol import messages


def test_directions_and_the_put_frames_limit_are_the_protocols():
    assert frames.DIRECTIONS == messages.DIRECTIONS  # (the node has no direction knob: In-Out)
    assert frames.MAX_FRAMES_PER_MESSAGE == messages.MAX_BUFFERS


def test_the_plugin_pads_and_names_mattes_as_the_backend():
    from sam2matting.protocol import cache_layout
    from sam2matting.protocol import frames as rules

    assert frames.padding(-5, 99999) == rules.padding(-5, 99999) == 5
    assert frames.matte_pattern("C:\\cache\\sh010", 1001, 1240) == "C:/cache/sh010/matte/" + (
        cache_layout.matte_sequence(1001, 1240)
    )
    assert frames.frame_file(frames.matte_pattern("/c", -5, 10), -5) == "/c/matte/matte.-005.exr"


def test_the_plugin_describes_frame_lists_as_the_protocol():
    from sam2matting.protocol import frames as rules

    for frame_list in ([1001], [1001, 1002, 1003, 1010], list(range(1, 60, 2))):
        ranges = rules.to_ranges(frame_list)
        for limit in (3, 8, 20):
            assert frames.describe_ranges(ranges, limit) == rules.describe(frame_list, limit)
