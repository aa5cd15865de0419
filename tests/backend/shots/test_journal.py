"""ShotJournal: every change persisted, reload equality, versions, shot files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sam2matting.backend.shots import journal as journal_module
from sam2matting.backend.shots.journal import ShotJournal
from sam2matting.backend.shots.records import ShotSettings
from sam2matting.backend.tracking.base import Prompt
from sam2matting.protocol.errors import ErrorCode, ProtocolError

SETTINGS = ShotSettings(
    shot_id="sh010",
    width=32,
    height=24,
    first_frame=1001,
    last_frame=1100,
    pixel_aspect=1.0,
    colourspace="acescg",
    tracker="sam2.1_hiera_s",
    engine="closed_form",
    params={"tracker": {"memory_window": 8}, "engine": {"max_width": 12.0}},  # the real shape
)


def _points(*xy: tuple, labels=None) -> Prompt:
    return Prompt(points=tuple(xy), labels=tuple(labels or [1] * len(xy)))


def _mask() -> np.ndarray:
    mask = np.zeros((24, 32), bool)
    mask[5:15, 8:20] = True
    return mask


def _state(journal: ShotJournal) -> tuple:
    return (
        journal.settings,
        journal.revision,
        journal.objects,
        journal.prompts,
        {o: journal.valid_by_revision(o) for o in journal.objects},
    )


def _code(call) -> ErrorCode:
    with pytest.raises(ProtocolError) as info:
        call()
    return info.value.code


def test_every_change_is_persisted(tmp_path: Path) -> None:
    journal = ShotJournal.create(tmp_path, SETTINGS)
    changes = [
        lambda: journal.add_prompt(1001, 1, "hero", _points((10.5, 4.25))),
        lambda: journal.add_prompt(1010, 2, "dog", Prompt(box=(1.0, 2.0, 20.0, 22.0))),
        lambda: journal.add_prompt(1020, 1, None, Prompt(mask=_mask(), clear_old=False)),
        lambda: journal.rename_object(2, "puppy"),
        lambda: journal.mark_valid(1, range(1001, 1051)),
        lambda: journal.invalidate(1, range(1020, 1031)),
        lambda: journal.remove_object(2),
    ]
    revisions = [journal.revision]
    for change in changes:
        change()
        revisions.append(journal.revision)
        assert _state(ShotJournal.load(tmp_path)) == _state(journal)
    assert revisions == list(range(revisions[0], revisions[0] + len(changes) + 1))


def test_prompts_in_order_with_masks(tmp_path: Path) -> None:
    journal = ShotJournal.create(tmp_path, SETTINGS)
    s0 = journal.add_prompt(1001, 1, "hero", _points((1, 2), (3, 4), labels=[1, 0]))
    s1 = journal.add_prompt(1005, 2, "dog", _points((5, 5)))
    s2 = journal.add_prompt(1003, 1, None, Prompt(mask=_mask()))
    assert (s0, s1, s2) == (0, 1, 2)
    records = journal.prompts_for(1)
    assert [r.seq for r in records] == [0, 2]
    assert records[0].points == ((1.0, 2.0), (3.0, 4.0))
    assert records[0].labels == (1, 0)
    assert records[1].mask == "mask.2.png"
    png = tmp_path / "prompts" / "mask.2.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = ShotJournal.load(tmp_path)
    prompt = loaded.as_prompt(loaded.prompts_for(1)[1])
    np.testing.assert_array_equal(prompt.mask, _mask())
    assert loaded.objects == {1: "hero", 2: "dog"}
    assert loaded.add_prompt(1001, 2, None, _points((0, 0))) == 3  # seq continues


def test_clear_old_drops_earlier_prompts_on_that_frame(tmp_path: Path) -> None:
    journal = ShotJournal.create(tmp_path, SETTINGS)
    journal.add_prompt(1001, 1, "hero", Prompt(mask=_mask()))
    journal.add_prompt(
        1001,
        1,
        None,
        _points((1, 1)),
    )
    journal.add_prompt(1001, 1, None, Prompt(points=((2.0, 2.0),), labels=(0,), clear_old=False))
    journal.add_prompt(1002, 1, None, _points((3, 3)))
    assert [r.seq for r in journal.prompts_for(1)] == [1, 2, 3]
    assert not (tmp_path / "prompts" / "mask.0.png").exists()


def test_remove_object_and_unknown_objects(tmp_path: Path) -> None:
    journal = ShotJournal.create(tmp_path, SETTINGS)
    journal.add_prompt(1001, 1, "hero", Prompt(mask=_mask()))
    journal.add_prompt(1001, 2, "dog", _points((1, 1)))
    journal.mark_valid(1, [1001, 1002])
    journal.remove_object(1)
    assert journal.objects == {2: "dog"}
    assert [p.object_id for p in journal.prompts] == [2]
    assert journal.valid_frames(1) == []
    assert list((tmp_path / "prompts").iterdir()) == []
    assert _code(lambda: journal.remove_object(1)) == ErrorCode.UNKNOWN_OBJECT
    assert _code(lambda: journal.rename_object(7, "x")) == ErrorCode.UNKNOWN_OBJECT
    assert _code(lambda: journal.mark_valid(7, [1001])) == ErrorCode.UNKNOWN_OBJECT


def test_valid_frames_by_revision(tmp_path: Path) -> None:
    journal = ShotJournal.create(tmp_path, SETTINGS)
    journal.add_prompt(1001, 1, "hero", _points((1, 1)))
    start = journal.revision
    journal.mark_valid(1, range(1001, 1011), revision=start)
    journal.mark_valid(1, [1005, 1006, 1020], revision=start + 5)
    assert journal.valid_by_revision(1) == {
        start: [[1001, 1004], [1007, 1010]],
        start + 5: [[1005, 1006], [1020, 1020]],
    }
    assert journal.invalidate(1, [1000, 1001, 1020]) == [1001, 1020]
    assert journal.valid_frames(1) == [*range(1002, 1011)]
    assert journal.invalidate(1) == [*range(1002, 1011)]
    assert journal.invalidate(1) == []
    raw = json.loads((tmp_path / "shot.json").read_text())
    assert raw["valid"] == [{"object_id": 1, "spans": []}]


def test_prompt_validation(tmp_path: Path) -> None:
    journal = ShotJournal.create(tmp_path, SETTINGS)
    revision = journal.revision
    assert _code(lambda: journal.add_prompt(1101, 1, "a", _points((1, 1)))) == (
        ErrorCode.FRAME_OUT_OF_RANGE
    )
    assert _code(lambda: journal.add_prompt(1001, 1, "a", Prompt())) == ErrorCode.NO_PROMPT
    bad_labels = Prompt(points=((1.0, 1.0),), labels=(1, 0))
    assert _code(lambda: journal.add_prompt(1001, 1, "a", bad_labels)) == ErrorCode.INVALID_FIELD
    small = Prompt(mask=np.ones((10, 10), bool))
    assert _code(lambda: journal.add_prompt(1001, 1, "a", small)) == ErrorCode.FRAME_SIZE_MISMATCH
    assert _code(lambda: journal.add_prompt(1001, 0, "a", _points((1, 1)))) == (
        ErrorCode.INVALID_FIELD
    )
    assert journal.revision == revision
    assert journal.objects == {}


def test_versions_and_damage(tmp_path: Path) -> None:
    assert _code(lambda: ShotJournal.load(tmp_path)) == ErrorCode.UNKNOWN_SHOT
    ShotJournal.create(tmp_path, SETTINGS).add_prompt(1001, 1, "a", _points((1, 1)))
    path = tmp_path / "shot.json"
    data = json.loads(path.read_text())
    data["version"] = "1.7"  # a newer minor version still loads
    path.write_text(json.dumps(data))
    assert ShotJournal.load(tmp_path).objects == {1: "a"}
    data["version"] = "2.0"
    path.write_text(json.dumps(data))
    with pytest.raises(ProtocolError) as info:
        ShotJournal.load(tmp_path)
    assert info.value.code == ErrorCode.VERSION_MISMATCH
    assert "2.0" in info.value.message
    assert "update" in info.value.hint
    path.write_text("{ not json")
    assert _code(lambda: ShotJournal.load(tmp_path)) == ErrorCode.INVALID_FIELD
    data["version"] = "1.0"
    del data["prompts"]
    path.write_text(json.dumps(data))
    assert _code(lambda: ShotJournal.load(tmp_path)) == ErrorCode.INVALID_FIELD


def test_open_or_create(tmp_path: Path) -> None:
    first = ShotJournal.open_or_create(tmp_path, SETTINGS)
    first.add_prompt(1001, 1, "hero", _points((1, 1)))
    changed = ShotSettings(**{**SETTINGS.to_json(), "engine": "refiner"})
    again = ShotJournal.open_or_create(tmp_path, changed)
    assert again.objects == {1: "hero"}
    assert again.settings.engine == "refiner"
    other = ShotSettings(**{**SETTINGS.to_json(), "width": 64})
    assert _code(lambda: ShotJournal.open_or_create(tmp_path, other)) == ErrorCode.SHOT_MISMATCH
    with pytest.raises(FileExistsError):
        ShotJournal.create(tmp_path, SETTINGS)


# ---------------------------------------------------------------- shot files


def test_shot_file_round_trip(tmp_path: Path) -> None:
    journal = ShotJournal.create(tmp_path / "cache" / "sh010", SETTINGS)
    journal.add_prompt(1001, 1, "hero", _points((10.5, 4.25), (1, 1), labels=[1, 0]))
    journal.add_prompt(1020, 2, "dog", Prompt(mask=_mask(), box=(0.0, 0.0, 9.0, 9.0)))
    journal.mark_valid(1, range(1001, 1100))
    shot_file = tmp_path / "export" / "sh010.sam2shot"
    shot_file.parent.mkdir()
    journal.export_shot_file(shot_file)
    text = shot_file.read_text()
    data = json.loads(text)
    assert data["format"] == "sam2matting-shot"
    assert data["version"] == "1.0"
    assert str(tmp_path) not in text  # nothing machine-specific
    assert "valid" not in data

    farm = ShotJournal.load_shot_file(shot_file, tmp_path / "farm" / "sh010")
    assert farm.settings == SETTINGS
    assert farm.objects == journal.objects
    assert farm.revision == journal.revision
    assert [p.to_json() for p in farm.prompts] == [p.to_json() for p in journal.prompts]
    np.testing.assert_array_equal(farm.as_prompt(farm.prompts_for(2)[0]).mask, _mask())
    assert farm.valid_frames(1) == []  # cache state stays on its machine
    assert _state(ShotJournal.load(tmp_path / "farm" / "sh010")) == _state(farm)
    with pytest.raises(FileExistsError):
        ShotJournal.load_shot_file(shot_file, tmp_path / "farm" / "sh010")
    ShotJournal.load_shot_file(shot_file, tmp_path / "farm" / "sh010", replace_existing=True)


def test_shot_file_refusals(tmp_path: Path) -> None:
    journal = ShotJournal.create(tmp_path / "a", SETTINGS)
    journal.add_prompt(1001, 1, "hero", Prompt(mask=_mask()))
    path = tmp_path / "s.json"
    journal.export_shot_file(path)
    data = json.loads(path.read_text())
    for version, code in (("3.1", ErrorCode.VERSION_MISMATCH), ("1.2", None)):
        path.write_text(json.dumps({**data, "version": version}))
        target = tmp_path / f"v{version}"
        if code is None:
            assert ShotJournal.load_shot_file(path, target).objects == {1: "hero"}
        else:
            assert _code(lambda t=target: ShotJournal.load_shot_file(path, t)) == code
    journal_file = json.loads((tmp_path / "a" / "shot.json").read_text())
    path.write_text(json.dumps(journal_file))  # a journal is not a shot file
    assert (
        _code(lambda: ShotJournal.load_shot_file(path, tmp_path / "j")) == ErrorCode.INVALID_FIELD
    )
    data["prompts"][0]["mask_png"] = "aGVsbG8="  # base64 of "hello": not a PNG
    path.write_text(json.dumps(data))
    assert (
        _code(lambda: ShotJournal.load_shot_file(path, tmp_path / "m")) == ErrorCode.INVALID_FIELD
    )


def test_failed_save_leaves_state_and_file_unchanged(tmp_path: Path, monkeypatch) -> None:
    journal = ShotJournal.create(tmp_path, SETTINGS)
    journal.add_prompt(1001, 1, "hero", _points((1, 1)))
    before, on_disk = _state(journal), (tmp_path / "shot.json").read_bytes()
    real_write = journal_module.atomic_write_bytes

    def full_disk(path, data) -> None:
        raise ProtocolError(ErrorCode.DISK_FULL, f"no space left to write {path}")

    monkeypatch.setattr(journal_module, "atomic_write_bytes", full_disk)
    assert _code(lambda: journal.add_prompt(1002, 2, "dog", _points((2, 2)))) == ErrorCode.DISK_FULL
    assert _code(lambda: journal.remove_object(1)) == ErrorCode.DISK_FULL
    assert _state(journal) == before
    assert (tmp_path / "shot.json").read_bytes() == on_disk
    monkeypatch.setattr(journal_module, "atomic_write_bytes", real_write)
    assert journal.add_prompt(1002, 2, "dog", _points((2, 2))) == 1
    assert _state(ShotJournal.load(tmp_path)) == _state(journal)


def test_stale_frames_are_kept_persisted_and_cleared_by_new_mattes(tmp_path: Path) -> None:
    journal = ShotJournal.create(tmp_path, SETTINGS)
    journal.add_prompt(1001, 1, "hero", Prompt(mask=_mask()))
    journal.add_prompt(1010, 1, "hero", _points((1, 1)))
    journal.mark_valid(1, range(1001, 1021))
    assert journal.invalidate(1, range(1011, 1031)) == [*range(1011, 1021)]
    assert journal.stale_ranges() == [{"object_id": 1, "ranges": [[1011, 1020]]}]
    # Removing a prompt is one change: the prompt goes, the frames it reached turn stale.
    assert journal.remove_prompt(1010, 1, range(1002, 1011)) == [*range(1002, 1011)]
    assert [p.frame for p in journal.prompts] == [1001]
    assert journal.stale_frames(1) == [*range(1002, 1021)]
    assert ShotJournal.load(tmp_path).stale_frames(1) == [*range(1002, 1021)]
    journal.mark_valid(1, [1005, 1006])  # re-tracked
    assert journal.stale_ranges() == [{"object_id": 1, "ranges": [[1002, 1004], [1007, 1020]]}]
    assert _code(lambda: journal.remove_prompt(1010, 1)) == ErrorCode.NO_PROMPT
    assert _code(lambda: journal.remove_prompt(1001, 9)) == ErrorCode.UNKNOWN_OBJECT
    journal.remove_object(1)
    assert journal.stale_ranges() == []


def test_failed_remove_prompt_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    journal = ShotJournal.create(tmp_path, SETTINGS)
    journal.add_prompt(1001, 1, "hero", Prompt(mask=_mask()))
    journal.mark_valid(1, range(1001, 1011))

    def full_disk(path, data) -> None:
        raise ProtocolError(ErrorCode.DISK_FULL, f"no space left to write {path}")

    monkeypatch.setattr(journal_module, "atomic_write_bytes", full_disk)
    assert _code(lambda: journal.remove_prompt(1001, 1, range(1001, 1011))) == ErrorCode.DISK_FULL
    assert [p.frame for p in journal.prompts] == [1001]
    assert journal.valid_frames(1) == [*range(1001, 1011)]
    assert journal.stale_ranges() == []
    assert len(list((tmp_path / "prompts").iterdir())) == 1  # the mask file is still there
