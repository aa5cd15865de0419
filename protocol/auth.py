"""Transport authentication (protocol 1.1): ZeroMQ PLAIN or CURVE credentials derived from the key.

A peer that cannot derive the credentials fails the ZeroMQ handshake, so the backend never
buffers a byte of its messages: memory use before authentication is bounded by the handshake
(a few hundred bytes per connection). The check itself is a ZAP handler (ZeroMQ's RFC 27) that
the server's poll loop answers; it compares credentials in constant time.
"""

from __future__ import annotations

import hmac
import logging
import threading
from typing import Any, Callable, Dict, List, Optional

import zmq

from .connection import zmq_credentials

log = logging.getLogger(__name__)

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_DOMAIN = b"sam2matting"
_ZAP_VERSION = b"1.0"


class ZapHandler:
    """Answers libzmq's authentication requests for one server context, on its own thread.

    A thread of its own, not the server's poll loop: a new connection then authenticates even
    while the poll loop is busy (and a wedged loop shows as a timeout, not as a refusal).
    """

    def __init__(
        self,
        ctx: zmq.Context,  # type: ignore[type-arg]
        key: str,
        mechanism: str,
        warn: Optional[Callable[..., None]] = None,
    ) -> None:
        self.mechanism = mechanism
        self._warn = warn or log.warning  # the server passes its rate-limited log
        self._expected = zmq_credentials(key, mechanism)
        self.refused = 0
        self._ctx = ctx
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="zap-handler", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(
                "another authenticating server already uses this ZeroMQ context; give each "
                "ServerEndpoint its own context"
            ) from self._error

    def _run(self) -> None:
        sock = self._ctx.socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                if sock.poll(100, zmq.POLLIN):
                    sock.send_multipart(self._reply(sock.recv_multipart()))
        finally:
            sock.close(linger=0)

    @staticmethod
    def configure_server(key: str, mechanism: str, ip: str) -> Dict[str, Any]:
        """Socket options of the authenticated ROUTER."""
        del ip  # same options on every interface
        options: Dict[str, Any] = {"ZAP_DOMAIN": ZAP_DOMAIN}
        if mechanism == "plain":
            options["PLAIN_SERVER"] = 1
        else:
            creds = zmq_credentials(key, "curve")
            options.update(CURVE_SERVER=1, CURVE_SECRETKEY=creds["server_secret"])
        return options

    @staticmethod
    def configure_client(sock: zmq.Socket, key: str, mechanism: str) -> None:  # type: ignore[type-arg]
        creds = zmq_credentials(key, mechanism)
        if mechanism == "plain":
            sock.setsockopt(zmq.PLAIN_USERNAME, creds["username"])
            sock.setsockopt(zmq.PLAIN_PASSWORD, creds["password"])
        else:
            sock.setsockopt(zmq.CURVE_SERVERKEY, creds["server_public"])
            sock.setsockopt(zmq.CURVE_PUBLICKEY, creds["client_public"])
            sock.setsockopt(zmq.CURVE_SECRETKEY, creds["client_secret"])

    def _reply(self, request: List[bytes]) -> List[bytes]:
        if len(request) < 6 or request[0] != _ZAP_VERSION:
            return [_ZAP_VERSION, request[1] if len(request) > 1 else b"", b"500", b"bad", b"", b""]
        request_id, address, mechanism = request[1], request[3], request[5]
        ok = self._accepts(mechanism, request[6:])
        if not ok:
            self.refused += 1
            self._warn(
                "refused a %s connection from %r: wrong credentials",
                mechanism.decode("ascii", "replace"),
                address,
            )
        status = (b"200", b"OK") if ok else (b"400", b"wrong credentials")
        return [_ZAP_VERSION, request_id, *status, b"sam2matting" if ok else b"", b""]

    def _accepts(self, mechanism: bytes, credentials: List[bytes]) -> bool:
        if mechanism == b"PLAIN" and self.mechanism == "plain" and len(credentials) == 2:
            user_ok = hmac.compare_digest(credentials[0], self._expected["username"])
            pass_ok = hmac.compare_digest(credentials[1], self._expected["password"])
            return user_ok and pass_ok
        if mechanism == b"CURVE" and self.mechanism == "curve" and len(credentials) == 1:
            from zmq.utils import z85

            return hmac.compare_digest(credentials[0], z85.decode(self._expected["client_public"]))
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
