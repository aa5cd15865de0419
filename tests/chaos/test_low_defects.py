"""The audit's LOW list and the protocol gaps, each as a case that failed before (issue 13)."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Tuple

import numpy as np
import pytest
import zmq

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.imageio.exr import read_exr_metadata
from sam2matting.backend.server.app import BackendServer
from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo, new_key
from sam2matting.protocol.envelope import Session
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.version import parse_version

from ..backend.server.harness import FIRST, H, W, box_prompt, open_shot, put_all, start_server
from .conftest import FIGURES

N = 5


@pytest.mark.parametrize("text", ["１.0", "01.0", "1.00", "1.0\n", " 1.0", "1.٠"])
def test_version_strings_are_ascii_without_leading_zeros(text):
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR"):
        parse_version(text)
    session = Session(new_key())
    msg = session.msg("ping_request", {})
    msg.header["protocol_version"] = text
    with pytest.raises(ProtocolError) as err:
        Session(session._key.decode()).deserialize(session.serialize(msg))
    assert err.value.code is ErrorCode.INVALID_FIELD


def _server_with_key(tmp_path: Path, info: ConnectionInfo) -> Tuple[Any, threading.Thread]:
    config = BackendConfig(
        cache_root=tmp_path / "cache",
        models_dir=tmp_path / "m",
        log_dir=tmp_path / "l",
        device="cpu",
        default_tracker="flow",
    )
    server = BackendServer(config, info)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def test_a_request_captured_before_a_restart_is_not_accepted_after_it(tmp_path):
    """Replay protection lives in memory; the start time closes the gap a restart opens."""
    key = new_key()
    session = Session(key)
    captured = session.serialize(session.msg("ping_request", {}))  # sent to the old backend
    time.sleep(1.5)  # the backend restarts after the capture (START_SKEW_S = 1)
    server, thread = _server_with_key(tmp_path, ConnectionInfo(key))
    try:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(server.info.endpoint)
        sock.send_multipart(captured)
        assert sock.poll(10_000)
        reply = session.deserialize(sock.recv_multipart())
        sock.close(linger=0)
        ctx.term()
        FIGURES["messages"] += 1
        assert reply.msg_type == "error"
        assert reply.content["code"] == "stale_message"
    finally:
        server.stop()
        thread.join(30)


@pytest.mark.parametrize("ip", ["::1", "*", "0.0.0.0"])
def test_ipv6_and_wildcard_binds(tmp_path, ip, capsys):
    from sam2matting.backend.cli import serve

    info = serve._connection(tmp_path / "c.json", ip, None)
    if ip != "::1":
        assert "other machines can connect" in capsys.readouterr().err
        assert info.ip == "0.0.0.0"
    server, thread = _server_with_key(tmp_path, info)
    try:
        assert server.info.ip in ("::1", "127.0.0.1")  # never '*' in the connection file
        with Client(server.info, timeout_s=10) as client:
            assert client.ping()["jobs_running"] == 0
    finally:
        server.stop()
        thread.join(30)


def test_matte_revision_is_the_jobs_for_every_frame(backend):
    with backend.client() as client:
        open_shot(client, "rv", N)
        put_all(client, "rv", N)
        client.request("add_prompt_request", box_prompt("rv", FIRST))
        job = client.propagate(shot_id="rv", direction="forward")
        paths = [e.content["matte_path"] for e in job.events(idle_timeout_s=60)]
    revisions = {read_exr_metadata(Path(p))["sam2matting/revision"] for p in paths}
    assert len(revisions) == 1, revisions


@pytest.mark.parametrize("fill", ["zeros", "nan"])
def test_empty_or_nan_mask_prompts_are_refused(backend, fill):
    with backend.client() as client:
        open_shot(client, "mk", N)
        put_all(client, "mk", N)
        plane = (
            np.zeros((H, W), np.float32) if fill == "zeros" else np.full((H, W), np.nan, np.float32)
        )
        content = dict(
            box_prompt("mk", FIRST),
            box=None,
            mask={
                "buffer": 0,
                "encoding": "raw",
                "dtype": "float32",
                "shape": [H, W],
                "channels": ["A"],
                "colourspace": "raw",
                "origin": "top_left",
            },
        )
        with pytest.raises(ProtocolError) as err:
            client.request("add_prompt_request", content, [plane.tobytes()])
        expected = ErrorCode.NO_PROMPT if fill == "zeros" else ErrorCode.INVALID_FIELD
        assert err.value.code is expected
        assert backend.server.shots["mk"].journal.prompts == []


def test_fs_probe_confirms_nothing_but_probe_files(backend, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("0123456789abcdef0123")
    with backend.client() as client:
        content = {"fs_probe": {"path": str(secret), "token": "0123456789abcdef0123"}}
        assert client.request("describe_request", content).content["shares_filesystem"] is False
        assert client.describe()["shares_filesystem"] is True  # a real probe still works


def test_describe_advertises_allowed_roots_and_every_limit(backend, tmp_path):
    from sam2matting.protocol import limits

    with backend.client() as client:
        info = client.describe(probe_filesystem=False)
    assert info["allowed_roots"] == [str((tmp_path / "plates").resolve())]
    assert set(limits.wire_limits()) <= set(info["limits"])


def test_exr_mattes_name_their_channels(backend):
    with backend.client() as client:
        open_shot(client, "ch", N)
        put_all(client, "ch", N)
        reply = client.request("add_prompt_request", dict(box_prompt("ch", FIRST), matte="exr"))
        assert reply.content["matte"]["channels"] == ["A", "obj1.A"]
        got = client.request("get_matte_request", {"shot_id": "ch", "frame": FIRST, "matte": "exr"})
        assert got.content["matte"]["channels"] == ["A", "obj1.A"]


def test_open_shots_are_capped_and_closed_shots_release_their_memory(tmp_path):
    running = start_server(tmp_path / "cache")
    server = running.server
    try:
        with running.client() as client:
            open_shot(client, "s0", N)
            put_all(client, "s0", N)
            client.request("add_prompt_request", box_prompt("s0", FIRST))
            list(client.propagate(shot_id="s0", direction="forward").events(idle_timeout_s=60))
            ref = weakref.ref(server.shots["s0"])
            client.request("close_shot_request", {"shot_id": "s0"})
            client.ping()
            for _ in range(50):
                gc.collect()
                if ref() is None:
                    break
                time.sleep(0.1)
            assert ref() is None, "a closed shot is still held in memory"
            cap = 16  # limits.MAX_OPEN_SHOTS
            for i in range(cap + 3):
                open_shot(client, f"c{i}", N)
            shots = client.describe(probe_filesystem=False)["shots"]
            assert len(shots) == cap
            assert "c0" not in shots  # the least recently used went first
            assert open_shot(client, "c0", N)["restored"] is True  # and comes back by id
    finally:
        running.stop()
