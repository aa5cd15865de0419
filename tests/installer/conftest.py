"""Fixtures for installer tests: a temporary HOME, fake Nuke installs, an offline folder.

Nothing here touches the real home folder, Nuke, the network (except one cached
`pip download` of the real pyzmq wheels the plugin vendors) or a real torch environment.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from sam2matting.installer import nuke_installs, nuke_plugin
from sam2matting.installer.platforms import Platform
from sam2matting.installer.report import Reporter

REPO = Path(__file__).resolve().parents[2]
INSTALL_PY = REPO / "installer" / "install.py"
PYENV_VERSIONS = Path.home() / ".pyenv" / "versions"  # the real home: read before HOME moves
FAKE_NUKES = {
    "Nuke13.2v1": (3, 7),
    "Nuke14.1v2": (3, 9),
    "Nuke15.0v4": (3, 10),
    "Nuke16.0v1": (3, 11),
}
ENV_VARS_TO_CLEAR = (
    "SAM2MATTING_CONNECTION_FILE",
    "SAM2MATTING_CONFIG",
    "SAM2MATTING_MODELS",
    "SAM2MATTING_MODEL_REGISTRY",
    "SAM2MATTING_TORCH_SPEC",
    "SAM2MATTING_TORCH_INDEX",
    "NUKE_PATH",
    "USERPROFILE",
)


def real_python(version: Tuple[int, int]) -> Optional[Path]:
    """An interpreter of that version (pyenv or PATH), to stand in for a Nuke's Python."""
    name = f"python{version[0]}.{version[1]}"
    for folder in sorted(PYENV_VERSIONS.glob(f"{version[0]}.{version[1]}.*"), reverse=True):
        if (folder / "bin" / name).is_file():
            return folder / "bin" / name
    found = shutil.which(name)
    return Path(found) if found else None


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME (and SAM2MATTING_HOME inside it); no Nuke installs unless asked for."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SAM2MATTING_HOME", str(home / ".sam2matting"))
    for var in ENV_VARS_TO_CLEAR:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(nuke_installs.NUKE_SEARCH_ENV, str(tmp_path / "no-nuke-installed"))
    return home


@pytest.fixture
def fake_nukes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dict[str, Optional[Path]]:
    """Nuke 13.2, 14.1, 15.0, 16.0 folders; each python3 is a script running a real interpreter
    of that Nuke's Python version when one exists on this machine (else no python3 at all)."""
    root = tmp_path / "nuke-installs"
    found: Dict[str, Optional[Path]] = {}
    for name, version in FAKE_NUKES.items():
        folder = root / name
        folder.mkdir(parents=True)
        interpreter = real_python(version)
        found[name] = interpreter
        if interpreter is not None:
            script = folder / "python3"
            script.write_text(f'#!/bin/sh\nexec "{interpreter}" "$@"\n', encoding="utf-8")
            script.chmod(0o755)
    monkeypatch.setenv(nuke_installs.NUKE_SEARCH_ENV, str(root))
    return found


def _pip_download(dest: Path, python: Tuple[int, int]) -> bool:
    platform = Platform.current()
    wheels = nuke_plugin.foreign_wheel_args(python, platform.pip_platform_tags())
    argv = [sys.executable, "-m", "pip", "download", "--quiet", *wheels, "-d", str(dest)]
    argv.append(nuke_installs.pyzmq_requirement(python))
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


