"""The two pages the installer owns stay complete: every setting, variable and option named."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Set

from sam2matting.backend.config import ENV_VARS, BackendConfig
from sam2matting.installer import cli
from sam2matting.protocol import paths

REPO = Path(__file__).resolve().parents[2]
CONFIGURATION = (REPO / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
INSTALL = (REPO / "docs" / "INSTALL.md").read_text(encoding="utf-8")
# Folders whose code reads environment variables (the vendored plugin packages excluded).
CODE_FOLDERS = ("backend", "protocol", "installer", "host_plugin", "benchmarks", "tests")


def _variables_in_code() -> Set[str]:
    """Every "SAM2MATTING_..." string literal in the project's Python code."""
    found: Set[str] = set()
    for folder in CODE_FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            if "vendor" in path.parts:
                continue
            found |= set(
                re.findall(r"[\"'](SAM2MATTING_[A-Z0-9_]+)[\"']", path.read_text(encoding="utf-8"))
            )
    return found


def test_every_backend_setting_and_its_variable_is_documented() -> None:
    for setting in dataclasses.fields(BackendConfig):
        assert f"| `{setting.name}` |" in CONFIGURATION, setting.name
    for variable, setting in ENV_VARS.items():
        row = next(
            line for line in CONFIGURATION.splitlines() if line.startswith(f"| `{setting}` |")
        )
        assert f"`{variable}`" in row, variable


def test_every_environment_variable_in_the_code_is_documented() -> None:
    variables = _variables_in_code() | {
        paths.HOME_ENV,
        paths.CONNECTION_FILE_ENV,
        paths.CONFIG_FILE_ENV,
    }
    assert "SAM2MATTING_TORCH_SPEC" in variables  # the scan sees the installer's own
    missing = sorted(v for v in variables if f"`{v}`" not in CONFIGURATION)
    assert missing == [], f"add these to docs/CONFIGURATION.md: {missing}"


def test_every_installer_option_is_documented() -> None:
    options = [
        option
        for action in cli.build_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    assert len(options) > 20
    missing = [option for option in options if f"`{option}" not in INSTALL]
    assert missing == [], f"add these to docs/INSTALL.md: {missing}"
