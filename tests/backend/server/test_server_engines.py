"""Every matting engine end to end through the real server, and engine options reaching it.

Real parts: the server on a loopback socket, the real registries, checkpoint verification and
strict loading of files saved in the official layouts (random weights: SAM2.1 tiny at a 64 px
input with name-seeded SAM2Matting heads, the refiner's fp16 weights file), EXR mattes read
back. Fakes: none; the weights are random, so these tests check plumbing, not matte quality.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Tuple

import numpy as np
import pytest
import torch

from sam2matting.backend import model_files
from sam2matting.backend.imageio.exr import read_exr
from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine
from sam2matting.backend.matting.heads.checkpoint import save_official_checkpoint
from sam2matting.backend.matting.heads.engine import HeadsEngine
from sam2matting.backend.matting.refiner import weights
from sam2matting.backend.matting.refiner.engine import RefinerEngine
from sam2matting.backend.matting.refiner.model import Refiner
from sam2matting.backend.tracking import sam2_model
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from tests.backend.matting.heads.golden import name_seeded_heads
from tests.backend.tracking.conftest import sha256_of

from .harness import FIRST, H, Running, W, box_prompt, open_shot, put_all, start_server

IMAGE_SIZE = 64  # the SAM2.1 tiny input for CPU tests (a multiple of 32, at least 64)
HEADS = "sam2matting-tiny"


@pytest.fixture(scope="module")
def heads_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random SAM2.1 tiny + name-seeded heads, saved as an official SAM2Matting checkpoint."""
    bundle = model_files.SAM2MATTING_HEADS[HEADS]
    torch.manual_seed(3)
    tracker = sam2_model.build_sam2_video_model(
        model_files.SAM2_TRACKERS[bundle.tracker or ""].config or "",
        None,
        torch.device("cpu"),
        IMAGE_SIZE,
    )
    path = tmp_path_factory.mktemp("models") / bundle.filename
    save_official_checkpoint(path, tracker.state_dict(), name_seeded_heads(2.0).state_dict())
    return path


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def heads_backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    heads_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Running]:
    """A server whose models folder holds the checkpoint, registered with its true hash; the
    tracker is built at the small test input size (everything else is the real loading code).
    On CUDA the tracker and heads run under bf16 autocast, as in production."""
    bundle = model_files.SAM2MATTING_HEADS[HEADS]
    entry = replace(bundle, size=heads_file.stat().st_size, sha256=sha256_of(heads_file))
    monkeypatch.setitem(model_files.SAM2MATTING_HEADS, HEADS, entry)
    build = functools.partial(sam2_model.build_sam2_video_model, image_size=IMAGE_SIZE)
    monkeypatch.setattr(sam2_model, "build_sam2_video_model", build)
    cache = tmp_path / "cache"
    (tmp_path / "models").symlink_to(heads_file.parent, target_is_directory=True)
    running = start_server(cache, tracker=bundle.tracker, engine=HEADS, device=request.param)
    yield running
    running.stop()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Running]:
    running = start_server(tmp_path / "cache")
    yield running
    running.stop()


def _matte(path: str) -> np.ndarray:
    alpha = read_exr(path).channels["A"]
    assert alpha.shape == (H, W)
    assert alpha.dtype == np.float32
    assert np.isfinite(alpha).all()
    assert alpha.min() >= 0.0
    assert alpha.max() <= 1.0
    return alpha


def _prompt_and_track(running: Running, shot_id: str, n: int, **shot: object) -> Tuple[dict, list]:
    """Open, send frames, prompt the first frame, track forward; (open reply, progress)."""
    with running.client() as client:
        state = open_shot(client, shot_id, n, **shot)
        put_all(client, shot_id, n)
        reply = client.request("add_prompt_request", box_prompt(shot_id, FIRST)).content
        _matte(reply["matte_path"])
        progress = list(client.propagate(shot_id=shot_id, direction="forward").events())
    assert [p.content["frame"] for p in progress] == list(range(FIRST, FIRST + n))
    for event in progress:
        _matte(event.content["matte_path"])
    return state, progress


def _loaded_engine(running: Running) -> object:
    engines = list(running.server.models._engines.values())
    assert len(engines) == 1
    return engines[0]


