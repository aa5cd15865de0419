"""Thousands of random and mutated multipart messages: a valid parse or a typed error, never an
escaped exception, never a hang; a live server keeps answering throughout."""

from __future__ import annotations

import json
import os
import time
import uuid

import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sam2matting.protocol import messages
from sam2matting.protocol.client import Client
from sam2matting.protocol.envelope import DELIMITER, Session
from sam2matting.protocol.errors import ProtocolError

from .examples import EXAMPLES
from .toy_server import ToyServer

KEY = "f" * 64
# Thousands in the main suite; tests/nuke_side.sh lowers it for the extra interpreter runs.
EXAMPLES_N = int(os.environ.get("SAM2MATTING_FUZZ_EXAMPLES", "3000"))

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)


@st.composite
def mutated_content(draw):
    """A valid example with one field replaced, removed or added: exercises the validator."""
    msg_type = draw(st.sampled_from(sorted(EXAMPLES)))
    content, buffers = EXAMPLES[msg_type]
    content = json.loads(json.dumps(content))
    keys = sorted(content)
    action = draw(st.sampled_from(["replace", "remove", "add", "buffers", "keep"]))
    if keys and action == "replace":
        content[draw(st.sampled_from(keys))] = draw(json_values)
    elif keys and action == "remove":
        del content[draw(st.sampled_from(keys))]
    elif action == "add":
        content[draw(st.text(max_size=8))] = draw(json_values)
    elif action == "buffers":
        buffers = draw(st.lists(st.binary(max_size=64), max_size=3))
    msg_type = draw(st.sampled_from([msg_type, msg_type, "bogus_request", ""]))
    return msg_type, content, buffers


@st.composite
def signed_frames(draw, key=KEY):
    """Correctly signed envelopes around mutated headers/contents (they reach the validator)."""
    session = Session(key)
    msg_type, content, buffers = draw(mutated_content())
    header = {
        "msg_id": draw(st.sampled_from(["a" * 32, "zz", ""]))
        if draw(st.booleans())
        else draw(st.uuids()).hex,
        "msg_type": msg_type,
        "protocol_version": draw(st.sampled_from(["1.0", "1.3", "2.0", "x"])),
        "date": draw(st.sampled_from([0.0, 1e12, None]))
        if draw(st.booleans())
        else __import__("time").time(),
        "client_id": "fuzz",
    }
    if draw(st.booleans()):
        header.pop(draw(st.sampled_from(sorted(header))))
    parts = [
        json.dumps(header).encode(),
        b"{}",
        json.dumps(draw(st.sampled_from([{}, {"a": 1}]))).encode(),
        json.dumps(content).encode(),
        *buffers,
    ]
    if draw(st.booleans()):
        idx = draw(st.integers(0, len(parts) - 1))
        parts[idx] = draw(st.binary(max_size=40))
    return [DELIMITER, session.sign(parts), *parts]


raw_frames = st.lists(st.binary(max_size=80), max_size=8) | st.lists(
    st.sampled_from([DELIMITER, b"{}", b"", b"x" * 64]), max_size=10
)
any_frames = st.one_of(raw_frames, signed_frames())


@settings(max_examples=EXAMPLES_N, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=any_frames)
def test_decoder_gives_a_message_or_a_typed_error(frames):
    try:
        msg = Session(KEY).deserialize(frames)
    except ProtocolError as exc:
        error = exc
    else:
        assert msg.header["msg_type"] == msg.msg_type  # a full, valid message
        return
    assert error.code.value  # typed, with a stable code
    # ... and sendable: the answer may echo what the peer sent (NUL, lone surrogates).
    messages.validate_content("error", error.to_content())


def test_an_error_echoing_a_hostile_field_name_is_still_answered():
    """A field name with NUL and a lone surrogate is echoed in the error; once, that error
    could not be sent (no string on the wire may hold NUL) and the serving loop died."""
    ctx = zmq.Context()
    with ToyServer(context=ctx) as server:
        raw = ctx.socket(zmq.DEALER)
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(server.info.endpoint)
        header = {
            "msg_id": uuid.uuid4().hex,
            "msg_type": "ping_request",
            "protocol_version": "1.0",
            "date": time.time(),
            "client_id": "fuzz",
        }
        parts = [json.dumps(p).encode() for p in (header, {}, {}, {"\x00\ud800\x07": 1})]
        raw.send_multipart([DELIMITER, Session(server.info.key).sign(parts), *parts])
        assert raw.poll(5000), "no answer to the hostile message"
        answer = raw.recv_multipart()
        content = json.loads(answer[-1])
        assert content["code"] == "invalid_field"
        assert "\\x00" in content["message"]
        client = Client(server.info, timeout_s=10, context=ctx)
        assert client.ping()["jobs_running"] >= 0  # the loop still serves
        client.close()
        raw.close()
    ctx.term()


def test_live_server_survives_fuzz():
    ctx = zmq.Context()
    with ToyServer(context=ctx) as server:
        raw = ctx.socket(zmq.DEALER)
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(server.info.endpoint)
        sent = []

        @settings(
            max_examples=max(EXAMPLES_N // 3, 100),
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(frames=st.one_of(raw_frames, signed_frames(key=server.info.key)))
        def fire(frames):
            raw.send_multipart(frames or [b""])
            sent.append(1)
            assert server.alive

        fire()
        client = Client(server.info, timeout_s=30, context=ctx)
        assert client.ping()["jobs_running"] >= 0  # still answering after the storm
        # Every fuzz message got at least one answer (an error, a reply, or a job's events).
        answers = 0
        while raw.poll(500):
            raw.recv_multipart()
            answers += 1
        assert answers >= len(sent)
        assert server.endpoint.rejected > 0
        client.close()
        raw.close()
    ctx.term()
