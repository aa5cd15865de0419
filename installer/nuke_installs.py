"""Nuke installations on this machine, the Python each one runs, and its Python executable.

Search roots: /usr/local and /opt (Linux), /Applications (macOS), C:\\Program Files (Windows),
or the folders in SAM2MATTING_NUKE_SEARCH / --nuke-root. Install folders are named like
Nuke15.0v4. Paths are pure paths of the described platform, so Windows layouts are tested
anywhere; the filesystem is reached only through the `listdir` and `exists` functions passed in.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Callable, List, Optional, Sequence, Tuple

from .platforms import LINUX, MACOS, Platform

NUKE_SEARCH_ENV = "SAM2MATTING_NUKE_SEARCH"
# Nuke major -> the CPython it embeds (Foundry's release notes; see NUKE_NOTES.md).
NUKE_PYTHONS = {13: (3, 7), 14: (3, 9), 15: (3, 10), 16: (3, 11)}
# The newest pyzmq with wheels for each of those Pythons (3.7's last release is 26.2.1).
PYZMQ_FOR_PYTHON = {(3, 7): "pyzmq==26.2.1"}
PYZMQ_DEFAULT = "pyzmq==27.3.0"
_FOLDER = re.compile(r"^Nuke(\d+)\.(\d+)v(\d+)")

ListDir = Callable[[str], Sequence[str]]
Exists = Callable[[str], bool]


@dataclass(frozen=True)
class NukeInstall:
    folder: PurePath
    version: Tuple[int, int, int]  # 15.0v4 -> (15, 0, 4)
    python_exe: Optional[PurePath]  # the Python executable shipped with it, when found

    @property
    def name(self) -> str:
        major, minor, release = self.version
        return f"Nuke {major}.{minor}v{release}"

    @property
    def python(self) -> Optional[Tuple[int, int]]:
        return NUKE_PYTHONS.get(self.version[0])


def python_tag(python: Tuple[int, int]) -> str:
    """(3, 10) -> 'py310': the vendor folder for that Python."""
    return f"py{python[0]}{python[1]}"


def pyzmq_requirement(python: Tuple[int, int]) -> str:
    return PYZMQ_FOR_PYTHON.get(python, PYZMQ_DEFAULT)


def default_roots(platform: Platform) -> List[PurePath]:
    if platform.system == LINUX:
        return [platform.path("/usr/local"), platform.path("/opt")]
    if platform.system == MACOS:
        return [platform.path("/Applications")]
    program_files = platform.environ.get("ProgramFiles") or r"C:\Program Files"
    return [platform.path(program_files)]


def search_roots(platform: Platform, extra: Sequence[str] = ()) -> List[PurePath]:
    """--nuke-root folders, else SAM2MATTING_NUKE_SEARCH, else the platform's usual places."""
    if extra:
        return [platform.path(p) for p in extra]
    env = platform.environ.get(NUKE_SEARCH_ENV)
    if env:
        return [platform.path(p) for p in env.split(platform.pathsep) if p]
    return default_roots(platform)


def python_candidates(folder: PurePath, platform: Platform) -> List[PurePath]:
    """Where a Nuke install keeps its Python executable, most likely first."""
    if platform.is_windows:
        return [folder / "python.exe"]
    if platform.system == MACOS:
        app = folder / f"{folder.name}.app" / "Contents" / "MacOS"
        return [app / "python3", app / "python", folder / "python3"]
    return [folder / "python3", folder / "python"]


def find_installs(
    platform: Platform,
    roots: Sequence[PurePath],
    listdir: ListDir = os.listdir,
    exists: Exists = os.path.exists,
) -> List[NukeInstall]:
    """Every NukeX.YvZ folder directly under the roots, newest first."""
    found = []
    for root in roots:
        try:
            names = listdir(str(root))
        except OSError:
            continue
        for name in names:
            match = _FOLDER.match(name)
            if match is None:
                continue
            folder = root / name
            python_exe = next(
                (p for p in python_candidates(folder, platform) if exists(str(p))), None
            )
            version = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
            found.append(NukeInstall(folder, version, python_exe))
    return sorted(found, key=lambda n: n.version, reverse=True)


def pythons_for(installs: Sequence[NukeInstall]) -> List[Tuple[int, int]]:
    """The distinct Pythons these Nuke installs need, oldest first."""
    return sorted({n.python for n in installs if n.python is not None})


def parse_python(text: str) -> Tuple[int, int]:
    """'3.10' -> (3, 10), for --nuke-python."""
    match = re.fullmatch(r"3\.(\d{1,2})", text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Python version like 3.10")
    return 3, int(match.group(1))
