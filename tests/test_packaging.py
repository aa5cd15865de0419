"""The distribution: all package folders listed, project-specific import names, one version."""

from __future__ import annotations

import re
import sys
import zipfile

import pytest

from tests.conftest import REPO_ROOT

PYPROJECT = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
MAPPING = {"sam2matting.protocol": "protocol", "sam2matting.backend": "backend",
           "sam2matting.installer": "installer"}  # fmt: skip


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
    for name, folder in MAPPING.items():
        assert f'"{name}" = "{folder}"' in PYPROJECT


@pytest.mark.slow
def test_wheel_installs_nothing_generic(tmp_path):
    """Build the wheel: every file lives under sam2matting/ (or its dist-info)."""
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO_ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
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
