"""Protocol 1.1 on the real server: edits are prompts, not deletions.

Changing or removing a prompt keeps every cached matte (bytes unchanged) and marks the frames
whose track ran through it stale; a propagation over them clears the mark; only remove_object
deletes mattes. Replacing stored plate frames makes every matte stale. A 1.0 client is served.
"""

from __future__ import annotations

import pytest

from sam2matting.protocol import messages
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .harness import FIRST, box_prompt, open_shot, put_all, raw_frame, start_server

N = 12
MID = FIRST + 5
LAST = FIRST + N - 1


@pytest.fixture
def backend(tmp_path):
    running = start_server(tmp_path / "cache")
    yield running
    running.stop()


def tracked_shot(backend, client, shot_id="sh030"):
    """A shot prompted on MID and tracked both ways; returns every matte file's bytes."""
    open_shot(client, shot_id, N)
    put_all(client, shot_id, N)
    client.request("add_prompt_request", box_prompt(shot_id, MID))
    list(client.propagate(shot_id=shot_id, direction="both").events())
    return mattes(backend, shot_id)


def mattes(backend, shot_id):
    cache = backend.server.shots[shot_id].cache
    return {f: cache.path(f).read_bytes() for f in range(FIRST, LAST + 1) if cache.has(f)}


def stale_of(client, shot_id):
    return open_shot(client, shot_id, N)["frames_stale"]


def test_editing_the_key_frame_keeps_every_matte_stale_until_retracked(backend):
    with backend.client() as client:
        before = tracked_shot(backend, client)
        assert sorted(before) == list(range(FIRST, LAST + 1))
        assert stale_of(client, "sh030") == []

        edit = box_prompt("sh030", MID)
        edit["points"], edit["labels"] = [[2.0, 2.0]], [0]  # a negative point added on 1006
        reply = client.request("add_prompt_request", edit).content
        # Every frame was tracked from the key frame: all stale but the key frame itself.
        assert reply["invalidated"] == [[FIRST, MID - 1], [MID + 1, LAST]]
        after = mattes(backend, "sh030")
        del after[MID], before[MID]  # re-matted from the new prompt
        assert after == before
        assert stale_of(client, "sh030") == [
            {"object_id": 1, "ranges": [[FIRST, MID - 1], [MID + 1, LAST]]}
        ]

        list(client.propagate(shot_id="sh030", start_frame=MID, direction="forward").events())
        assert stale_of(client, "sh030") == [{"object_id": 1, "ranges": [[FIRST, MID - 1]]}]


def test_remove_prompt_keeps_the_mattes_and_marks_its_reach_stale(backend):
    with backend.client() as client:
        tracked_shot(backend, client)
        drift = FIRST + 9
        client.request("add_prompt_request", box_prompt("sh030", drift))
        list(client.propagate(shot_id="sh030", start_frame=drift, direction="forward").events())
        before = mattes(backend, "sh030")
        assert stale_of(client, "sh030") == []

        reply = client.request(
            "remove_prompt_request", {"shot_id": "sh030", "object_id": 1, "frame": drift}
        ).content
        assert reply["invalidated"] == [[MID + 1, LAST]]  # both sides of 1010, and 1010 itself
        assert mattes(backend, "sh030") == before  # nothing deleted, nothing rewritten
        state = open_shot(client, "sh030", N)
        assert [(p["frame"], p["object_id"]) for p in state["prompts"]] == [(MID, 1)]
        assert state["objects"] == [{"id": 1, "name": "disc"}]
        assert state["frames_matted"] == [[FIRST, LAST]]

        with pytest.raises(ProtocolError) as err:
            client.request(
                "remove_prompt_request", {"shot_id": "sh030", "object_id": 1, "frame": drift}
            )
        assert err.value.code is ErrorCode.NO_PROMPT
        # The tracker forgot the prompt too: re-tracking from the key frame works and clears it.
        job = client.propagate(shot_id="sh030", start_frame=MID, direction="forward")
        assert [e.content["frame"] for e in job.events()] == list(range(MID, LAST + 1))
        assert stale_of(client, "sh030") == []


def test_stale_marks_survive_a_restart(tmp_path):
    first = start_server(tmp_path / "cache")
    with first.client() as client:
        tracked_shot(first, client)
        client.request("remove_prompt_request", {"shot_id": "sh030", "object_id": 1, "frame": MID})
    first.stop()
    second = start_server(tmp_path / "cache")
    try:
        with second.client() as client:
            assert stale_of(client, "sh030") == [{"object_id": 1, "ranges": [[FIRST, LAST]]}]
    finally:
        second.stop()


def test_only_remove_object_deletes_mattes(backend):
    with backend.client() as client:
        tracked_shot(backend, client)
        client.request("remove_object_request", {"shot_id": "sh030", "object_id": 1})
        assert mattes(backend, "sh030") == {}
        assert stale_of(client, "sh030") == []


def test_replacing_stored_plate_frames_makes_every_matte_stale(backend):
    with backend.client() as client:
        before = tracked_shot(backend, client)
        entry, pixels = raw_frame(FIRST + 4, 7)  # another frame's pixels on 1005
        reply = client.request(
            "put_frames_request", {"shot_id": "sh030", "frames": [entry]}, [pixels]
        ).content
        assert reply["invalidated"] == [[FIRST, LAST]]
        assert mattes(backend, "sh030") == before
        assert stale_of(client, "sh030") == [{"object_id": 1, "ranges": [[FIRST, LAST]]}]


def test_a_1_0_client_is_served(backend):
    """Requests in 1.0 headers work; the replies validate against 1.0's schema (leniently)."""
    new = messages.CONTENT["open_shot_reply"]
    assert isinstance(new, messages.Record)
    fields = {k: f for k, f in new.fields.items() if k != "frames_stale"}
    open_shot_reply_1_0 = messages.Record(fields)
    with backend.client() as client:
        build = client.session.msg

        def as_1_0(*args, **kwargs):
            msg = build(*args, **kwargs)
            msg.header["protocol_version"] = "1.0"
            return msg

        client.session.msg = as_1_0  # type: ignore[method-assign]
        state = open_shot(client, "sh031", 4)
        assert "frames_stale" not in open_shot_reply_1_0.check(state, "content", lenient=True)
        put_all(client, "sh031", 4)
        client.request("add_prompt_request", box_prompt("sh031", FIRST))
        job = client.propagate(shot_id="sh031", direction="forward")
        assert [e.content["frame"] for e in job.events()] == list(range(FIRST, FIRST + 4))
        assert job.end is not None
        assert job.end.msg_type == "done"
