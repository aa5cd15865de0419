"""Oversized and bomb inputs: refused from headers and bounds before any large allocation, off
the I/O thread; memory before authentication bounded; a flood of garbage does not fill the log.

Defects (MEDIUM/LOW, issue 13): a small EXR declaring 11000x11000 was decoded (+2.7 GB) before
its size was compared with the shot, and as a mask it blocked the I/O thread; a ±10^7 frame
range made propagate spend seconds and gigabytes on the I/O thread; a client without the key
could make the server buffer gigabytes; unauthenticated garbage grew the log without bound.
"""

from __future__ import annotations

import logging
import threading
import time
import tracemalloc
from typing import Any, Dict, Tuple

import numpy as np
import pytest
import zmq

from sam2matting.backend.imageio.exr import Window, encode_exr
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from ..backend.server.harness import FIRST, H, W, box_prompt, open_shot, put_all
from .conftest import FIGURES
from .harness import ChildServer, zmtp_unfinished_message

SIDE = 6000  # 36 Mpx: a ~100 KB file that decodes to ~430 MB of float32 planes


@pytest.fixture(scope="module")
def bombs() -> Dict[str, bytes]:
    zeros = np.zeros((SIDE, SIDE), np.float16)
    planes = {"R": zeros, "G": zeros, "B": zeros}
    return {
        # declares a huge format
        "format": encode_exr(planes, pixel_type="half"),
        # the shot's format, with a huge data window around it ("overscan")
        "overscan": encode_exr(planes, pixel_type="half", display_window=Window.of_size(W, H)),
    }


def _peak_during(fn: Any) -> Tuple[Any, float]:
    """(result or error, peak MB traced meanwhile); numpy's allocations are traced."""
    tracemalloc.start()
    try:
        try:
            result = fn()
        except ProtocolError as exc:
            result = exc
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("kind", ["format", "overscan"])
def test_exr_bomb_as_plate_is_refused_from_its_header(backend, bombs, kind):
    FIGURES["faults injected"] += 1
    with backend.client() as client:
        open_shot(client, "bp", 2)
        entry = {"frame": FIRST, "image": {"buffer": 0, "encoding": "exr"}}
        answer, peak = _peak_during(
            lambda: client.request(
                "put_frames_request", {"shot_id": "bp", "frames": [entry]}, [bombs[kind]]
            )
        )
        assert isinstance(answer, ProtocolError)
        expected = ErrorCode.FRAME_SIZE_MISMATCH if kind == "format" else ErrorCode.BAD_IMAGE
        assert answer.code is expected
        assert peak < 60, f"{peak:.0f} MB allocated for a refused image"


@pytest.mark.parametrize("kind", ["format", "overscan"])
def test_exr_bomb_as_mask_never_holds_the_io_thread(backend, bombs, kind):
    FIGURES["faults injected"] += 1
    with backend.client() as client, backend.client() as pinger:
        open_shot(client, "bm", 2)
        put_all(client, "bm", 2)
        content = dict(box_prompt("bm", FIRST), box=None, mask={"buffer": 0, "encoding": "exr"})
        sent = client.send("add_prompt_request", content, [bombs[kind]])
        assert pinger.ping(timeout_s=2)
        answer, peak = _peak_during(lambda: client.wait(sent.msg_id, 60))
        assert answer.msg_type == "error"
        assert answer.content["code"] in ("frame_size_mismatch", "bad_image")
        assert peak < 60, f"{peak:.0f} MB allocated for a refused mask"


