"""Reaching the backend: never silent when it is missing, says how to start it, starts it when
configured, and survives pyzmq being absent."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nuke
import pytest
from sam2matting_nuke import backend, bootstrap, startup

from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import (
    ConnectionInfo,
    new_key,
    read_connection_file,
    write_connection_file,
)

from .helpers import new_node, wait
from .scripted_backend import ScriptedBackend

HERE = Path(__file__).resolve().parent


def test_no_backend_says_how_to_start_it(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    nuke._fake.press(node, "connect")
    wait(node)
    status = node["status"].value()
    assert status.startswith("error: no connection file at ")
    dialog = nuke._fake.session().messages[-1]
    assert "Start the SAM2Matting backend in a terminal:" in dialog
    assert str(home / "venv" / "bin" / "sam2matting") + " serve" in dialog
    assert '"start_backend": true' in dialog
    assert str(home / "config.json") in dialog


def test_stale_connection_file_is_reported_as_not_running(home, tmp_path):
    write_connection_file(home / "connection.json", ConnectionInfo(new_key(), port=1))
    node, _ = new_node(tmp_path, 1001, 1003)
    started = time.monotonic()
    nuke._fake.press(node, "track")  # nothing prompted yet: refused before any network
    assert nuke._fake.session().messages[-1].startswith("SAM2Matte: set a prompt first")
    nuke._fake.press(node, "connect")
    wait(node)
    assert node["status"].value() == "error: no backend answers at tcp://127.0.0.1:1"
    assert time.monotonic() - started < 10  # bounded waits, no hang
    write_connection_file(home / "connection.json", ConnectionInfo(new_key(), port=0))
    nuke._fake.press(node, "connect")
    wait(node)
    assert "not running (its connection file has no port)" in node["status"].value()


def test_connect_fills_the_choices_and_keeps_the_artist_choice(home, tmp_path):
    node, _ = new_node(tmp_path, 1001, 1003)
    with ScriptedBackend(tmp_path / "cache"):
        nuke._fake.press(node, "connect")
        wait(node)
        assert node["engine"].values() == ["auto", "closed_form"]
        nuke._fake.artist_sets(node, "tracker", "flow")
        nuke._fake.press(node, "connect")
        wait(node)
    assert node["tracker"].value() == "flow"
    assert "tracker flow | engine auto (closed_form)" in node["status"].value()


def test_plugin_starts_the_backend_when_configured(home, tmp_path):
    """start_backend: the command from config.json runs detached, then the plugin connects."""
    command = [sys.executable, str(HERE / "serve_scripted.py")]
    (home / "config.json").write_text(
        json.dumps(
            {
                "backend": {},
                "nuke": {"start_backend": True, "backend_command": command, "start_timeout_s": 30},
            }
        )
    )
    write_connection_file(home / "connection.json", ConnectionInfo(new_key(), port=0))
    node, _ = new_node(tmp_path, 1001, 1003)
    try:
        nuke._fake.press(node, "connect")
        wait(node, timeout_s=40)
        assert node["status"].value().startswith("connected to scripted")
        log = (home / "logs" / "backend-started-by-nuke.log").read_text()
        assert "Traceback" not in log
    finally:
        info = read_connection_file(home / "connection.json")
        if info.port:
            with Client(info, timeout_s=5) as client:
                client.shutdown()
        for process in backend._started:  # reap it: no process outlives the test
            process.wait(30)


def test_settings_file_errors_are_reported(home):
    (home / "config.json").write_text("{not json")
    with pytest.raises(Exception, match="cannot read the plugin settings") as err:
        backend.load_settings()
    assert "nuke" in err.value.hint
    (home / "config.json").write_text(json.dumps({"nuke": {"backend_command": "/opt/sam2 serve"}}))
    assert backend.load_settings().backend_command == ["/opt/sam2", "serve"]
    assert backend.load_settings().start_backend is False


def test_without_pyzmq_the_node_loads_and_names_the_fix(home, tmp_path, monkeypatch):
    monkeypatch.setattr(bootstrap, "pyzmq_problem", lambda version=None: "pyzmq missing: run X")
    startup.init()
    node, _ = new_node(tmp_path, 1001, 1003)
    assert node["status"].value() == "pyzmq missing: run X"
    assert node.node("MatteCache") is not None  # the cache Read is there: renders still work
