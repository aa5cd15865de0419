"""Thousands of mutated messages against the real backend (flow tracker, a real shot): every
signed request gets exactly one answer, none is `internal_error`, nothing hangs, and pings and
real work keep going throughout.
"""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from typing import Any, Dict, List

import zmq

from sam2matting.protocol.envelope import DELIMITER, Session

from ..backend.server.harness import FIRST, box_prompt, open_shot, put_all, raw_frame
from ..protocol.examples import EXAMPLES
from .conftest import FIGURES, scale
from .harness import consistency_problems, tracker_disagreement

N = 6
VALUES: List[Any] = [
    None,
    True,
    0,
    -1,
    1 << 40,
    1e308,
    -0.0,
    "",
    "x" * 5000,
    "sh",
    "../../etc/passwd",
    "/dev/zero",
    [],
    [1, 2],
    [[1001, 1002]],
    {},
    {"a": 1},
    "１.0",
    "\u0000",
    1001,
    1003,
]


def _requests() -> List[str]:
    return sorted(t for t in EXAMPLES if t.endswith("_request") and t != "shutdown_request")


def _mutate(rng: random.Random, msg_type: str) -> Dict[str, Any]:
    content = copy.deepcopy(EXAMPLES[msg_type][0])
    if "shot_id" in content and rng.random() < 0.7:
        content["shot_id"] = "fz"
    for _ in range(rng.randrange(0, 3)):
        keys = sorted(content)
        action = rng.random()
        if keys and action < 0.5:
            content[rng.choice(keys)] = rng.choice(VALUES)
        elif keys and action < 0.7:
            del content[rng.choice(keys)]
        elif action < 0.8:
            content[rng.choice(["extra", "🙂", ""])] = rng.choice(VALUES)
    return content


def _frames(
    rng: random.Random, session: Session, msg_type: str, content: Dict[str, Any]
) -> List[bytes]:
    buffers = [bytes(b) for b in EXAMPLES[msg_type][1]]
    if rng.random() < 0.2:
        buffers = [rng.randbytes(rng.randrange(0, 64)) for _ in range(rng.randrange(0, 3))]
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "protocol_version": "1.1",
        "date": time.time(),
        "client_id": "fuzz",
    }
    if rng.random() < 0.1:
        header["protocol_version"] = rng.choice(["2.0", "01.1", "1.99"])
    parts = [json.dumps(p).encode() for p in (header, {}, {}, content)] + buffers
    signature = session.sign(parts)
    if rng.random() < 0.05:
        signature = b"0" * 64
    return [DELIMITER, signature, *parts]


def test_fuzzing_the_real_backend(backend):
    rng = random.Random(2024)
    count = scale(800, 30_000)
    server = backend.server
    with backend.client() as client:
        open_shot(client, "fz", N)
        put_all(client, "fz", N)
        client.request("add_prompt_request", box_prompt("fz", FIRST))
        info = server.info
        session = Session(info.key)
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        if getattr(info, "uses_auth", False):
            from sam2matting.protocol.auth import ZapHandler

            ZapHandler.configure_client(sock, info.key, info.auth_mechanism)
        sock.connect(getattr(info, "client_endpoint", info.endpoint))
        answers: Dict[str, List[str]] = {}
        internal: List[str] = []
        for i in range(count):
            msg_type = rng.choice(_requests())
            frames = _frames(rng, session, msg_type, _mutate(rng, msg_type))
            sock.send_multipart(frames)
            answers[json.loads(frames[2])["msg_id"]] = []
            _drain(sock, session, answers, internal, timeout_ms=0 if i % 50 else 2000)
            if i % 200 == 0:
                assert client.ping(timeout_s=5)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(not v for v in answers.values()):
            _drain(sock, session, answers, internal, timeout_ms=500)
        sock.close(linger=0)
        ctx.term()
        FIGURES["messages"] += count
        unanswered = [k for k, v in answers.items() if not v]
        assert unanswered == [], f"{len(unanswered)} requests never answered"
        assert internal == []
        # the real shot still works (the fuzz may have closed it), and its state is whole
        open_shot(client, "fz", N)
        entry, pixels = raw_frame(FIRST, 0)
        client.request("put_frames_request", {"shot_id": "fz", "frames": [entry]}, [pixels])
        if "fz" in server.shots:
            shot = server.shots["fz"]
            assert tracker_disagreement(shot) is None
            assert consistency_problems(shot.root) == []


def _drain(
    sock: Any, session: Session, answers: Dict[str, List[str]], internal: List[str], timeout_ms: int
) -> None:
    while sock.poll(timeout_ms):
        msg = session.deserialize(sock.recv_multipart())
        parent = msg.parent_header.get("msg_id")
        if parent in answers:
            answers[parent].append(msg.msg_type)
        if msg.msg_type == "error" and msg.content["code"] == "internal_error":
            internal.append(msg.content["message"])
        timeout_ms = 0
