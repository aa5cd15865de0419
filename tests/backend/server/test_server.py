"""The backend over real sockets: prompt, track both ways, re-prompt, restart, two shots, errors.

Flow tracker + the default weight-free engine on a small synthetic shot with known alpha.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sam2matting.backend.imageio.exr import read_exr
from sam2matting.backend.shots.frame_store import FrameStore
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .harness import (
    FIRST,
    H,
    W,
    box_prompt,
    frame_truth,
    frames_of,
    iou,
    open_shot,
    put_all,
    raw_frame,
    start_server,
)

N = 12


@pytest.fixture
def backend(tmp_path):
    running = start_server(tmp_path / "cache")
    yield running
    running.stop()


def matte_alpha(path):
    return read_exr(path).channels["A"]


def test_describe_reports_fallbacks_and_shared_filesystem(backend):
    with backend.client() as client:
        info = client.describe()
    flow = [t for t in info["trackers"] if t["name"] == "flow"]
    assert len(flow) == 1
    assert flow[0]["available"]
    assert flow[0]["fallback"]
    assert any(e["available"] for e in info["engines"])
    assert info["shares_filesystem"] is True
    assert info["device"]["type"] == "cpu"
    # No SAM2 weights are installed in the test's models folder: each says how to install.
    for cap in info["trackers"]:
        if cap["name"].startswith("sam2.1"):
            assert not cap["available"]
            assert "installer/install.py" in cap["reason"]


def test_prompt_track_both_ways_then_reprompt(backend):
    with backend.client() as client:
        state = open_shot(client, "sh010", N)
        assert state["restored"] is False
        put_all(client, "sh010", N)
        mid = FIRST + 5
        reply = client.request("add_prompt_request", box_prompt("sh010", mid)).content
        assert reply["invalidated"] == []
        truth = frame_truth(5)[1]
        assert iou(matte_alpha(reply["matte_path"]), truth) > 0.85

        job = client.propagate(shot_id="sh010", direction="both")
        assert job.ack.content["frames_planned"] == N
        progress = list(job.events())
        frames = frames_of(progress)
        assert frames == list(range(mid, FIRST + N)) + list(range(mid - 1, FIRST - 1, -1))
        assert progress[-1].content["done"] == N
        for event in progress:
            i = event.content["frame"] - FIRST
            alpha = matte_alpha(event.content["matte_path"])
            assert alpha.shape == (H, W)
            # The flow fallback drifts (docs: re-prompt every ~10 frames); this catches breakage.
            assert iou(alpha, frame_truth(i)[1]) > 0.45, f"frame {event.content['frame']}"

        # Re-prompt on a later frame: it sticks, and only frames after it are recomputed.
        drift = FIRST + 9
        before = {
            f: (backend.server.shots["sh010"].cache.path(f)).read_bytes()
            for f in range(FIRST, FIRST + N)
        }
        reply = client.request("add_prompt_request", box_prompt("sh010", drift)).content
        assert reply["invalidated"] == [[drift + 1, FIRST + N - 1]]
        job = client.propagate(shot_id="sh010", start_frame=drift, direction="forward")
        assert job.ack.content["unchanged"] == [[FIRST, drift - 1]]
        assert frames_of(list(job.events())) == list(range(drift, FIRST + N))
        cache = backend.server.shots["sh010"].cache
        for f in range(FIRST, drift):
            assert cache.path(f).read_bytes() == before[f], f"frame {f} was touched"
        state = open_shot(client, "sh010", N)
        assert state["restored"] is True
        assert [p["frame"] for p in state["prompts"]] == [mid, drift]
        assert state["frames_matted"] == [[FIRST, FIRST + N - 1]]


def test_restart_recovers_prompts_and_resumes(tmp_path):
    cache = tmp_path / "cache"
    first = start_server(cache)
    with first.client() as client:
        open_shot(client, "sh020", 8)
        put_all(client, "sh020", 8)
        client.request("add_prompt_request", box_prompt("sh020", FIRST))
        job = client.propagate(shot_id="sh020", direction="forward", last_frame=FIRST + 3)
        list(job.events())
    first.stop()

    second = start_server(cache)
    try:
        with second.client() as client:
            state = open_shot(client, "sh020", 8)
            assert state["restored"] is True
            assert state["objects"] == [{"id": 1, "name": "disc"}]
            assert state["frames_stored"] == [[FIRST, FIRST + 7]]
            assert state["frames_matted"] == [[FIRST, FIRST + 3]]
            # Resume without re-prompting: the journal's prompt is replayed into the tracker.
            job = client.propagate(shot_id="sh020", start_frame=FIRST + 3, direction="forward")
            progress = list(job.events())
            assert frames_of(progress) == list(range(FIRST + 3, FIRST + 8))
            last = progress[-1].content
            assert iou(matte_alpha(last["matte_path"]), frame_truth(7)[1]) > 0.6
    finally:
        second.stop()


def test_two_clients_two_shots_at_once(backend):
    results = {}

    def artist(shot_id):
        with backend.client() as client:
            open_shot(client, shot_id, 6)
            put_all(client, shot_id, 6)
            client.request("add_prompt_request", box_prompt(shot_id, FIRST))
            job = client.propagate(shot_id=shot_id, direction="forward")
            results[shot_id] = frames_of(list(job.events()))

    threads = [threading.Thread(target=artist, args=(s,)) for s in ("shA", "shB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {"shA": list(range(FIRST, FIRST + 6)), "shB": list(range(FIRST, FIRST + 6))}


def test_prompt_pre_empts_a_running_propagation(backend):
    with backend.client() as client, backend.client() as other:
        open_shot(client, "sh030", N)
        put_all(client, "sh030", N)
        client.request("add_prompt_request", box_prompt("sh030", FIRST))
        job = client.propagate(shot_id="sh030", direction="forward")
        events = job.events()
        next(events)
        # A second object on a later frame, from another connection, while the job runs.
        reply = other.request("add_prompt_request", box_prompt("sh030", FIRST + 8, obj=2, name="b"))
        assert reply.content["object_id"] == 2
        rest = [e.content["frame"] for e in events]
        assert job.end.msg_type == "done"
        assert rest[-1] == FIRST + N - 1  # the job resumed and finished


def test_cancel_stops_within_a_frame(backend, monkeypatch):
    """A cancel that arrives while a frame is being matted ends the job after that frame.

    Deterministic under any load: the third frame's matting waits until the server has
    registered the cancel (sent after the second frame's progress), so no frame can slip by.
    The first frame, the prompt's, is not matted again (its matte is current).
    """
    server = backend.server
    registered = threading.Event()
    cancel = server.worker.cancel

    def cancel_and_tell(*args, **kwargs):
        hit = cancel(*args, **kwargs)
        registered.set()
        return hit

    monkeypatch.setattr(server.worker, "cancel", cancel_and_tell)
    with backend.client() as client:
        open_shot(client, "sh040", N)
        put_all(client, "sh040", N)
        client.request("add_prompt_request", box_prompt("sh040", FIRST))
        shot = server.shots["sh040"]
        matte, matted = shot.matte, []

        def gated(tracked, objects):
            matted.append(shot.frame_of(tracked.index))
            if len(matted) == 2:
                assert registered.wait(60), "the cancel never reached the worker"
            return matte(tracked, objects)

        monkeypatch.setattr(shot, "matte", gated)
        job = client.propagate(shot_id="sh040", direction="forward")
        seen = []
        for event in job.events():
            seen.append(event.content["frame"])
            if len(seen) == 2:
                job.cancel()
        assert job.end.msg_type == "cancelled"
        assert job.end.content["frames_done"] == 3  # the frame in flight, nothing after it
        assert matted == [FIRST + 1, FIRST + 2]
        assert seen in ([FIRST, FIRST + 1], [FIRST, FIRST + 1, FIRST + 2])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"shape": [H, W + 1, 3]}, ErrorCode.INVALID_FIELD),  # buffer size no longer matches
        ({"frame": FIRST + 99}, ErrorCode.FRAME_OUT_OF_RANGE),
    ],
)
def test_bad_frames_get_typed_errors_and_the_server_keeps_serving(backend, change, code):
    with backend.client() as client:
        open_shot(client, "sh050", 4)
        entry, pixels = raw_frame(FIRST, 0)
        if "frame" in change:
            entry["frame"] = change["frame"]
        else:
            entry["image"] = dict(entry["image"], **change)
        with pytest.raises(ProtocolError) as err:
            client.request("put_frames_request", {"shot_id": "sh050", "frames": [entry]}, [pixels])
        assert err.value.code is code
        assert client.ping()["jobs_running"] == 0


def test_corrupt_bytes_wrong_size_and_paths(backend, tmp_path):
    with backend.client() as client:
        open_shot(client, "sh060", 4)
        corrupt = {"frame": FIRST, "image": {"buffer": 0, "encoding": "exr"}}
        with pytest.raises(ProtocolError) as err:
            client.request(
                "put_frames_request", {"shot_id": "sh060", "frames": [corrupt]}, [b"not an exr"]
            )
        assert err.value.code is ErrorCode.BAD_IMAGE
        small = {
            "frame": FIRST,
            "image": {
                "buffer": 0,
                "encoding": "raw",
                "dtype": "uint8",
                "shape": [H // 2, W, 3],
                "channels": ["R", "G", "B"],
            },
        }
        with pytest.raises(ProtocolError) as err:
            client.request(
                "put_frames_request",
                {"shot_id": "sh060", "frames": [small]},
                [bytes(H // 2 * W * 3)],
            )
        assert err.value.code is ErrorCode.FRAME_SIZE_MISMATCH
        outside = tmp_path / "elsewhere.exr"
        outside.write_bytes(b"x")
        with pytest.raises(ProtocolError) as err:
            client.request(
                "put_frames_request",
                {"shot_id": "sh060", "frames": [{"frame": FIRST, "path": str(outside)}]},
            )
        assert err.value.code is ErrorCode.PATH_NOT_ALLOWED


def test_shot_errors(backend):
    with backend.client() as client:
        with pytest.raises(ProtocolError) as err:
            client.request("propagate_request", {"shot_id": "nope"})
        assert err.value.code is ErrorCode.UNKNOWN_SHOT
        open_shot(client, "sh070", 4)
        with pytest.raises(ProtocolError) as err:
            client.request("propagate_request", {"shot_id": "sh070"})
        assert err.value.code is ErrorCode.NO_PROMPT
        with pytest.raises(ProtocolError) as err:
            open_shot(client, "sh070", 5)
        assert err.value.code is ErrorCode.SHOT_MISMATCH
        put_all(client, "sh070", 2)
        client.request("add_prompt_request", box_prompt("sh070", FIRST))
        with pytest.raises(ProtocolError) as err:
            client.request("propagate_request", {"shot_id": "sh070", "direction": "forward"})
        assert err.value.code is ErrorCode.FRAME_MISSING
        with pytest.raises(ProtocolError) as err:
            client.request("remove_object_request", {"shot_id": "sh070", "object_id": 9})
        assert err.value.code is ErrorCode.UNKNOWN_OBJECT
        with pytest.raises(ProtocolError) as err:
            client.request("get_matte_request", {"shot_id": "sh070", "frame": FIRST + 1})
        assert err.value.code is ErrorCode.FRAME_MISSING
        reply = client.request(
            "get_matte_request", {"shot_id": "sh070", "frame": FIRST, "matte": "exr"}
        )
        assert read_exr(bytes(reply.buffers[0])).channels["obj1.A"].shape == (H, W)


def test_shutdown_request_stops_the_server(tmp_path):
    running = start_server(tmp_path / "cache")
    with running.client() as client:
        client.shutdown()
    running.thread.join(30)
    assert not running.thread.is_alive()
    time.sleep(0.05)


def test_the_cache_folder_a_client_asks_for(tmp_path):
    """open_shot_request.cache_dir (1.1): used under the allowed roots, where a restarted backend
    finds the shot again; anywhere else the shot stays in the cache root."""
    shows = tmp_path / "shows"
    wanted = shows / "sh080" / "comp" / "sam2matting" / "sh080_comp"
    running = start_server(tmp_path / "cache", allowed_roots=(shows,))
    try:
        with running.client() as client:
            state = open_shot(client, "sh080", 2, cache_dir=str(wanted))
            assert state["cache_dir"] == str(wanted)
            assert state["matte_pattern"] == str(wanted / "matte" / "matte.####.exr")
            put_all(client, "sh080", 2)
            added = client.request("add_prompt_request", box_prompt("sh080", FIRST)).content
            assert added["matte_path"] == str(wanted / "matte" / "matte.1001.exr")
            outside = open_shot(client, "sh081", 2, cache_dir=str(tmp_path / "elsewhere"))
            assert outside["cache_dir"] == str(tmp_path / "cache" / "sh081")
            relative = open_shot(client, "sh082", 2, cache_dir="shows/sh082")
            assert relative["cache_dir"] == str(tmp_path / "cache" / "sh082")
    finally:
        running.stop()
    again = start_server(tmp_path / "cache", allowed_roots=(shows,))
    try:
        with again.client() as client:
            state = open_shot(client, "sh080", 2, cache_dir=str(wanted))
            assert state["restored"] is True
            assert [p["frame"] for p in state["prompts"]] == [FIRST]
    finally:
        again.stop()
    assert not (tmp_path / "cache" / "sh080").exists()


def test_a_cache_folder_holding_other_files_is_not_taken_over(tmp_path):
    shows = tmp_path / "shows"
    comp = shows / "sh090" / "comp"
    comp.mkdir(parents=True)
    (comp / "sh090_comp_v001.nk").write_text("Root {}\n")
    running = start_server(tmp_path / "cache", allowed_roots=(shows,))
    try:
        with running.client() as client:
            state = open_shot(client, "sh090", 2, cache_dir=str(comp))
            assert state["cache_dir"] == str(tmp_path / "cache" / "sh090")
            root = open_shot(client, "sh091", 2, cache_dir=str(shows))  # a root itself
            assert root["cache_dir"] == str(tmp_path / "cache" / "sh091")
    finally:
        running.stop()
    assert sorted(p.name for p in comp.iterdir()) == ["sh090_comp_v001.nk"]


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("plate-prefetch")]


def test_propagation_decodes_next_frames_ahead_and_stops_prefetching_at_the_end(
    backend, monkeypatch
):
    decode, threads = FrameStore._decode, []

    def recording(store, frame, entry):
        threads.append((frame, threading.current_thread().name))
        return decode(store, frame, entry)

    monkeypatch.setattr(FrameStore, "_decode", recording)
    with backend.client() as client:
        open_shot(client, "sh090", N)
        put_all(client, "sh090", N)
        client.request("add_prompt_request", box_prompt("sh090", FIRST))
        job = client.propagate(shot_id="sh090", direction="forward")
        assert len(list(job.events())) == N
        assert job.end.msg_type == "done"
    ahead = [frame for frame, name in threads if name.startswith("plate-prefetch")]
    assert set(range(FIRST + 1, FIRST + N)) <= set(ahead)  # every frame after the prompted one
    decoded = [frame for frame, _ in threads]
    assert sorted(decoded) == list(range(FIRST, FIRST + N))  # each once: none decoded twice
    for thread in _prefetch_threads():
        thread.join(10)
    assert not _prefetch_threads()  # the job's end stopped the prefetch thread


def test_the_prompted_frame_is_not_matted_again_unless_its_inputs_changed(backend, monkeypatch):
    with backend.client() as client:
        open_shot(client, "sh091", N)
        put_all(client, "sh091", N)
        shot = backend.server.shots["sh091"]
        matte, matted = shot.matte, []

        def counting(tracked, objects):  # every engine call of the shot goes through here
            matted.append(shot.frame_of(tracked.index))
            return matte(tracked, objects)

        monkeypatch.setattr(shot, "matte", counting)
        start = FIRST + 5
        prompt_matte = client.request("add_prompt_request", box_prompt("sh091", start))
        prompt_bytes = Path(prompt_matte.content["matte_path"]).read_bytes()
        progress = list(client.propagate(shot_id="sh091", direction="forward").events())
        assert frames_of(progress) == list(range(start, FIRST + N))  # reported all the same
        assert matted == list(range(start, FIRST + N))  # the prompt's call, then one per frame
        kept = Path(progress[0].content["matte_path"]).read_bytes()
        assert kept == prompt_bytes  # the prompt's matte, kept
        # New pixels for the prompted frame: its matte is stale, so it is matted again.
        entry, pixels = raw_frame(start, 0)
        client.request("put_frames_request", {"shot_id": "sh091", "frames": [entry]}, [pixels])
        matted.clear()
        list(client.propagate(shot_id="sh091", start_frame=start, direction="forward").events())
        assert matted == list(range(start, FIRST + N))
