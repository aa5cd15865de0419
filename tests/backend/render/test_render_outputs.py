"""Render outputs: written by the matte writer, and 'finished' only for this shot, revision and
objects."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sam2matting.backend.errors import UsageError
from sam2matting.backend.imageio.exr import read_exr
from sam2matting.backend.render.outputs import OutputSequence, RenderIdentity, object_alphas
from sam2matting.backend.render.patterns import SequencePattern
from sam2matting.backend.render.shot import load_render_shot

from .helpers import FIRST, H, W, make_shot_file, truth

IDENTITY = RenderIdentity("sh010", 7, "d" * 64, (1, 2))


def outputs(tmp_path, identity=IDENTITY):
    pattern = SequencePattern.parse(str(tmp_path / "out" / "matte.%04d.exr"))
    return OutputSequence(pattern, identity, (FIRST, FIRST + 9), tmp_path / "staging")


def test_written_frames_have_channels_metadata_and_are_finished(tmp_path):
    seq = outputs(tmp_path)
    alphas = {1: truth(1, 0), 2: truth(2, 0)}
    path = seq.write(FIRST, alphas, {1: "hero", 2: "dog"}, {"tracker": "flow"})
    assert path == tmp_path / "out" / "matte.1001.exr"
    image = read_exr(path)
    assert sorted(image.channels) == ["A", "obj1.A", "obj2.A"]
    assert (image.width, image.height) == (W, H)
    np.testing.assert_allclose(image.channels["obj1.A"], alphas[1])
    np.testing.assert_allclose(image.channels["A"], np.maximum(alphas[1], alphas[2]))
    meta = image.metadata
    assert meta["sam2matting/revision"] == "7"
    assert meta["sam2matting/tracker"] == "flow"
    assert json.loads(meta["sam2matting/objects"]) == {"1": "hero", "2": "dog"}
    assert seq.finished(FIRST)
    assert not seq.finished(FIRST + 1)
    assert list((tmp_path / "staging" / "matte").iterdir()) == []  # nothing left staged


@pytest.mark.parametrize(
    "other",
    [
        RenderIdentity("sh010", 8, "d" * 64, (1, 2)),  # the artist re-prompted and exported
        RenderIdentity("sh020", 7, "d" * 64, (1, 2)),  # another shot
        RenderIdentity("sh010", 7, "e" * 64, (1, 2)),  # same id and revision, other content
        RenderIdentity("sh010", 7, "d" * 64, (1,)),  # other objects
    ],
)
def test_outputs_of_another_render_are_not_finished(tmp_path, other):
    outputs(tmp_path).write(FIRST, {1: truth(1, 0), 2: truth(2, 0)}, {})
    assert not outputs(tmp_path, other).finished(FIRST)


def test_unreadable_output_is_not_finished(tmp_path):
    seq = outputs(tmp_path)
    path = seq.write(FIRST, {1: truth(1, 0), 2: truth(2, 0)}, {})
    path.write_bytes(path.read_bytes()[:40])
    assert not seq.finished(FIRST)


def test_object_alphas_reads_paths_and_bytes_and_zero_fills(tmp_path):
    seq = outputs(tmp_path, RenderIdentity("sh010", 1, "d" * 64, (1,)))
    path = seq.write(FIRST, {1: truth(1, 3)}, {})
    for source in (path, path.read_bytes()):
        got = object_alphas(source, (1, 2), (W, H))
        np.testing.assert_allclose(got[1], truth(1, 3))
        assert got[2].shape == (H, W)
        assert not got[2].any()


def test_shot_file_selection_and_identity(tmp_path):
    shot_file = make_shot_file(
        tmp_path / "sh010.json", 10, {1: [1001, 1005], 2: [1003]}, names={1: "hero", 2: "dog"}
    )
    shot = load_render_shot(shot_file, None)
    assert shot.objects == (1, 2)
    assert shot.names == {1: "hero", 2: "dog"}
    assert shot.prompt_frames == {1: [1001, 1005], 2: [1003]}
    assert shot.identity.revision >= 3
    assert len(shot.identity.digest) == 64
    only = load_render_shot(shot_file, [2])
    assert only.objects == (2,)
    assert only.all_prompt_frames() == [1003]
    assert only.identity.digest == shot.identity.digest
    with pytest.raises(UsageError, match="no prompted object 5") as info:
        load_render_shot(shot_file, [5])
    assert "1 (hero), 2 (dog)" in info.value.hint


def test_shot_file_problems_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="cannot use the shot file"):
        load_render_shot(tmp_path / "missing.json", None)
    shot_file = make_shot_file(tmp_path / "sh010.json", 10, {1: [1001]})
    data = json.loads(shot_file.read_text())
    data["version"] = "2.0"
    shot_file.write_text(json.dumps(data))
    with pytest.raises(UsageError, match=r"schema version 2\.0") as info:
        load_render_shot(shot_file, None)
    assert "update" in info.value.hint
    data.update(version="1.0", prompts=[])
    shot_file.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="has no prompts"):
        load_render_shot(shot_file, None)


def test_seeded_journal_keeps_only_the_rendered_objects(tmp_path):
    from sam2matting.backend.shots.journal import ShotJournal

    shot_file = make_shot_file(tmp_path / "sh010.json", 10, {1: [1001], 2: [1003]})
    load_render_shot(shot_file, [2]).seed_journal(tmp_path / "cache")
    journal = ShotJournal.load(tmp_path / "cache" / "sh010")
    assert list(journal.objects) == [2]
    assert [p.frame for p in journal.prompts] == [1003]
