"""Every CLI test runs with its own SAM2MATTING_HOME: no user config, models or connection file."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("SAM2MATTING_HOME", str(home))
    for var in (
        "SAM2MATTING_CONFIG",
        "SAM2MATTING_CONNECTION_FILE",
        "SAM2MATTING_MODELS",
        "SAM2MATTING_CACHE",
        "SAM2MATTING_DEVICE",
        "SAM2MATTING_TRACKER",
        "SAM2MATTING_ENGINE",
        "SAM2MATTING_ALLOWED_ROOTS",
    ):
        monkeypatch.delenv(var, raising=False)
    return home
