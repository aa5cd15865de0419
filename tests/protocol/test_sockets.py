"""Round trips over real ZeroMQ sockets (inproc and tcp loopback) through the client library."""

from __future__ import annotations

import struct
import time

import pytest
import zmq

from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .examples import EXAMPLES
from .toy_server import ToyServer


@pytest.fixture(params=["inproc", "tcp"])
def server_and_client(request):
    ctx = zmq.Context()
    with ToyServer(transport=request.param, context=ctx) as server:
        client = Client(server.info, timeout_s=5, heartbeat_s=0.2, context=ctx)
        yield server, client
        client.close()
    ctx.term()


def test_request_reply(server_and_client):
    _server, client = server_and_client
    reply = client.ping()
    assert reply["jobs_running"] == 0
    assert reply["server_time"] == pytest.approx(time.time(), abs=5)


def test_error_reply_is_raised_typed(server_and_client):
    _server, client = server_and_client
    with pytest.raises(ProtocolError) as err:
        client.request("close_shot_request", {"shot_id": "sh010"})
    assert err.value.code is ErrorCode.UNKNOWN_SHOT
    assert "close_shot_request" in err.value.message


def test_job_streams_progress_then_done(server_and_client):
    _server, client = server_and_client
    job = client.propagate(shot_id="s")
    frames = [event.content["frame"] for event in job.events()]
    assert frames == [1001, 1002, 1003, 1004, 1005]
    assert job.end is not None
    assert job.end.msg_type == "done"
    assert job.end.parent_id == job.request.msg_id


def test_cancel_stops_a_job(server_and_client):
    server, client = server_and_client
    server.frames, server.frame_s = 200, 0.01
    job = client.propagate(shot_id="s")
    for seen, _event in enumerate(job.events(), start=1):
        if seen == 3:
            assert job.cancel() == [job.job_id]
    assert job.end.msg_type == "cancelled"
    assert job.end.content["frames_done"] < 200


def test_buffers_round_trip_byte_exact():
    ctx = zmq.Context()
    with ToyServer(transport="inproc", context=ctx) as server:
        client = Client(server.info, context=ctx)
        content, buffers = EXAMPLES["put_frames_request"]
        sent = client.send("put_frames_request", content, buffers)
        # the toy server answers unknown requests with an error addressed to our msg_id
        reply = client.wait(sent.msg_id, 5)
        assert reply.msg_type == "error"
        assert struct.unpack("<18e", buffers[0])[1] == pytest.approx(1 / 17, rel=1e-3)
        client.close()
    ctx.term()


def test_no_backend_fails_fast_with_hint():
    info = ConnectionInfo("k" * 64, port=1)  # nothing listens on port 1
    client = Client(info, timeout_s=1, connect_timeout_s=0.3)
    start = time.monotonic()
    with pytest.raises(ProtocolError) as err:
        client.ping()
    assert err.value.code is ErrorCode.BACKEND_UNREACHABLE
    assert "sam2matting serve" in err.value.hint
    assert time.monotonic() - start < 2
    client.close()


def test_hung_backend_is_detected_by_heartbeat():
    with ToyServer(frames=1000, frame_s=0.01) as server:
        client = Client(server.info, timeout_s=2, heartbeat_s=0.2)
        job = client.propagate(shot_id="s")
        events = job.events()
        next(events)
        server.pause()
        with pytest.raises(ProtocolError) as err:
            for _ in events:
                pass
        assert err.value.code is ErrorCode.BACKEND_UNREACHABLE
        server.paused.clear()
        # after the reset the same client works again
        assert client.ping()["jobs_running"] >= 0
        client.close()


def test_wrong_key_reports_bad_signature_not_a_bare_timeout():
    with ToyServer() as server:
        wrong = ConnectionInfo("w" * 64, ip=server.info.ip, port=server.info.port)
        client = Client(wrong, timeout_s=1, heartbeat_s=0.3)
        with pytest.raises(ProtocolError) as err:
            client.ping()
        assert err.value.code is ErrorCode.BAD_SIGNATURE
        assert server.endpoint.rejected == 1
        client.close()


def test_request_timeout_is_bounded():
    with ToyServer() as server:
        server.pause()
        client = Client(server.info, timeout_s=0.3)
        start = time.monotonic()
        with pytest.raises(ProtocolError) as err:
            client.request("ping_request", {})
        assert err.value.code is ErrorCode.TIMEOUT
        assert 0.25 < time.monotonic() - start < 2
        client.close()
