"""Every request type of the protocol has a handler, and every handler answers a request type."""

from __future__ import annotations

from sam2matting.backend.server import handlers
from sam2matting.protocol import messages


def test_every_request_type_has_a_handler():
    requests = set(messages.REQUESTS)
    assert requests, "the protocol lists no request types"
    missing = sorted(requests - set(handlers.TABLE))
    assert missing == [], f"request types without a handler in server/handlers.py: {missing}"


def test_every_handler_serves_a_request_type():
    stale = sorted(set(handlers.TABLE) - set(messages.REQUESTS))
    assert stale == [], f"handlers for message types the protocol does not have: {stale}"
    assert all(callable(h) for h in handlers.TABLE.values())
