"""Files the installer writes in ~/.sam2matting: install record, config file, connection file.

- install.json: what this installer did (env, plugin folder, init.py, models folder), so that
  `doctor` checks the right places and `--uninstall` undoes exactly that. Installer-owned.
- config.json: {"backend": {setting: value}} (docs/CONFIGURATION.md). The user's file: the
  installer only adds settings that are absent, never rewrites ones the user set.
- connection.json: endpoint + signing key, 0600 (sam2matting.protocol.connection). Kept when
  valid, so re-running the installer does not lock out a running backend.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from sam2matting.protocol.checksums import read_json, write_json_atomic
from sam2matting.protocol.connection import (
    ConnectionInfo,
    new_key,
    read_connection_file,
    write_connection_file,
)
from sam2matting.protocol.errors import ProtocolError

STATE_FILE = "install.json"
CONFIG_DOC = "Backend settings; every one is described in docs/CONFIGURATION.md."


@dataclass
class InstallState:
    """The record of the last install (paths as strings: it is JSON)."""

    version: str = ""
    source: str = ""
    env_python: Optional[str] = None
    env_dir: Optional[str] = None
    env_created: bool = False  # made by the installer: --remove-env may delete it
    models_dir: Optional[str] = None
    plugin_dir: Optional[str] = None
    plugin_linked: bool = False  # plugin_dir is the repository's host_plugin/
    init_py: Optional[str] = None  # the init.py that holds the block (None: NUKE_PATH mode)
    nuke_pythons: List[str] = field(default_factory=list)  # vendored: "3.7", "3.10", ...

    @classmethod
    def load(cls, home: Path) -> InstallState:
        data = read_json(home / STATE_FILE)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, home: Path) -> bool:
        """Write install.json if it changed; True when written."""
        data = asdict(self)
        if read_json(home / STATE_FILE) == data:
            return False
        write_json_atomic(home / STATE_FILE, data)
        return True


class ConfigFileError(ValueError):
    pass


def update_config(path: Path, settings: Mapping[str, str], replace: bool = False) -> bool:
    """Add `settings` to the file's "backend" section; existing values win unless `replace`.

    Returns True when the file was written. A file that is not valid JSON is left alone.
    """
    data: Dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigFileError(f"{path} is not valid JSON ({exc}); fix or delete it") from exc
        if not isinstance(data, dict) or not isinstance(data.get("backend", {}), dict):
            raise ConfigFileError(f'{path}: expected {{"backend": {{...}}}}; fix or delete it')
    before = json.dumps(data, sort_keys=True)
    backend = data.setdefault("backend", {})
    for key, value in settings.items():
        if replace or key not in backend:
            backend[key] = value
    data.setdefault("_doc", CONFIG_DOC)
    if path.exists() and json.dumps(data, sort_keys=True) == before:
        return False
    write_json_atomic(path, data)
    return True


def ensure_connection_file(path: Path) -> str:
    """Keep a valid connection file; write a new one (fresh key, port 0) otherwise.

    Returns what happened, in words. Port 0 means "not started": the backend picks a free port
    when it binds and rewrites the file.
    """
    reason = "written"
    if path.exists():
        try:
            read_connection_file(path)
        except ProtocolError as exc:
            reason = f"rewritten with a new key ({exc.message})"
        else:
            return "kept"
    write_connection_file(path, ConnectionInfo(key=new_key()))
    return reason
