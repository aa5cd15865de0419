"""The authenticated endpoint (protocol 1.1): PLAIN on loopback, CURVE beyond; keys must match.

Runs on the Nuke side too (tests/nuke_side.sh): the client half must work with the pyzmq each
Nuke Python gets.
"""

from __future__ import annotations

import time

import pytest
import zmq

from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo, new_key, zmq_credentials
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.server import ServerEndpoint


def _serve(endpoint: ServerEndpoint, stop_after_s: float = 5.0) -> None:
    deadline = time.monotonic() + stop_after_s
    while time.monotonic() < deadline:
        msg = endpoint.poll(0.05)
        if msg is not None and msg.msg_type == "ping_request":
            endpoint.send(
                msg, "ping_reply", {"server_time": 1.0, "uptime_s": 1.0, "jobs_running": 0}
            )
            return


@pytest.mark.parametrize("mechanism", ["plain", "curve"])
def test_the_right_key_connects_on_the_authenticated_endpoint(mechanism):
    if mechanism == "curve" and not zmq.has("curve"):
        pytest.skip("this libzmq has no CURVE")
    endpoint = ServerEndpoint(ConnectionInfo(new_key()), auth_mechanism=mechanism)
    info = endpoint.bind()
    try:
        assert info.auth_mechanism == mechanism
        assert info.uses_auth
        assert info.port != info.auth_port  # the 1.0 endpoint stays for old clients (loopback)
        client = Client(info, timeout_s=5)
        sent = client.send("ping_request", {})
        _serve(endpoint)
        assert client.wait(sent.msg_id, 5).msg_type == "ping_reply"
        client.close()
    finally:
        endpoint.close()


def test_a_wrong_key_is_refused_in_the_handshake_and_reported_as_such():
    endpoint = ServerEndpoint(ConnectionInfo(new_key()))
    info = endpoint.bind()
    try:
        wrong = ConnectionInfo(
            new_key(),
            ip=info.ip,
            port=info.port,
            auth_mechanism=info.auth_mechanism,
            auth_port=info.auth_port,
        )
        client = Client(wrong, timeout_s=1, connect_timeout_s=1)
        with pytest.raises(ProtocolError) as err:
            client.ping()
        assert err.value.code is ErrorCode.BAD_SIGNATURE
        assert "refused this client's key" in err.value.message
        client.close()
        assert endpoint.rejected == 0  # nothing of it ever reached the decoder
    finally:
        endpoint.close()


def test_without_the_legacy_endpoint_port_is_the_authenticated_one():
    endpoint = ServerEndpoint(ConnectionInfo(new_key()), legacy="off")
    info = endpoint.bind()
    try:
        assert info.port == info.auth_port
    finally:
        endpoint.close()


def test_credentials_derive_from_the_key_only():
    key = new_key()
    assert zmq_credentials(key, "plain") == zmq_credentials(key, "plain")
    assert zmq_credentials(key, "plain") != zmq_credentials(new_key(), "plain")
    assert len(zmq_credentials(key, "plain")["password"]) == 64
    with pytest.raises(ValueError, match="unknown auth mechanism"):
        zmq_credentials(key, "gssapi")