@pytest.fixture(scope="session")
def pyzmq_wheels(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Optional[Path]:
    """The real pyzmq wheels for the four Nuke Pythons, downloaded once and kept in pytest's
    cache folder (a temporary one with -p no:cacheprovider); None when PyPI cannot be reached
    (tests that need them skip)."""
    store = getattr(request.config, "cache", None)
    cache = (
        Path(str(store.mkdir("sam2matting-installer-wheels")))
        if store is not None
        else tmp_path_factory.mktemp("installer-wheels")
    )
    for python in sorted(set(FAKE_NUKES.values())):
        version = nuke_installs.pyzmq_requirement(python).split("==")[1]
        tag = f"cp{python[0]}{python[1]}"
        if not list(cache.glob(f"pyzmq-{version}-{tag}-*.whl")) and not _pip_download(
            cache, python
        ):
            return None
    return cache


def _fake_model(
    rng: random.Random, name: str, filename: str, size: int, **extra: object
) -> Tuple[dict, bytes]:
    data = rng.randbytes(size)
    entry = {
        "name": name,
        "filename": filename,
        "size": size,
        "sha256": hashlib.sha256(data).hexdigest(),
        "config": "configs/sam2.1/sam2.1_hiera_t.yaml",
        "url": f"https://models.invalid/{filename}",
        "licence": "Apache-2.0",
    }
    entry.update(extra)
    return entry, data


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An offline folder with small fake model files, and a test registry (via
    SAM2MATTING_MODEL_REGISTRY) that publishes their true sizes and hashes. The heads have no
    published size or hash, like the real SAM2Matting checkpoints."""
    folder = tmp_path / "offline"
    (folder / "models").mkdir(parents=True)
    rng = random.Random(7)
    trackers: List[dict] = []
    heads: List[dict] = []
    for short, size in (("tiny", 3000), ("small", 4000)):
        entry, data = _fake_model(rng, f"sam2.1-{short}", f"fake_{short}.pt", size)
        trackers.append(entry)
        (folder / entry["filename"]).write_bytes(data)
    entry, data = _fake_model(
        rng,
        "sam2matting-tiny",
        "fake_heads_tiny.pt",
        2500,
        licence="CC-BY-NC-4.0",
        tracker="sam2.1-tiny",
    )
    entry.update(size=None, sha256=None)
    heads.append(entry)
    (folder / "models" / entry["filename"]).write_bytes(data)  # the DIR/models/ layout
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"trackers": trackers, "heads": heads}), encoding="utf-8")
    monkeypatch.setenv("SAM2MATTING_MODEL_REGISTRY", str(registry))
    return folder


@pytest.fixture
def offline_with_wheels(offline: Path, pyzmq_wheels: Optional[Path]) -> Path:
    if pyzmq_wheels is None:
        pytest.skip("PyPI is unreachable: cannot fetch the pyzmq wheels the plugin vendors")
    for wheel in pyzmq_wheels.glob("*.whl"):
        shutil.copy(wheel, offline / wheel.name)
    return offline


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A source tree like the checkout, with a small host plugin of its own (host_plugin/ of
    the checkout belongs to another part of the project and may change)."""
    root = tmp_path / "src"
    (root / "host_plugin").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "protocol").symlink_to(REPO / "protocol", target_is_directory=True)
    (root / "host_plugin" / "init.py").write_text("# fake host plugin\n", encoding="utf-8")
    (root / "host_plugin" / "menu.py").write_text("# menu\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def vendored(pyzmq_wheels: Optional[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vendor/py37 ... py311 built once per session by the installer's own vendoring code."""
    from sam2matting.installer.nuke_plugin import vendor_pyzmq
    from sam2matting.installer.runner import Runner

    if pyzmq_wheels is None:
        pytest.skip("PyPI is unreachable: cannot fetch the pyzmq wheels the plugin vendors")
    plugin = tmp_path_factory.mktemp("vendored")
    reporter = Reporter(stream=io.StringIO())
    runner = Runner(reporter, quiet=True)
    for python in sorted(set(FAKE_NUKES.values())):
        tags = Platform.current().pip_platform_tags()
        assert vendor_pyzmq(
            plugin, python, Path(sys.executable), tags, pyzmq_wheels, runner, reporter
        )
    return plugin / "vendor"


@pytest.fixture
def plugin_with_vendor(home: Path, vendored: Path) -> Path:
    """The default plugin folder, already holding the vendored pyzmq (so no pip runs)."""
    from sam2matting.installer.nuke_plugin import MARKER

    plugin = home / ".sam2matting" / "nuke"
    shutil.copytree(vendored, plugin / "vendor", symlinks=True)
    (plugin / MARKER).write_text("test\n")
    return plugin
