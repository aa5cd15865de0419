"""`python3 installer/install.py` with a bare interpreter: no venv, nothing installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from sam2matting.backend.cli import exit_codes
from sam2matting.installer import install as install_script
from sam2matting.installer import project

from .conftest import INSTALL_PY, REPO, real_python


def bare_python() -> Path:
    """This Python's base interpreter: the venv's packages (sam2matting included) are absent."""
    return Path(getattr(sys, "_base_executable", sys.executable))


def _run(
    python: Path, args: List[str], home: Path, extra: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAM2MATTING_", "PYTHON"))}
    env.update(HOME=str(home), SAM2MATTING_HOME=str(home / ".sam2matting"), **(extra or {}))
    return subprocess.run(
        [str(python), "-I", str(INSTALL_PY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=str(home),
    )


def test_shim_maps_the_same_folders_as_pyproject() -> None:
    assert install_script.source_packages(REPO) == project.package_dirs(REPO)
    assert set(project.package_dirs(REPO)) == {
        "sam2matting.protocol",
        "sam2matting.backend",
        "sam2matting.installer",
    }


def test_version_comes_from_pyproject_with_or_without_tomllib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = project.project_version(REPO)
    assert f'version = "{version}"' in (REPO / "pyproject.toml").read_text()
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on Python < 3.11
    assert project.project_version(REPO) == version


def test_help_and_doctor_run_without_any_install(tmp_path: Path) -> None:
    python = bare_python()
    probe = subprocess.run(
        [str(python), "-I", "-c", "import sam2matting"], capture_output=True, check=False
    )
    assert probe.returncode != 0, "the base interpreter must not have sam2matting installed"
    helped = _run(python, ["--help"], tmp_path)
    assert helped.returncode == 0, helped.stderr
    for option in (
        "--offline",
        "--accept-sam2matting-licence",
        "--nuke-path-only",
        "--uninstall",
        "--link",
    ):
        assert option in helped.stdout
    doctor = _run(
        python,
        ["doctor", "--json", "--no-import-test"],
        tmp_path,
        {"SAM2MATTING_NUKE_SEARCH": str(tmp_path / "none")},
    )
    assert doctor.returncode == exit_codes.SETUP, doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["version"] == project.project_version(REPO)
    assert {c["status"] for c in report["checks"]} <= {"OK", "MISSING", "WRONG", "NOTE"}


def test_oldest_supported_installer_python_installs_models(tmp_path: Path, offline: Path) -> None:
    """The installer promises Python 3.8+: a models-only install must work there."""
    python = real_python((3, 8))
    if python is None:
        pytest.skip("no Python 3.8 on this machine")
    home = tmp_path / "h"
    home.mkdir()
    registry = os.environ["SAM2MATTING_MODEL_REGISTRY"]
    done = _run(
        python,
        ["--no-env", "--no-nuke", "--offline", str(offline)],
        home,
        {"SAM2MATTING_MODEL_REGISTRY": registry},
    )
    assert done.returncode == exit_codes.OK, done.stdout + done.stderr
    assert (home / ".sam2matting" / "models" / "fake_tiny.pt").is_file()
    assert "Install finished." in done.stdout


def test_interpreter_too_old_for_the_environment_is_told_so(tmp_path: Path) -> None:
    python = real_python((3, 8))
    if python is None:
        pytest.skip("no Python 3.8 on this machine")
    done = _run(python, ["--no-nuke", "--no-models", "--env", str(tmp_path / "venv")], tmp_path)
    assert done.returncode == exit_codes.FAILURE
    assert "the backend needs 3.10 or newer" in done.stdout
    assert not (tmp_path / "venv").exists()
