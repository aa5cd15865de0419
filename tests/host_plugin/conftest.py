"""Nuke-side test setup: host_plugin/ on sys.path as Nuke's plugin path puts it, and the fake
`nuke` module (tests/fake_nuke) in place of Foundry's. Runs on Python 3.7-3.11 with only pyzmq,
pytest, pytest-timeout and hypothesis installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
for entry in (REPO / "host_plugin", REPO / "tests" / "fake_nuke"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import nuke  # noqa: E402 - the fake, found through the path set above
from sam2matting_nuke import callbacks, render_check, startup  # noqa: E402


@pytest.fixture(autouse=True)
def fake_nuke():
    """A fresh fake Nuke (GUI session, empty script) per test; no Nuke call off the main thread."""
    callbacks.on_script_close()
    startup.reset()
    render_check.before_render()
    nuke._fake.reset(gui=True)
    yield nuke
    callbacks.on_script_close()
    assert nuke._fake.violations() == [], "Nuke API used off the main thread"
    assert nuke._fake.session().errors_in_deferred == [], "a deferred main-thread call raised"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private ~/.sam2matting (connection file, config, caches)."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("SAM2MATTING_HOME", str(folder))
    monkeypatch.delenv("SAM2MATTING_CONNECTION_FILE", raising=False)
    monkeypatch.delenv("SAM2MATTING_CONFIG", raising=False)
    return folder
