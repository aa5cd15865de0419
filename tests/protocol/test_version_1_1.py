"""Protocol 1.1 (prompt edits) next to 1.0: a 1.0 peer and a 1.1 peer understand each other.

A 1.0 peer is emulated exactly: its schemas are this module's minus the 1.1 additions, and it
reports version 1.0 in its headers and version checks.
"""

from __future__ import annotations

import pytest

from sam2matting.protocol import envelope, messages
from sam2matting.protocol.envelope import Session
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .examples import EXAMPLES

KEY = "k" * 64
ADDED_FIELDS = {"open_shot_reply": ["frames_stale"], "put_frames_reply": ["invalidated"]}
ADDED_TYPES = ["remove_prompt_request", "remove_prompt_reply"]


@pytest.fixture
def speaks_1_0(monkeypatch):
    """Call it to make this process a 1.0 peer: 1.0 schemas and version (a 1.0 plugin's)."""
    return lambda: _become_1_0(monkeypatch)


def _become_1_0(monkeypatch) -> None:
    content = dict(messages.CONTENT)
    for msg_type, names in ADDED_FIELDS.items():
        old = content[msg_type]
        fields = {k: f for k, f in old.fields.items() if k not in names}
        content[msg_type] = messages.Record(fields, old.checks)
    for msg_type in ADDED_TYPES:
        del content[msg_type]
    monkeypatch.setattr(messages, "CONTENT", content)
    monkeypatch.setattr(envelope, "PROTOCOL_VERSION", "1.0")
    monkeypatch.setattr(envelope, "PROTOCOL_VERSION_INFO", (1, 0))


def wire(msg_type: str, version: str = "1.1"):
    sender = Session(KEY)
    content, buffers = EXAMPLES[msg_type]
    msg = sender.msg(msg_type, content, buffers=buffers)
    msg.header["protocol_version"] = version
    return sender.serialize(msg)


@pytest.mark.parametrize("msg_type", sorted(ADDED_FIELDS))
def test_a_1_0_peer_reads_1_1_replies_and_drops_the_new_fields(speaks_1_0, msg_type):
    sent = wire(msg_type)  # by a 1.1 backend
    speaks_1_0()
    got = Session(KEY).deserialize(sent)
    assert not set(ADDED_FIELDS[msg_type]) & set(got.content)
    assert set(got.content) == set(messages.CONTENT[msg_type].fields)


def test_a_1_0_peer_refuses_remove_prompt_as_unknown(speaks_1_0):
    sent = wire("remove_prompt_request")
    speaks_1_0()
    with pytest.raises(ProtocolError) as err:
        Session(KEY).deserialize(sent)
    assert err.value.code is ErrorCode.UNKNOWN_MESSAGE_TYPE


@pytest.mark.parametrize("msg_type", sorted(ADDED_FIELDS))
def test_a_1_1_peer_reads_1_0_replies_with_defaults(msg_type):
    content = {k: v for k, v in EXAMPLES[msg_type][0].items() if k not in ADDED_FIELDS[msg_type]}
    sender = Session(KEY)
    msg = sender.msg(msg_type, content)
    msg.header["protocol_version"] = "1.0"
    got = Session(KEY).deserialize(sender.serialize(msg))
    for name in ADDED_FIELDS[msg_type]:
        assert got.content[name] == []
