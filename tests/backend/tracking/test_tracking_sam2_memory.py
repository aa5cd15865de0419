"""SAM2 session memory stays flat as a shot grows (300 frames, random-init SAM2.1 tiny at 64 px)."""

from __future__ import annotations

import pytest
from sam2.sam2_video_predictor import SAM2VideoPredictor

from sam2matting.backend.tracking.base import Prompt
from sam2matting.backend.tracking.sam2_model import SAM2Settings, SAM2Tracker

from .conftest import SyntheticShot

WINDOW = 8


@pytest.mark.slow
def test_memory_is_bounded_over_a_300_frame_shot(tiny_model: SAM2VideoPredictor) -> None:
    shot = SyntheticShot(300, width=32, height=24, side=8)
    tracker = SAM2Tracker(tiny_model, "sam2.1-tiny", SAM2Settings(memory_window=WINDOW))
    session = tracker.open_session(shot)
    session.add_prompt(0, 1, Prompt(mask=shot.mask(0)))

    held, retained = [], []
    for frame in session.propagate(0, 299):
        held.append(session.memory_bytes())
        retained.append(session.retained_outputs())
        assert frame.logits[1].shape == (16, 16)

    assert len(held) == 300
    # outputs grow one per frame until the window is full, then stay put
    assert retained == [min(i, WINDOW + 1) for i in range(300)]
    window = session.inference_state["output_dict_per_obj"][0]["non_cond_frame_outputs"]
    assert set(window) == set(range(299 - WINDOW, 300))
    assert held[WINDOW] > held[1]
    steady = held[WINDOW + 2 :]
    assert max(steady) == min(steady), (min(steady), max(steady))
    # each frame decoded once, on demand
    assert sorted(set(shot.reads)) == list(range(300))
    assert len(shot.reads) <= 301
