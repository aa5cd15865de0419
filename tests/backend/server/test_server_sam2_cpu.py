"""SAM2.1 on the CPU through the real server: two objects prompted on different frames.

The object prompted later is tracked on frames before its prompt, where sam2's bf16 mask memories
used to reach float32 weights ("mat1 and mat2 must have the same dtype"); see
backend/tracking/sam2_memory_dtype.py. Real parts: the server on a loopback socket, strict loading
of a SAM2.1 tiny checkpoint saved in the official layout (random weights, 64 px input), the
weight-free closed-form engine, EXR mattes read back.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Iterator, List

import numpy as np
import pytest
import torch

from sam2matting.backend import model_files
from sam2matting.backend.imageio.exr import read_exr
from sam2matting.backend.tracking import sam2_model
from tests.backend.tracking.conftest import sha256_of

from .harness import (
    FIRST,
    H,
    Running,
    W,
    box_prompt,
    events,
    frames_of,
    open_shot,
    put_all,
    start_server,
)

TRACKER = "sam2.1-tiny"
IMAGE_SIZE = 64  # the SAM2.1 tiny input for CPU tests (a multiple of 32, at least 64)
N = 4


@pytest.fixture(scope="module")
def tracker_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random SAM2.1 tiny saved as the official checkpoint file ({"model": state_dict})."""
    torch.manual_seed(6)
    entry = model_files.SAM2_TRACKERS[TRACKER]
    model = sam2_model.build_sam2_video_model(
        entry.config or "", None, torch.device("cpu"), IMAGE_SIZE
    )
    path = tmp_path_factory.mktemp("models") / entry.filename
    torch.save({"model": model.state_dict()}, path)
    return path


@pytest.fixture
def sam2_backend(
    tmp_path: Path, tracker_file: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Running]:
    """A CPU server whose models folder holds the checkpoint, registered with its true hash; the
    tracker is built at the test input size (everything else is the real loading code)."""
    entry = model_files.SAM2_TRACKERS[TRACKER]
    true = replace(entry, size=tracker_file.stat().st_size, sha256=sha256_of(tracker_file))
    monkeypatch.setitem(model_files.SAM2_TRACKERS, TRACKER, true)
    build = functools.partial(sam2_model.build_sam2_video_model, image_size=IMAGE_SIZE)
    monkeypatch.setattr(sam2_model, "build_sam2_video_model", build)
    (tmp_path / "models").symlink_to(tracker_file.parent, target_is_directory=True)
    running = start_server(tmp_path / "cache", tracker=TRACKER, engine="closed_form")
    yield running
    running.stop()


def _alphas(path: str) -> List[np.ndarray]:
    channels = read_exr(path).channels
    alphas = [channels["obj1.A"], channels["obj2.A"]]
    for alpha in alphas:
        assert alpha.shape == (H, W)
        assert np.isfinite(alpha).all()
    return alphas


def test_objects_prompted_on_different_frames_track_on_the_cpu(sam2_backend: Running) -> None:
    with sam2_backend.client() as client:
        state = open_shot(client, "sh200", N)
        assert (state["tracker"], state["engine"]) == (TRACKER, "closed_form")
        put_all(client, "sh200", N)
        client.request("add_prompt_request", box_prompt("sh200", FIRST + 2, obj=1, name="a"))
        client.request("add_prompt_request", box_prompt("sh200", FIRST, obj=2, name="b"))
        # from the last prompt (FIRST): object 1 is tracked on two frames before its prompt
        forward = list(events(client.propagate(shot_id="sh200", direction="forward")))
        assert frames_of(forward) == list(range(FIRST, FIRST + N))
        # backward towards object 2's prompt, from a frame after both prompts
        job = client.propagate(shot_id="sh200", start_frame=FIRST + N - 1, direction="backward")
        backward = list(events(job))
        assert frames_of(backward) == list(range(FIRST + N - 1, FIRST - 1, -1))
        for event in forward + backward:
            _alphas(event.content["matte_path"])
