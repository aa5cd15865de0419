"""The machine the installer runs on, as plain data: OS, CPU, C library, environment variables.

Everything that builds a path takes a `Platform`, so Windows paths are produced (and tested) as
`PureWindowsPath` values on any machine; only the callers that touch the disk turn them into
concrete `Path` objects.
"""

from __future__ import annotations

import os
import platform as _platform
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Dict, List, Mapping, Optional, Tuple

LINUX = "linux"
MACOS = "darwin"
WINDOWS = "win32"

# Oldest manylinux glibc minor we offer pip: Nuke 13+ needs CentOS 7 (glibc 2.17) or newer.
_MIN_GLIBC_MINOR = 17
# Nuke 15 is the first release built natively for Apple silicon; older ones run under Rosetta.
_FIRST_NATIVE_ARM_NUKE = 15


@dataclass(frozen=True)
class Platform:
    """OS family, CPU and environment of a machine (the current one or a described one)."""

    system: str  # LINUX | MACOS | WINDOWS
    machine: str  # platform.machine(): x86_64, aarch64, arm64, AMD64
    environ: Mapping[str, str] = field(default_factory=dict)
    glibc: Optional[Tuple[int, int]] = None  # Linux only
    mac_version: Optional[Tuple[int, int]] = None  # macOS only

    @classmethod
    def current(cls, environ: Optional[Mapping[str, str]] = None) -> Platform:
        system = (
            WINDOWS if sys.platform == "win32" else MACOS if sys.platform == "darwin" else LINUX
        )
        return cls(
            system=system,
            machine=_platform.machine() or "x86_64",
            environ=dict(os.environ if environ is None else environ),
            glibc=_glibc_version() if system == LINUX else None,
            mac_version=_mac_version() if system == MACOS else None,
        )

    @property
    def is_windows(self) -> bool:
        return self.system == WINDOWS

    @property
    def pathsep(self) -> str:
        return ";" if self.is_windows else ":"

    def path(self, *parts: str) -> PurePath:
        """A path of this platform's flavour."""
        return PureWindowsPath(*parts) if self.is_windows else PurePosixPath(*parts)

    def home(self) -> PurePath:
        """The user's home folder as Nuke sees it (Windows: %HOME%, else %USERPROFILE%)."""
        keys = ("HOME", "USERPROFILE") if self.is_windows else ("HOME",)
        for key in keys:
            if self.environ.get(key):
                return self.path(self.environ[key])
        return self.path(str(Path.home()))

    def nuke_user_dir(self) -> PurePath:
        """~/.nuke: always on Nuke's plugin path; its init.py runs at every start."""
        return self.home() / ".nuke"

    def venv_python(self, env_dir: PurePath) -> PurePath:
        if self.is_windows:
            return env_dir / "Scripts" / "python.exe"
        return env_dir / "bin" / "python"

    def pip_platform_tags(self, nuke_major: Optional[int] = None) -> List[str]:
        """Wheel platform tags for `pip install --platform`, most specific first.

        pip does not widen a `manylinux_2_X` tag to older ones by itself, so the list is spelled
        out. `nuke_major` matters on Apple silicon, where Nuke 13/14 run as x86_64 under Rosetta.
        """
        if self.is_windows:
            return ["win_arm64" if self.machine.upper() == "ARM64" else "win_amd64"]
        if self.system == MACOS:
            return _mac_tags(self._mac_arch(nuke_major), self.mac_version or (11, 0))
        return _manylinux_tags(_linux_arch(self.machine), self.glibc or (2, _MIN_GLIBC_MINOR))

    def _mac_arch(self, nuke_major: Optional[int]) -> str:
        if self.machine != "arm64":
            return "x86_64"
        if nuke_major is not None and nuke_major < _FIRST_NATIVE_ARM_NUKE:
            return "x86_64"
        return "arm64"


def _linux_arch(machine: str) -> str:
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine.lower())


def _manylinux_tags(arch: str, glibc: Tuple[int, int]) -> List[str]:
    legacy: Dict[int, str] = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags: List[str] = []
    for minor in range(glibc[1], _MIN_GLIBC_MINOR - 1, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        if minor in legacy:
            tags.append(f"{legacy[minor]}_{arch}")
    if arch in ("x86_64", "i686"):  # the pre-2014 manylinux tags exist only for Intel
        for minor in (12, 5):
            tags += [f"manylinux_2_{minor}_{arch}", f"{legacy[minor]}_{arch}"]
    return tags


def _mac_tags(arch: str, version: Tuple[int, int]) -> List[str]:
    releases: List[Tuple[int, int]] = [(major, 0) for major in range(max(version[0], 11), 10, -1)]
    if arch == "x86_64":  # Intel builds go back to 10.9; Apple silicon starts at 11.0
        releases += [(10, minor) for minor in range(15, 8, -1)]
    tags: List[str] = []
    for major, minor in releases:
        tags += [f"macosx_{major}_{minor}_{arch}", f"macosx_{major}_{minor}_universal2"]
    return tags


def _glibc_version() -> Optional[Tuple[int, int]]:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return None
    parts = text.replace("glibc", "").strip().split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def _mac_version() -> Optional[Tuple[int, int]]:
    parts = _platform.mac_ver()[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None
