"""The rule for which mattes a prompt change makes stale (pure frame arithmetic)."""

from __future__ import annotations

import pytest

from sam2matting.backend.server.staleness import reached_through

F, L = 1001, 1050


@pytest.mark.parametrize(
    ("frame", "prompted", "was_prompted", "expected"),
    [
        # The only prompt, edited: everything was tracked from it, both ways.
        (1010, [], True, [(F, 1009), (1011, L)]),
        # A first prompt: nothing was tracked through it yet.
        (1010, [], False, []),
        # A correction after the key frame: forward up to the end.
        (1042, [1010], False, [(1043, L)]),
        # ... and before a later prompt: backward down to the start.
        (1005, [1010], False, [(F, 1004)]),
        # Between two prompts: forward to the next one, backward to the previous one.
        (1030, [1010, 1042], False, [(1031, 1041), (1011, 1029)]),
        # Replacing a correction between two prompts reaches both neighbours.
        (1042, [1010, 1042, 1048], True, [(1011, 1041), (1043, 1047)]),
    ],
)
def test_reached_through(frame, prompted, was_prompted, expected):
    want = {f for a, b in expected for f in range(a, b + 1)}
    assert reached_through(frame, prompted, F, L, was_prompted) == want
