"""Where the connection file, the config file and per-user data live (both sides agree on these)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

HOME_ENV = "SAM2MATTING_HOME"
CONNECTION_FILE_ENV = "SAM2MATTING_CONNECTION_FILE"
CONFIG_FILE_ENV = "SAM2MATTING_CONFIG"


def home_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    """Per-user folder for models, caches, logs and the connection file (~/.sam2matting)."""
    environ = os.environ if environ is None else environ
    if environ.get(HOME_ENV):
        return Path(environ[HOME_ENV]).expanduser()
    return Path.home() / ".sam2matting"


def default_connection_file(environ: Optional[Mapping[str, str]] = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(CONNECTION_FILE_ENV):
        return Path(environ[CONNECTION_FILE_ENV]).expanduser()
    return home_dir(environ) / "connection.json"


def default_config_file(environ: Optional[Mapping[str, str]] = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_FILE_ENV):
        return Path(environ[CONFIG_FILE_ENV]).expanduser()
    return home_dir(environ) / "config.json"
