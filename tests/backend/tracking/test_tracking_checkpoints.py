"""Model files: lookup, size and sha256 checks, the hash cache, official and SAM2Matting layouts."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from sam2matting.backend.model_files import SAM2_TRACKERS, SAM2MATTING_HEADS
from sam2matting.backend.tracking.checkpoints import (
    HEAD_PREFIXES,
    cached_sha256,
    file_sha256,
    find_model_file,
    read_state_dict,
    split_heads,
    verify_model_file,
)
from sam2matting.protocol import checksums
from sam2matting.protocol.checksums import CACHE_NAME as HASH_CACHE_NAME
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .conftest import sha256_of


def _small_file(folder: Path, name: str, payload: bytes = b"sam2 weights") -> Path:
    path = folder / name
    path.write_bytes(payload)
    return path


def test_missing_file_names_the_installer_command(tmp_path: Path) -> None:
    entry = SAM2_TRACKERS["sam2.1-large"]
    with pytest.raises(ProtocolError) as err:
        find_model_file(entry, tmp_path)
    assert err.value.code is ErrorCode.MODEL_UNAVAILABLE
    assert "python3 installer/install.py --models large" in err.value.hint
    assert str(tmp_path / "sam2.1_hiera_large.pt") in err.value.message


def test_registry_file_checks_size_and_hash(tmp_path: Path) -> None:
    path = _small_file(tmp_path, "sam2.1_hiera_tiny.pt")
    good = replace(SAM2_TRACKERS["sam2.1-tiny"], size=path.stat().st_size, sha256=sha256_of(path))
    verified = verify_model_file(good, tmp_path)
    assert verified.path == path
    assert verified.sha256 == sha256_of(path)

    wrong_size = replace(good, size=good.size + 1)
    with pytest.raises(ProtocolError) as err:
        verify_model_file(wrong_size, tmp_path)
    assert err.value.code is ErrorCode.CHECKPOINT_INVALID
    assert "size" in err.value.message
    assert "--models tiny" in err.value.hint

    wrong_hash = replace(good, sha256="0" * 64)
    with pytest.raises(ProtocolError) as err:
        verify_model_file(wrong_hash, tmp_path)
    assert err.value.code is ErrorCode.CHECKPOINT_INVALID
    assert "sha256" in err.value.message


def test_real_registry_entry_refuses_a_stand_in_file(tmp_path: Path) -> None:
    """The published size and hash are what is checked: a file of another size is refused."""
    _small_file(tmp_path, "sam2.1_hiera_small.pt")
    with pytest.raises(ProtocolError) as err:
        verify_model_file(SAM2_TRACKERS["sam2.1-small"], tmp_path)
    assert err.value.code is ErrorCode.CHECKPOINT_INVALID


def test_hash_is_cached_by_path_size_and_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _small_file(tmp_path, "model.pt", b"x" * 1000)
    calls = []
    real = checksums.sha256_of  # the one hashing function, shared with the installer
    monkeypatch.setattr(checksums, "sha256_of", lambda p: calls.append(p) or real(p))

    first = cached_sha256(path)
    second = cached_sha256(path)
    assert first == second == sha256_of(path)
    assert len(calls) == 1
    cache = json.loads((tmp_path / HASH_CACHE_NAME).read_text())
    assert cache[str(path.resolve())]["sha256"] == first

    # same size, new content and mtime: hashed again, never trusted from the cache
    path.write_bytes(b"y" * 1000)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert cached_sha256(path) == sha256_of(path) != first
    assert len(calls) == 2


def test_damaged_hash_cache_only_costs_a_rehash(tmp_path: Path) -> None:
    path = _small_file(tmp_path, "model.pt")
    (tmp_path / HASH_CACHE_NAME).write_text("{not json")
    assert cached_sha256(path) == file_sha256(path)
    assert json.loads((tmp_path / HASH_CACHE_NAME).read_text())  # rewritten whole


def test_unpublished_hash_uses_the_download_sidecar(tmp_path: Path) -> None:
    entry = SAM2MATTING_HEADS["sam2matting-tiny"]
    assert entry.sha256 is None
    path = _small_file(tmp_path, entry.filename)
    assert verify_model_file(entry, tmp_path).sha256 is None  # nothing to check against
    sidecar = tmp_path / (entry.filename + ".sha256")
    sidecar.write_text(f"{sha256_of(path)}  {entry.filename}\n")
    assert verify_model_file(entry, tmp_path).sha256 == sha256_of(path)
    sidecar.write_text("f" * 64)
    with pytest.raises(ProtocolError) as err:
        verify_model_file(entry, tmp_path)
    assert err.value.code is ErrorCode.CHECKPOINT_INVALID


def test_read_state_dict_refuses_junk_and_other_layouts(tmp_path: Path) -> None:
    junk = _small_file(tmp_path, "junk.pt", b"\x00not a zip")
    with pytest.raises(ProtocolError) as err:
        read_state_dict(junk)
    assert err.value.code is ErrorCode.CHECKPOINT_INVALID
    bare = tmp_path / "bare.pt"
    torch.save({"weight": torch.zeros(2)}, bare)  # a state dict without the "model" wrapper
    with pytest.raises(ProtocolError):
        read_state_dict(bare)
    good = tmp_path / "good.pt"
    torch.save({"model": {"a.weight": torch.arange(3.0)}}, good)
    assert torch.equal(read_state_dict(good)["a.weight"], torch.arange(3.0))


def test_split_heads_uses_the_official_head_names(shared_data: Path) -> None:
    reference = shared_data.parent / "reference" / "sam2matting_heads_state_dict.json"
    if not reference.is_file():
        pytest.skip(f"{reference} not found")
    head_shapes = json.loads(reference.read_text())
    state = {name: torch.zeros(0) for name in head_shapes}
    state["image_encoder.trunk.pos_embed"] = torch.zeros(1)
    tracker, heads = split_heads(state)
    assert set(heads) == set(head_shapes)
    assert list(tracker) == ["image_encoder.trunk.pos_embed"]
    assert {name.split(".")[0] + "." for name in head_shapes} == set(HEAD_PREFIXES)