def test_huge_frame_ranges_are_refused_and_planning_stays_off_the_io_thread(backend):
    from sam2matting.protocol import limits

    FIGURES["faults injected"] += 1
    with backend.client() as client, backend.client() as pinger:
        with pytest.raises(ProtocolError) as err:
            client.request(
                "open_shot_request",
                {
                    "shot_id": "huge",
                    "width": W,
                    "height": H,
                    "first_frame": -limits.MAX_FRAME,
                    "last_frame": limits.MAX_FRAME,
                },
            )
        assert err.value.code is ErrorCode.INVALID_FIELD
        assert "split it" in err.value.message
        last = FIRST + limits.MAX_SHOT_FRAMES - 1  # the longest shot allowed
        open_shot(client, "long", limits.MAX_SHOT_FRAMES)
        put_all(client, "long", 1)
        client.request("add_prompt_request", box_prompt("long", FIRST))
        stop = threading.Event()
        worst = []

        def ping_all_along() -> None:
            while not stop.is_set():
                start = time.monotonic()
                pinger.ping(timeout_s=5)
                worst.append(time.monotonic() - start)

        thread = threading.Thread(target=ping_all_along)
        thread.start()
        try:
            for _ in range(3):
                with pytest.raises(ProtocolError) as err:
                    client.request("propagate_request", {"shot_id": "long", "last_frame": last})
                assert err.value.code is ErrorCode.FRAME_MISSING
        finally:
            stop.set()
            thread.join(10)
        assert max(worst) < 1.0, f"a ping waited {max(worst):.2f} s"


def test_a_peer_without_the_key_cannot_make_the_backend_buffer(tmp_path):
    """Eight 64 MB frames of a multipart that never ends, sent without credentials: libzmq
    would hold every part until the last one came; on the endpoint a 1.1 client is told to use,
    nothing of it is ever received."""
    import psutil

    server = ChildServer(tmp_path)
    client = server.start()
    try:
        info = client.info
        process = psutil.Process(server.pid)
        before = process.memory_info().rss
        port = info.auth_port if getattr(info, "auth_port", 0) else info.port
        chunk = bytes(64 * 1024 * 1024)
        peak = []

        def watch() -> None:
            for _ in range(40):
                peak.append(process.memory_info().rss)
                time.sleep(0.1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        accepted = zmtp_unfinished_message(info.ip, port, [b"", b"<IDS|MSG>"] + [chunk] * 8)
        watcher.join()
        FIGURES["messages"] += 1
        grown = (max(peak) - before) / 1e6
        assert client.ping(timeout_s=5)
        assert grown < 100, f"the backend grew by {grown:.0f} MB for an unauthenticated peer"
        assert accepted < 8 * len(chunk)  # it hung up instead of reading it all
    finally:
        client.close()
        server.stop()


def test_garbage_floods_do_not_grow_the_log(backend, caplog):
    per_minute = 30  # limits.REJECTION_LOG_PER_MINUTE (a literal: the case predates the limit)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(backend.server.info.endpoint)  # the 1.0 endpoint: garbage reaches the decoder
    count = 500
    with caplog.at_level(logging.WARNING, logger="sam2matting.protocol.server"):
        for i in range(count):
            sock.send_multipart([b"<IDS|MSG>", b"x" * 64, b"{}", b"{}", b"{}", str(i).encode()])
        deadline = time.monotonic() + 30
        while backend.server.endpoint.rejected < count and time.monotonic() < deadline:
            time.sleep(0.05)
    FIGURES["messages"] += count
    sock.close(linger=0)
    ctx.term()
    assert backend.server.endpoint.rejected == count
    lines = [r for r in caplog.records if r.name == "sam2matting.protocol.server"]
    assert len(lines) <= per_minute + 1


def test_waiting_work_is_bounded_and_answered_busy():
    from sam2matting.backend.server.pool import RequestPool

    gate = threading.Event()
    pool = RequestPool(threads=1, max_requests=3, max_bytes=100)
    try:
        pool.submit(gate.wait)
        pool.submit(lambda: None, 60)
        with pytest.raises(ProtocolError) as err:  # bytes
            pool.submit(lambda: None, 60)
        assert err.value.details["limit"] == "max_pending_bytes"
        pool.submit(lambda: None, 10)
        with pytest.raises(ProtocolError) as err:  # requests
            pool.submit(lambda: None)
        assert err.value.code is ErrorCode.BUSY
        assert err.value.details["limit"] == "max_pending_requests"
    finally:
        gate.set()
        pool.close()
