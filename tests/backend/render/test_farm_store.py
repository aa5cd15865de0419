"""The farm's prior store: exact round trips, stale priors refused, manifests, atomic files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2matting.backend.matting.base import MattePrior
from sam2matting.backend.render.farm_store import (
    FarmError,
    PriorStore,
    TrackKey,
    TrackManifest,
)

KEY = TrackKey("abc", 2, "flow", "closed_form")


@pytest.fixture
def store(tmp_path):
    return PriorStore(tmp_path / "priors", 4)


def test_mask_and_coarse_alpha_come_back_exactly(store):
    rng = np.random.default_rng(0)
    mask = torch.from_numpy((rng.random((37, 53)) > 0.5).astype(np.float32))  # odd bit count
    coarse = torch.from_numpy(rng.random((16, 16)).astype(np.float32))
    path = store.write_prior(2, 1001, MattePrior(mask, coarse), KEY, start=1001)
    assert path.name == "prior.1001.npz"
    assert path.parent.name == "obj2"
    read = store.read_prior(2, 1001, KEY)
    assert read is not None
    assert torch.equal(read.mask, mask)
    assert read.mask.dtype == torch.float32
    assert read.coarse is not None
    assert torch.equal(read.coarse, coarse)
    assert store.prior_start(2, 1001, KEY) == 1001
    assert not list(path.parent.glob(".*.tmp")), "no temp file is left behind"


def test_a_lost_object_is_stored_as_none(store):
    store.write_prior(1, 1005, None, KEY, start=1001)
    assert store.read_prior(1, 1005, KEY) is None
    assert store.prior_start(1, 1005, KEY) == 1001


def test_priors_of_another_revision_or_models_are_never_used(store):
    store.write_prior(1, 1001, MattePrior(torch.ones(4, 4)), KEY, start=1001)
    for other in (
        TrackKey("abc", 3, "flow", "closed_form"),
        TrackKey("abc", 2, "sam2.1-tiny", "closed_form"),
    ):
        assert store.prior_start(1, 1001, other) is None
        with pytest.raises(FarmError, match="another revision of the shot or other models"):
            store.read_prior(1, 1001, other)


def test_missing_or_damaged_priors_say_to_run_track_again(store):
    with pytest.raises(FarmError, match="no usable prior for frame 1002") as info:
        store.read_prior(1, 1002, KEY)
    assert "Track step" in info.value.hint
    path = store.prior_path(1, 1003)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    assert store.prior_start(1, 1003, KEY) is None
    with pytest.raises(FarmError, match="no usable prior for frame 1003"):
        store.read_prior(1, 1003, KEY)


def test_manifest_round_trip_and_clear(store):
    manifest = TrackManifest(3, KEY, [[1001, 1004], [1006, 1008]], {1005: "plate missing"})
    store.write_manifest(manifest)
    assert store.read_manifest(3) == manifest
    store.clear_manifest(3)
    with pytest.raises(FarmError, match="object 3 has not been tracked") as info:
        store.read_manifest(3)
    assert "Track step first" in info.value.hint
    (store.object_dir(3) / "track.json").write_text('{"format": "other"}')
    with pytest.raises(FarmError, match="cannot read"):
        store.read_manifest(3)
