"""Disk full at every write of every state change: the change is refused with `disk_full` and
nothing that was there before changes (journal, mattes, plate, tracker); freed space, the same
request succeeds.

Defect (HIGH, issue 13): remove_object and add_prompt changed the tracker before the journal
write; a failed write left the tracker ahead of the journal, and later jobs wrote wrong mattes.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

from sam2matting.protocol.errors import ErrorCode, ProtocolError

from ..backend.server.harness import (
    FIRST,
    H,
    W,
    box_prompt,
    frame_truth,
    iou,
    open_shot,
    put_all,
    raw_frame,
)
from .harness import DiskFull, consistency_problems, matte_objects, snapshot, tracker_disagreement

N = 6


def _shot(backend, client, shot_id: str, track: bool = True) -> Any:
    open_shot(client, shot_id, N)
    put_all(client, shot_id, N)
    client.request("add_prompt_request", box_prompt(shot_id, FIRST))
    if track:
        job = client.propagate(shot_id=shot_id, direction="forward")
        list(job.events(idle_timeout_s=120))
    return backend.server.shots[shot_id]


def _every_write_fails_once(disk: DiskFull, shot: Any, action: Callable[[], Any]) -> int:
    """Run `action` with its 1st, 2nd, ... file write failing; each time: disk_full and no
    change at all. Returns how many writes the action makes (then it runs for real)."""
    root = shot.root
    before = snapshot(root)
    nth = 0
    while True:
        nth += 1
        with disk.failing(nth):
            try:
                action()
                failed = None
            except ProtocolError as exc:
                failed = exc
        if not disk.triggered:  # the action made fewer writes: every one was tried
            assert failed is None, failed
            return nth - 1
        assert failed is not None, f"write {nth} failed but the request succeeded"
        assert failed.code is ErrorCode.DISK_FULL, failed
        assert snapshot(root) == before, f"write {nth} failed but files changed"
        assert tracker_disagreement(shot) is None, tracker_disagreement(shot)
        assert consistency_problems(root) == []


def test_remove_object_on_a_full_disk_changes_nothing(backend, disk):
    with backend.client() as client:
        shot = _shot(backend, client, "rm")
        client.request("add_prompt_request", box_prompt("rm", FIRST + 2, obj=2, name="b"))
        writes = _every_write_fails_once(
            disk,
            shot,
            lambda: client.request("remove_object_request", {"shot_id": "rm", "object_id": 1}),
        )
        assert writes >= 2  # mattes rewritten, then the journal
        assert 1 not in shot.journal.objects
        assert tracker_disagreement(shot) is None
        assert consistency_problems(shot.root) == []
        for frame in range(FIRST, FIRST + N):
            path = shot.cache.path(frame)
            if path.is_file():
                assert 1 not in matte_objects(path)


def test_failed_journal_write_never_leaves_the_tracker_ahead(backend, disk):
    """The audit's reproduction: remove_object on a full disk, then track again."""
    with backend.client() as client:
        shot = _shot(backend, client, "hi")
        with disk.failing(1), pytest.raises(ProtocolError) as err:
            client.request("remove_object_request", {"shot_id": "hi", "object_id": 1})
        assert err.value.code is ErrorCode.DISK_FULL
        assert 1 in shot.journal.objects
        assert tracker_disagreement(shot) is None
        job = client.propagate(shot_id="hi", direction="forward")
        for event in job.events(idle_timeout_s=120):
            frame = event.content["frame"]
            assert event.content["objects"] == [1]
            alpha = matte_objects(shot.cache.path(frame))[1]
            assert iou(alpha, frame_truth(frame - FIRST)[1]) > 0.45, frame
        assert job.end.msg_type == "done"


def test_add_prompt_on_a_full_disk_changes_nothing(backend, disk):
    with backend.client() as client:
        shot = _shot(backend, client, "ap")
        mask = np.zeros((H, W), np.uint8)
        mask[30:60, 40:80] = 255
        content = dict(
            box_prompt("ap", FIRST + 3),
            box=None,
            mask={
                "buffer": 0,
                "encoding": "raw",
                "dtype": "uint8",
                "shape": [H, W],
                "channels": ["A"],
                "colourspace": "raw",
                "origin": "top_left",
            },
        )
        writes = _every_write_fails_once(
            disk, shot, lambda: client.request("add_prompt_request", content, [mask.tobytes()])
        )
        assert writes >= 3  # mask PNG, matte, journal
        assert [p.frame for p in shot.journal.prompts] == [FIRST, FIRST + 3]
        assert tracker_disagreement(shot) is None


def test_put_frames_on_a_full_disk_stores_all_or_none(backend, disk):
    with backend.client() as client:
        shot = _shot(backend, client, "pf", track=False)
        entries, buffers = [], []
        for i in range(3):
            entry, pixels = raw_frame(FIRST + i, i + 3)  # other pixels than stored
            entry["image"] = dict(entry["image"], buffer=i)
            entries.append(entry)
            buffers.append(pixels)
        content = {"shot_id": "pf", "frames": entries}
        writes = _every_write_fails_once(
            disk, shot, lambda: client.request("put_frames_request", content, buffers)
        )
        assert writes == 5  # three plate files, refs.json, then the journal (mattes now stale)


def test_a_job_on_a_full_disk_stops_and_keeps_what_it_reported(backend, disk):
    with backend.client() as client:
        shot = _shot(backend, client, "jb", track=False)
        for nth in (1, 2, 5, 6):
            before = snapshot(shot.root)
            with disk.failing(nth):
                job = client.propagate(shot_id="jb", direction="forward")
                done: list = []
                with pytest.raises(ProtocolError) as err:
                    done.extend(e.content["frame"] for e in job.events(idle_timeout_s=120))
            assert err.value.code is ErrorCode.DISK_FULL
            after = snapshot(shot.root)
            for frame in range(FIRST, FIRST + N):
                name = shot.cache.path(frame).relative_to(shot.root).as_posix()
                if frame not in done:  # the failed frame and those after it: untouched
                    assert after.get(name) == before.get(name), frame
            assert consistency_problems(shot.root) == []
            assert tracker_disagreement(shot) is None
            valid = set(shot.journal.valid_frames(1))
            assert set(done) <= valid


def test_open_shot_on_a_full_disk_opens_nothing(backend, disk):
    with backend.client() as client:
        with disk.failing(1), pytest.raises(ProtocolError) as err:
            open_shot(client, "new", N)
        assert err.value.code is ErrorCode.DISK_FULL
        assert "new" not in backend.server.shots
        state = open_shot(client, "new", N)
        assert state["restored"] is False
