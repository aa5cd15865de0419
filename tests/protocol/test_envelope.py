"""Envelope: goldens for every message type; signing, tampering, replay, age, versions, sizes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sam2matting.protocol import messages
from sam2matting.protocol.envelope import DELIMITER, Limits, Message, Session
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.version import PROTOCOL_VERSION

from .examples import EXAMPLES, RAW_IMAGE, RAW_PIXELS

KEY = "k" * 64
BASELINES = Path(__file__).resolve().parent.parent / "baselines" / "protocol"
GOLDEN_DATE = 1795600000.0
REQUEST_HEADER = {
    "msg_id": "00000000000000000000000000000001",
    "msg_type": "ping_request",
    "protocol_version": "1.0",
    "date": GOLDEN_DATE,
    "client_id": "golden-client",
}


def golden_message(session: Session, msg_type: str) -> Message:
    content, buffers = EXAMPLES[msg_type]
    msg = session.msg(msg_type, content, buffers=buffers)
    msg.header.update(
        msg_id="00000000000000000000000000000002", date=GOLDEN_DATE, client_id="golden-client"
    )
    if not msg_type.endswith("_request"):
        msg.parent_header = dict(REQUEST_HEADER)
    return msg


def encode_parts(parts):
    out = []
    for i, part in enumerate(parts):
        raw = bytes(part)
        out.append(raw.decode("utf-8") if i < 5 else raw.hex())
    return out


def test_every_message_type_has_an_example():
    assert set(EXAMPLES) == set(messages.MESSAGE_TYPES)


@pytest.mark.parametrize("msg_type", sorted(EXAMPLES))
def test_golden_envelope(msg_type):
    session = Session(KEY, client_id="golden-client")
    wire = session.serialize(golden_message(session, msg_type))
    assert bytes(wire[0]) == DELIMITER
    got = encode_parts(wire[1:])
    path = BASELINES / f"{msg_type}.json"
    if os.environ.get("SAM2MATTING_UPDATE_BASELINES") == "1":
        path.write_text(json.dumps({"parts": got}, indent=1) + "\n", encoding="utf-8")
    assert path.is_file(), f"missing golden {path}: run with SAM2MATTING_UPDATE_BASELINES=1"
    expected = json.loads(path.read_text(encoding="utf-8"))["parts"]
    assert got == expected
    # The stored bytes decode back to the same content on a receiving session.
    frames = [DELIMITER] + [
        p.encode("utf-8") if i < 5 else bytes.fromhex(p) for i, p in enumerate(expected)
    ]
    decoded = Session(KEY).deserialize(frames, now=GOLDEN_DATE)
    assert decoded.msg_type == msg_type
    assert decoded.content == messages.validate_content(msg_type, EXAMPLES[msg_type][0])
    assert [bytes(b) for b in decoded.buffers] == EXAMPLES[msg_type][1]


def put_frames(session: Session) -> Message:
    content, buffers = EXAMPLES["put_frames_request"]
    return session.msg("put_frames_request", content, buffers=buffers)


def test_round_trip_with_identities():
    a, b = Session(KEY), Session(KEY)
    msg = put_frames(a)
    msg.identities = [b"client-7"]
    got = b.deserialize(a.serialize(msg))
    assert got.identities == [b"client-7"]
    assert bytes(got.buffers[0]) == RAW_PIXELS
    assert got.header["protocol_version"] == PROTOCOL_VERSION
    assert got.content["frames"][0]["image"] == RAW_IMAGE


@pytest.mark.parametrize("index", range(1, 6))
def test_tampering_any_part_breaks_the_signature(index):
    a, b = Session(KEY), Session(KEY)
    wire = a.serialize(put_frames(a))
    part = bytearray(bytes(wire[index + 1]))
    part[len(part) // 2] ^= 0x01
    wire[index + 1] = bytes(part)
    with pytest.raises(ProtocolError) as err:
        b.deserialize(wire)
    assert err.value.code is ErrorCode.BAD_SIGNATURE


def test_wrong_key_and_unsigned_are_refused():
    wire = Session(KEY).serialize(Session(KEY).msg("ping_request", {}))
    with pytest.raises(ProtocolError) as err:
        Session("z" * 64).deserialize(wire)
    assert err.value.code is ErrorCode.BAD_SIGNATURE
    assert err.value.header.get("msg_id")  # readable enough to address the error reply
    wire[1] = b""
    with pytest.raises(ProtocolError) as err:
        Session(KEY).deserialize(wire)
    assert err.value.code is ErrorCode.BAD_SIGNATURE


def test_replay_is_refused():
    a, b = Session(KEY), Session(KEY)
    wire = a.serialize(a.msg("ping_request", {}))
    b.deserialize(wire)
    with pytest.raises(ProtocolError) as err:
        b.deserialize(wire)
    assert err.value.code is ErrorCode.REPLAYED


def test_stale_and_future_messages_are_refused():
    a, b = Session(KEY), Session(KEY, limits=Limits(replay_window_s=60))
    msg = a.msg("ping_request", {})
    for skew in (-61.0, 61.0):
        msg.header["date"] = 1000.0
        msg.header["msg_id"] = f"{int(skew + 100):08x}"
        with pytest.raises(ProtocolError) as err:
            b.deserialize(a.serialize(msg), now=1000.0 - skew)
        assert err.value.code is ErrorCode.STALE
    msg.header["msg_id"] = "0000abcd"
    assert b.deserialize(a.serialize(msg), now=1059.0).msg_type == "ping_request"


def sign_with_header(session: Session, **header_changes):
    msg = session.msg("ping_request", {})
    msg.header.update(header_changes)
    return session.serialize(msg)


def test_major_version_mismatch_is_a_typed_error():
    s = Session(KEY)
    with pytest.raises(ProtocolError) as err:
        Session(KEY).deserialize(sign_with_header(s, protocol_version="2.0"))
    assert err.value.code is ErrorCode.VERSION_MISMATCH
    assert err.value.details == {"theirs": "2.0", "ours": PROTOCOL_VERSION}
    assert err.value.header["msg_type"] == "ping_request"


def test_newer_minor_may_add_fields_older_minor_may_not():
    s = Session(KEY)
    for version, ok in (("1.7", True), (PROTOCOL_VERSION, False)):
        msg = s.msg("close_shot_request", {"shot_id": "a"})
        msg.header["protocol_version"] = version
        msg.content["added_in_a_later_minor"] = 1
        if ok:
            got = Session(KEY).deserialize(s.serialize(msg))
            assert "added_in_a_later_minor" not in got.content
        else:
            with pytest.raises(ProtocolError) as err:
                Session(KEY).deserialize(s.serialize(msg))
            assert err.value.code is ErrorCode.INVALID_FIELD


def test_size_limits_refuse_before_parsing():
    small = Limits(max_buffer_bytes=10, max_json_bytes=2000)
    a, b = Session(KEY), Session(KEY, limits=small)
    wire = a.serialize(put_frames(a))
    with pytest.raises(ProtocolError) as err:
        b.deserialize(wire)
    assert err.value.code is ErrorCode.TOO_LARGE
    assert err.value.details["max_buffer_bytes"] == 10


def test_malformed_envelopes():
    s = Session(KEY)
    for frames in ([], [b"x"], [DELIMITER, b"sig"], [b"id"] * 12 + [DELIMITER] + [b""] * 5):
        with pytest.raises(ProtocolError) as err:
            s.deserialize(frames)
        assert err.value.code in (ErrorCode.MALFORMED, ErrorCode.BAD_SIGNATURE)


def test_signed_garbage_json_is_malformed():
    s = Session(KEY)
    parts = [b"{not json", b"{}", b"{}", b"{}"]
    with pytest.raises(ProtocolError) as err:
        s.deserialize([DELIMITER, s.sign(parts), *parts])
    assert err.value.code is ErrorCode.MALFORMED


def test_raw_buffer_size_must_match_its_descriptor():
    a = Session(KEY)
    content, _ = EXAMPLES["put_frames_request"]
    with pytest.raises(ProtocolError) as err:
        a.msg("put_frames_request", content, buffers=[RAW_PIXELS[:-2]])
    assert "need 36" in err.value.message
    with pytest.raises(ProtocolError):  # an undescribed extra buffer
        a.msg("put_frames_request", content, buffers=[RAW_PIXELS, b"extra"])


def test_unknown_message_type():
    s = Session(KEY)
    msg = s.msg("ping_request", {})
    msg.header["msg_type"] = "exec_python_request"
    with pytest.raises(ProtocolError) as err:
        Session(KEY).deserialize(s.serialize(msg))
    assert err.value.code is ErrorCode.UNKNOWN_MESSAGE_TYPE
