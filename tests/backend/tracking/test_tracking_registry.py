"""Tracker registry: capabilities from installed files, loading by name, typed parameters."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Tuple

import pytest
import torch

from sam2matting.backend import model_files
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.model_files import ModelFile
from sam2matting.backend.tracking import registry
from sam2matting.backend.tracking.flow import FlowTracker
from sam2matting.backend.tracking.sam2_model import SAM2Tracker
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .conftest import sha256_of

SAM2_NAMES = ["sam2.1-tiny", "sam2.1-small", "sam2.1-base_plus", "sam2.1-large"]


def _config(models_dir: Path, **overrides: object) -> BackendConfig:
    overrides.setdefault("device", "cpu")
    return replace(BackendConfig(), models_dir=models_dir, **overrides)  # type: ignore[arg-type]


def test_without_weights_only_the_flow_fallback_runs(tmp_path: Path) -> None:
    caps = {c.name: c for c in registry.tracker_capabilities(_config(tmp_path))}
    assert list(caps) == [*SAM2_NAMES, "flow"]  # on the CPU the fastest model is listed first
    for name in SAM2_NAMES:
        assert not caps[name].available
        short = name.split("-", 1)[1]
        assert f"python3 installer/install.py --models {short}" in caps[name].reason
        assert "on the CPU" in caps[name].label
    flow = caps["flow"]
    assert flow.available
    assert flow.fallback
    assert "fallback" in flow.label.lower()
    assert {p.name for p in flow.params} == {
        "working_size",
        "preset",
        "memory_window",
        "colour_snap",
    }
    assert flow.to_wire()["params"][1]["choices"] == ["ultrafast", "fast", "medium"]
    assert registry.best_available(_config(tmp_path)) == "flow"
    assert isinstance(registry.load_tracker("auto", _config(tmp_path), "cpu"), FlowTracker)


def test_installed_checkpoint_makes_its_tracker_available(
    tiny_checkpoint: Tuple[Path, ModelFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, entry = tiny_checkpoint
    monkeypatch.setitem(model_files.SAM2_TRACKERS, entry.name, entry)
    config = _config(path.parent, memory_window=5)
    caps = {c.name: c for c in registry.tracker_capabilities(config)}
    assert caps["sam2.1-tiny"].available
    assert caps["sam2.1-tiny"].reason is None
    assert {p.name for p in caps["sam2.1-tiny"].params} == {"memory_window", "offload_state_to_cpu"}
    assert not caps["sam2.1-large"].available

    tracker = registry.load_tracker("auto", config, "cpu", {"offload_state_to_cpu": True})
    assert isinstance(tracker, SAM2Tracker)
    assert tracker.name == "sam2.1-tiny"
    assert tracker.settings.memory_window == 5  # from the backend config
    assert tracker.settings.offload_state_to_cpu is True  # from the host's parameters


def test_a_sam2matting_bundle_provides_its_tracker(
    tmp_path: Path, tiny_checkpoint: Tuple[Path, ModelFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = tiny_checkpoint
    bundle = model_files.SAM2MATTING_HEADS["sam2matting-tiny"]
    copy = tmp_path / bundle.filename
    shutil.copyfile(path, copy)
    entry = replace(bundle, size=copy.stat().st_size, sha256=sha256_of(copy))
    monkeypatch.setitem(model_files.SAM2MATTING_HEADS, bundle.name, entry)
    config = _config(tmp_path)
    assert registry.find_tracker_checkpoint("sam2.1-tiny", config).model == entry
    caps = {c.name: c for c in registry.tracker_capabilities(config)}
    assert caps["sam2.1-tiny"].available
    assert not caps["sam2.1-base_plus"].available


def test_a_damaged_checkpoint_is_reported_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "sam2.1_hiera_base_plus.pt").write_bytes(b"truncated download")
    caps = {c.name: c for c in registry.tracker_capabilities(_config(tmp_path))}
    assert not caps["sam2.1-base_plus"].available
    assert "damaged" in caps["sam2.1-base_plus"].reason
    with pytest.raises(ProtocolError) as err:
        registry.load_tracker("sam2.1-base_plus", _config(tmp_path), "cpu")
    assert err.value.code is ErrorCode.CHECKPOINT_INVALID


def test_flow_parameters_are_typed_and_checked(tmp_path: Path) -> None:
    tracker = registry.load_tracker(
        "flow", _config(tmp_path), "cpu", {"working_size": 320, "preset": "fast"}
    )
    assert isinstance(tracker, FlowTracker)
    assert tracker.settings.working_size == 320
    assert tracker.settings.preset == "fast"
    bad = [
        {"working_size": "320"},
        {"working_size": 10},
        {"working_size": True},
        {"preset": "slow"},
        {"colour": 1},
    ]
    for params in bad:
        with pytest.raises(ProtocolError) as err:
            registry.load_tracker("flow", _config(tmp_path), "cpu", params)
        assert err.value.code is ErrorCode.INVALID_FIELD, params


def test_unknown_tracker_name(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError) as err:
        registry.load_tracker("sam3", _config(tmp_path), "cpu")
    assert err.value.code is ErrorCode.INVALID_FIELD
    with pytest.raises(ProtocolError) as err:
        registry.load_tracker("sam2.1-small", _config(tmp_path), "cpu")
    assert err.value.code is ErrorCode.MODEL_UNAVAILABLE
    assert "--models small" in err.value.hint


def test_on_a_gpu_the_largest_model_is_listed_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    caps = registry.tracker_capabilities(_config(tmp_path, device="auto"))
    assert [c.name for c in caps] == [*SAM2_NAMES[::-1], "flow"]
    assert all("CPU" not in c.label for c in caps)
    # a config that asks for the CPU gets the CPU order even with a GPU present
    caps = registry.tracker_capabilities(_config(tmp_path, device="cpu"))
    assert [c.name for c in caps] == [*SAM2_NAMES, "flow"]
