"""Each kind of state file damaged from outside (disk fault, an edit): a typed error or a repair
with a warning; never a crash, never a silent loss, never a deletion of what the artist sent.

Defects (MEDIUM-LOW, issue 13): a corrupt cached matte stayed listed as matted and every job over
its frame stopped with bad_image; a damaged plate/refs.json made the backend delete every plate
file and answer restored: true, frames_stored: [] without a word.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sam2matting.protocol.connection import (
    ConnectionInfo,
    new_key,
    read_connection_file,
    write_connection_file,
)
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from ..backend.server.harness import FIRST, box_prompt, open_shot, put_all, start_server
from .conftest import FIGURES
from .harness import consistency_problems, matte_objects

N = 6


def _tracked_shot(cache: Path, shot_id: str) -> None:
    running = start_server(cache)
    try:
        with running.client() as client:
            open_shot(client, shot_id, N)
            put_all(client, shot_id, N)
            client.request("add_prompt_request", box_prompt(shot_id, FIRST))
            list(client.propagate(shot_id=shot_id, direction="forward").events(idle_timeout_s=60))
    finally:
        running.stop()


@pytest.fixture
def damaged(tmp_path):
    """A tracked shot on disk, and a backend started after the damage is done."""
    cache = tmp_path / "cache"
    _tracked_shot(cache, "sh")
    servers = []

    def restart():
        FIGURES["faults injected"] += 1
        servers.append(start_server(cache))
        return servers[-1]

    yield cache / "sh", restart
    for server in servers:
        server.stop()


def test_damaged_journal_is_refused_and_kept(damaged):
    root, restart = damaged
    (root / "shot.json").write_text('{"format": "sam2matting-journal", "version": "1.0", "shot"')
    before = (root / "shot.json").read_bytes()
    with restart().client() as client:
        with pytest.raises(ProtocolError) as err:
            open_shot(client, "sh", N)
        assert err.value.code.value == "damaged_state"
        assert err.value.details["path"].endswith("shot.json")
        assert (root / "shot.json").read_bytes() == before  # never overwritten
        open_shot(client, "other", N)  # the backend keeps serving


@pytest.mark.parametrize("damage", ["garbage", "empty object", "missing"])
def test_damaged_plate_index_keeps_every_plate_file_and_warns(damaged, damage):
    root, restart = damaged
    refs = root / "plate" / "refs.json"
    plates = sorted(p.name for p in (root / "plate").glob("plate.*"))
    assert len(plates) == N
    if damage == "missing":
        refs.unlink()
    else:
        refs.write_text("{]" if damage == "garbage" else "{}")
    with restart().client() as client:
        state = open_shot(client, "sh", N)
        assert state["frames_stored"] == []
        assert [w["code"] for w in state["warnings"]] == ["damaged_state"]
        aside = Path(state["warnings"][0]["path"])
        assert sorted(p.name for p in aside.glob("plate.*")) == plates  # nothing deleted
        put_all(client, "sh", N)  # sending the frames again restores the shot
        assert open_shot(client, "sh", N)["frames_stored"] == [[FIRST, FIRST + N - 1]]


@pytest.mark.parametrize("damage", ["truncated pixels", "garbage header"])
def test_damaged_matte_is_set_aside_and_can_be_rendered_again(damaged, damage):
    root, restart = damaged
    bad = root / "matte" / f"matte.{FIRST + 2}.exr"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncated pixels" else b"\0" * 500)
    with restart().client() as client:
        state = open_shot(client, "sh", N)
        if damage == "garbage header":  # found at open: not listed as matted, and said so
            assert state["frames_matted"] == [[FIRST, FIRST + 1], [FIRST + 3, FIRST + N - 1]]
            assert "frame 1003" in state["warnings"][0]["message"]
        job = client.propagate(shot_id="sh", start_frame=FIRST, direction="forward")
        frames = [e.content["frame"] for e in job.events(idle_timeout_s=60)]
        assert job.end.msg_type == "done"
        assert frames == list(range(FIRST, FIRST + N))
    assert 1 in matte_objects(bad)  # rendered again, readable
    assert consistency_problems(root) == []
    assert list((root / "matte" / "damaged").iterdir())  # the damaged file was kept aside


def test_damaged_matte_met_by_get_matte_is_a_typed_error(damaged):
    root, restart = damaged
    bad = root / "matte" / f"matte.{FIRST + 1}.exr"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])  # the header intact, the pixels cut short
    with restart().client() as client:
        open_shot(client, "sh", N)
        with pytest.raises(ProtocolError) as err:
            client.request(
                "get_matte_request", {"shot_id": "sh", "frame": FIRST + 1, "matte": "exr"}
            )
        assert err.value.code.value == "damaged_state"
        with pytest.raises(ProtocolError) as err:  # set aside: now simply missing
            client.request("get_matte_request", {"shot_id": "sh", "frame": FIRST + 1})
        assert err.value.code is ErrorCode.FRAME_MISSING


def test_damaged_mask_prompt_leaves_the_shot_trackable(damaged):
    root, restart = damaged
    with restart().client() as client:
        open_shot(client, "sh", N)
        mask = bytearray(96 * 128)
        for y in range(30, 60):
            mask[y * 128 + 40 : y * 128 + 80] = b"\xff" * 40
        content = dict(
            box_prompt("sh", FIRST + 3, obj=2, name="m"),
            box=None,
            mask={
                "buffer": 0,
                "encoding": "raw",
                "dtype": "uint8",
                "shape": [96, 128],
                "channels": ["A"],
                "colourspace": "raw",
                "origin": "top_left",
            },
        )
        client.request("add_prompt_request", content, [bytes(mask)])
    masks = list((root / "prompts").glob("mask.*.png"))
    assert len(masks) == 1
    masks[0].write_bytes(b"not a png")
    with restart().client() as client:
        state = open_shot(client, "sh", N)
        assert any("mask" in w["message"] for w in state["warnings"])
        job = client.propagate(shot_id="sh", start_frame=FIRST, direction="forward")
        list(job.events(idle_timeout_s=60))
        assert job.end.msg_type == "done"


def test_damaged_stored_plate_frame_names_the_frame(damaged):
    root, restart = damaged
    (stored,) = (root / "plate").glob(f"plate.{FIRST + 2}.*")  # raw buffers: .raw as sent
    stored.write_bytes(b"v/1\x01" + b"\0" * 100)
    with restart().client() as client:
        open_shot(client, "sh", N)
        job = client.propagate(shot_id="sh", start_frame=FIRST, direction="forward")
        with pytest.raises(ProtocolError) as err:
            list(job.events(idle_timeout_s=60))
        assert err.value.code is ErrorCode.BAD_IMAGE
        assert err.value.details["frame"] == FIRST + 2
        put_all(client, "sh", N)  # re-sent: tracking works again
        job = client.propagate(shot_id="sh", start_frame=FIRST, direction="forward")
        list(job.events(idle_timeout_s=60))
        assert job.end.msg_type == "done"


def test_left_over_undo_backup_is_resolved_at_open(damaged):
    """A kill between replacing a matte and committing the journal leaves a backup beside it."""
    root, restart = damaged
    target = root / "matte" / f"matte.{FIRST + 4}.exr"
    backup = target.parent / f".{target.name}.0badc0de.bak"
    os.link(target, backup)
    other = root / "matte" / f"matte.{FIRST + 5}.exr"
    target.write_bytes(other.read_bytes())  # the uncommitted new content (another revision)
    with restart().client() as client:
        open_shot(client, "sh", N)
    assert not backup.exists()
    assert consistency_problems(root) == []


def test_a_connection_file_not_safe_to_reuse_is_replaced_loudly(tmp_path, capsys):
    from sam2matting.backend.cli import serve

    path = tmp_path / "connection.json"
    path.write_text("{ not json")
    path.chmod(0o600)
    info = serve._connection(path, None, None)
    assert "A NEW key" in capsys.readouterr().err  # said loudly, not silently replaced
    write_connection_file(path, info)
    path.chmod(0o644)  # readable by others: the key may be known
    assert serve._connection(path, None, None).key != info.key
    assert "A NEW key" in capsys.readouterr().err


def test_a_symlinked_connection_file_is_refused(tmp_path):
    path = write_connection_file(tmp_path / "theirs.json", ConnectionInfo(new_key()))
    link = tmp_path / "connection.json"
    link.symlink_to(path)
    with pytest.raises(ProtocolError) as err:
        read_connection_file(link)
    assert "symbolic link" in err.value.message


@pytest.mark.skipif(os.getuid() != 0, reason="handing a file to another user needs root")
def test_another_users_connection_file_is_refused(tmp_path):
    path = write_connection_file(tmp_path / "connection.json", ConnectionInfo(new_key()))
    os.chown(path, 4242, -1)
    with pytest.raises(ProtocolError) as err:
        read_connection_file(path)
    assert "belongs to user id 4242" in err.value.message


@pytest.mark.parametrize("key", ["ab" * 32, "g" * 64, "0123", "0" * 200])
def test_keys_must_be_long_random_hex(tmp_path, key):
    path = write_connection_file(tmp_path / "connection.json", ConnectionInfo(new_key()))
    data = json.loads(path.read_text())
    data["key"] = key
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    with pytest.raises(ProtocolError):
        read_connection_file(path)


def test_interrupted_plate_put_is_rolled_back_at_open(damaged):
    """A kill after refs.json was replaced but before the change committed leaves its backup:
    the put never happened (it was not acknowledged), so the plate goes back as it was."""
    root, restart = damaged
    refs = root / "plate" / "refs.json"
    backup = refs.parent / f".{refs.name}.0badc0de.bak"
    os.link(refs, backup)
    data = json.loads(refs.read_text())
    del data["frames"][str(FIRST + 1)]  # the interrupted put's index (one frame different)
    fresh = refs.parent / "refs.new"
    fresh.write_text(json.dumps(data))
    fresh.replace(refs)  # as the backend writes it: a new file renamed over the old
    with restart().client() as client:
        state = open_shot(client, "sh", N)
    assert state["frames_stored"] == [[FIRST, FIRST + N - 1]]
    assert not backup.exists()
