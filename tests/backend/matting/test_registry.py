"""Engine registry: capabilities, reasons, 'auto', loading by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting import registry
from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine
from sam2matting.backend.model_files import SAM2MATTING_HEADS
from sam2matting.protocol.errors import ErrorCode, ProtocolError


def test_capabilities_list_every_engine_best_first(tmp_path: Path) -> None:
    caps = registry.engine_capabilities(BackendConfig(models_dir=tmp_path))
    assert [c.name for c in caps] == registry.engine_names()
    closed = caps[-1]
    assert closed.name == "closed_form"
    assert closed.available
    assert closed.fallback
    assert [p.name for p in closed.params] == ["max_width", "hold_tolerance", "guard"]
    assert all(cap.params[-1] == registry.GUARD for cap in caps)  # every engine has it
    for cap in caps[:2]:
        assert not cap.available
        entry = SAM2MATTING_HEADS[cap.name]
        assert entry.install_hint() in (cap.reason or "")
        assert "non-commercial" in (cap.reason or "")
    wire = closed.to_wire()
    assert wire["params"][0]["default"] == 32.0


def test_heads_capability_follows_the_installed_file_and_tracker(tmp_path: Path) -> None:
    entry = SAM2MATTING_HEADS["sam2matting-base_plus"]
    (tmp_path / entry.filename).write_bytes(b"x")
    config = BackendConfig(models_dir=tmp_path)
    caps = {c.name: c for c in registry.engine_capabilities(config)}
    assert caps["sam2matting-base_plus"].available
    assert registry.engine_needs_features("sam2matting-base_plus")
    assert not registry.engine_needs_features("closed_form")
    mismatched = {c.name: c for c in registry.engine_capabilities(config, tracker="flow")}
    assert not mismatched["sam2matting-base_plus"].available
    assert "sam2.1-base_plus" in (mismatched["sam2matting-base_plus"].reason or "")
    assert registry.resolve_engine("auto", config, tracker="sam2.1-base_plus") == entry.name
    assert registry.resolve_engine("auto", config, tracker="flow") != entry.name


def test_auto_without_weights_is_weight_free(tmp_path: Path) -> None:
    config = BackendConfig(models_dir=tmp_path)
    name = registry.resolve_engine("auto", config)
    assert name in ("refiner", "closed_form")
    engine = registry.load_engine(
        "closed_form", config, torch.device("cpu"), options={"max_width": 12}
    )
    assert isinstance(engine, ClosedFormEngine)
    assert engine.params.band.max_width == 12.0
    assert engine.guard_strength == 1.0
    weak = registry.load_engine("closed_form", config, torch.device("cpu"), options={"guard": 0})
    assert weak.guard_strength == 0.0
    assert weak.params == ClosedFormEngine().params
    strict = registry.load_engine("closed_form", config, torch.device("cpu"), options={"guard": 2})
    assert strict.guard_strength == 2.0  # above 1: the strict guard (test_guard.py)
    for bad in (-1, 2.5):
        with pytest.raises(ProtocolError) as err:
            registry.load_engine("closed_form", config, torch.device("cpu"), options={"guard": bad})
        assert err.value.code is ErrorCode.INVALID_FIELD


def test_unknown_and_unavailable_names_are_explained(tmp_path: Path) -> None:
    config = BackendConfig(models_dir=tmp_path)
    with pytest.raises(ProtocolError) as err:
        registry.load_engine("nope", config, torch.device("cpu"))
    assert err.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert "closed_form" in err.value.hint
    with pytest.raises(ProtocolError) as err:
        registry.load_engine("sam2matting-tiny", config, torch.device("cpu"))
    assert "licence" in err.value.message


def test_heads_options_are_validated(tmp_path: Path) -> None:
    entry = SAM2MATTING_HEADS["sam2matting-tiny"]
    (tmp_path / entry.filename).write_bytes(b"x")
    with pytest.raises(ProtocolError) as err:
        registry.load_engine(
            "sam2matting-tiny",
            BackendConfig(models_dir=tmp_path),
            torch.device("cpu"),
            options={"native": "magic"},
        )
    assert err.value.code == ErrorCode.INVALID_FIELD