def test_heads_engine_runs_through_the_server(heads_backend: Running) -> None:
    with heads_backend.client() as client:
        caps = {c["name"]: c for c in client.describe()["engines"]}
    assert caps[HEADS]["available"], caps[HEADS]["reason"]
    assert [p["name"] for p in caps[HEADS]["params"]] == ["native", "guard"]
    state, _ = _prompt_and_track(heads_backend, "sh100", 3, engine_params={"native": "none"})
    assert (state["tracker"], state["engine"]) == ("sam2.1-tiny", HEADS)
    engine = _loaded_engine(heads_backend)
    assert isinstance(engine, HeadsEngine)
    assert engine.native is None  # the option reached the engine


def test_heads_engine_with_its_default_native_stage(heads_backend: Running) -> None:
    _prompt_and_track(heads_backend, "sh101", 2)
    engine = _loaded_engine(heads_backend)
    assert isinstance(engine, HeadsEngine)
    assert engine.native is not None


def test_refiner_engine_runs_through_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(4)
    weights.export(Refiner(), tmp_path / "weights", {"note": "random weights for a test"})
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "weights")
    running = start_server(tmp_path / "cache", engine="refiner")
    try:
        options = {"max_width": 12.0, "guard": 0.5}
        state, _ = _prompt_and_track(running, "sh110", 2, engine_params=options)
        assert state["engine"] == "refiner"
        engine = _loaded_engine(running)
        assert isinstance(engine, RefinerEngine)
        assert engine.band.max_width == 12.0
        assert engine.guard_strength == 0.5  # the option every engine shares
    finally:
        running.stop()


def test_closed_form_options_reach_the_engine_and_follow_a_reopen(backend: Running) -> None:
    state, _ = _prompt_and_track(
        backend, "sh120", 2, engine="closed_form", engine_params={"max_width": 8}
    )
    assert state["engine"] == "closed_form"
    engine = _loaded_engine(backend)
    assert isinstance(engine, ClosedFormEngine)
    assert engine.params.band.max_width == 8.0
    # The artist changes the option: re-opening the open shot switches the engine it uses.
    with backend.client() as client:
        open_shot(client, "sh120", 2, engine="closed_form", engine_params={"max_width": 20})
        client.request("add_prompt_request", box_prompt("sh120", FIRST + 1))
    shot = backend.server.shots["sh120"]
    assert dict(shot.choice.engine_params) == {"max_width": 20}
    assert shot.journal.settings.params["engine"] == {"max_width": 20}
    widths = sorted(e.params.band.max_width for e in backend.server.models._engines.values())
    assert widths == [8.0, 20.0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"engine_params": {"max_width": 1000}}, "engine_params.max_width"),  # out of range
        ({"engine_params": {"max_width": "wide"}}, "engine_params.max_width"),  # wrong type
        ({"engine_params": {"guard": 2.5}}, "engine_params.guard"),  # the shared one, too
        ({"engine_params": {"native": "none"}}, "engine_params.native"),  # another engine's
        ({"tracker_params": {"preset": "slow"}}, "tracker_params.preset"),  # not a choice
        ({"tracker_params": {"colour": 1}}, "tracker_params.colour"),  # unknown
    ],
)
def test_bad_options_are_typed_errors_that_change_nothing(
    backend: Running, tmp_path: Path, params: dict, field: str
) -> None:
    with backend.client() as client:
        with pytest.raises(ProtocolError) as err:
            open_shot(client, "sh130", 2, engine="closed_form", **params)
        assert err.value.code is ErrorCode.INVALID_FIELD
        assert err.value.details["field"] == field
        assert field in err.value.message
        assert "describe" in err.value.hint
        assert client.ping()["jobs_running"] == 0
    assert not (tmp_path / "cache" / "sh130").exists()  # no journal was written


def test_every_registered_engine_class_is_run_through_the_server_above() -> None:
    """A new engine class in the registry fails here until a test above runs it."""
    from sam2matting.backend.matting.registry import ENGINES

    tested = {HeadsEngine, RefinerEngine, ClosedFormEngine}
    registered = {ENGINES.component(name) for name in ENGINES.names()}
    assert registered == tested
