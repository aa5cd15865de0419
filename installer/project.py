"""The source tree the installer runs from: its root, folders and version (pyproject.toml only)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Optional

# The installer lives in <root>/installer/; the project root holds pyproject.toml.
SOURCE_ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = Path(__file__).resolve().with_name("install.py")


def pyproject_text(root: Path = SOURCE_ROOT) -> str:
    path = root / "pyproject.toml"
    if not path.is_file():
        raise FileNotFoundError(f"no pyproject.toml in {root}: run the installer from a checkout")
    return path.read_text(encoding="utf-8")


def project_version(root: Path = SOURCE_ROOT) -> str:
    """The `[project] version` of pyproject.toml: the one place the version is written."""
    text = pyproject_text(root)
    try:
        import tomllib
    except ImportError:  # Python < 3.11: the version line is a plain `version = "X"`
        pass
    else:
        return str(tomllib.loads(text)["project"]["version"])
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise ValueError(f"no version in {root / 'pyproject.toml'}")
    return match.group(1)


PROTOCOL_PACKAGE = "sam2matting.protocol"  # the import name Nuke's side needs


def package_dirs(root: Path = SOURCE_ROOT) -> Dict[str, str]:
    """pyproject's `package-dir`: import name -> folder (sam2matting.protocol -> protocol).

    The one definition of the mapping is pyproject.toml; the installer's shim, the vendoring,
    the Nuke plugin's checkout fallback and the packaging test all read it through this
    function (standard library only, Python 3.7+: loaded by file path before anything is
    importable). .ci/mypy_path's links are checked against it (tests/test_packaging.py).
    """
    match = re.search(r"^package-dir\s*=\s*\{([^}]*)\}", pyproject_text(root), re.MULTILINE)
    if match is None:
        return {}
    return dict(re.findall(r'"([\w.]+)"\s*=\s*"([\w./-]+)"', match.group(1)))


def package_folder(name: str, root: Path = SOURCE_ROOT) -> Path:
    """The source folder of import name `name` ("sam2matting.protocol" -> <root>/protocol)."""
    folders = package_dirs(root)
    if name not in folders:
        raise KeyError(f"pyproject.toml in {root} maps no folder to {name}")
    return root / folders[name]


def install_command(options: str = "", script: Optional[Path] = None) -> str:
    """The command that runs this installer, for messages ("python3 .../install.py --models x")."""
    script = INSTALL_SCRIPT if script is None else script
    where = _quote(str(script)) if script.is_file() else "installer/install.py"
    return f"python3 {where} {options}".rstrip()


def _quote(text: str) -> str:
    return f'"{text}"' if any(c in text for c in " '&;$") else text
