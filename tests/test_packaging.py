"""The distribution: all package folders listed, project-specific import names, one version."""

from __future__ import annotations

import re
import sys
import zipfile

import pytest

from sam2matting.installer.project import package_dirs
from tests.conftest import REPO_ROOT

PYPROJECT = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
# The one definition: pyproject's package-dir (read, never restated).
MAPPING = package_dirs(REPO_ROOT)
MYPY_PATH = REPO_ROOT / ".ci" / "mypy_path"


def listed_packages():
    block = re.search(r"^packages = \[(.*?)\]", PYPROJECT, re.M | re.S)
    assert block is not None
    return set(re.findall(r'"([\w.]+)"', block.group(1)))


def package_folders():
    found = set()
    for name, folder in MAPPING.items():
        for init in (REPO_ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO_ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    return found


def test_every_package_folder_is_listed():
    assert listed_packages() == package_folders()


def test_package_dir_maps_onto_the_namespace():
    assert set(MAPPING) == {"sam2matting.protocol", "sam2matting.backend", "sam2matting.installer"}
    for name, folder in MAPPING.items():
        assert (REPO_ROOT / folder / "__init__.py").is_file(), name


def test_mypy_path_links_follow_package_dir():
    """mypy sees the import names through .ci/mypy_path's links: one per package-dir entry."""
    links = {
        ".".join(p.relative_to(MYPY_PATH).parts): p for p in MYPY_PATH.rglob("*") if p.is_symlink()
    }
    assert set(links) == set(MAPPING), (
        "re-create the links: for each pyproject package-dir entry NAME = FOLDER, "
        ".ci/mypy_path/<NAME with / for .> -> ../../../FOLDER"
    )
    for name, link in links.items():
        assert link.resolve() == (REPO_ROOT / MAPPING[name]).resolve(), name


@pytest.mark.slow
def test_wheel_installs_nothing_generic(tmp_path):
    """Build the wheel: every file lives under sam2matting/ (or its dist-info)."""
    import subprocess

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("sam2matting-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert all(t == "sam2matting" or t.endswith((".dist-info", ".data")) for t in tops), tops
    assert "sam2matting/protocol/PROTOCOL.md" in names
    assert "sam2matting/backend/server/app.py" in names
    version = re.search(r'^version = "([^"]+)"', PYPROJECT, re.M).group(1)
    assert wheel.name.startswith(f"sam2matting-{version}-")


def test_runtime_version_comes_from_pyproject():
    from sam2matting.protocol.version import package_version

    assert package_version() == re.search(r'^version = "([^"]+)"', PYPROJECT, re.M).group(1)


def test_one_minimum_python_per_side():
    """The Nuke side runs on 3.7+, the backend on what the installer enforces; every file that
    states a minimum states that one (they used to say 3.9, 3.10 and 3.11 for the backend)."""
    from sam2matting.installer.environment import MIN_ENV_PYTHON

    backend = ".".join(map(str, MIN_ENV_PYTHON))
    statements = {
        "pyproject.toml": [
            f"the backend extra needs Python {backend}+",
            'requires-python = ">=3.7"',
            'target-version = "py37"',
            "Nuke's Python 3.7-3.11",
        ],
        "docs/ARCHITECTURE.md": [f"backend (Python {backend}+", "Nuke (Python 3.7-3.11"],
        "docs/INSTALL.md": [f"(Python {backend}+ needed there"],
        "installer/install.py": [f"the backend itself needs {backend}+"],
        "tests/nuke_side.sh": ['PYTHONS=${SAM2MATTING_NUKE_PYTHONS:-"3.7 '],
    }
    for name, expected in statements.items():
        text = (REPO_ROOT / name).read_text(encoding="utf-8")
        for statement in expected:
            assert statement in text, f"{name} no longer says {statement!r}"
