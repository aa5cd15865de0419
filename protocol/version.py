"""Protocol version (separate from the package version) and the package version, read at run time.

The protocol version travels in every message header. Same major: compatible (a newer minor may
add optional fields). Different major: the receiver answers with `protocol_version_mismatch`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Tuple

PROTOCOL_VERSION = "1.1"
PROTOCOL_VERSION_INFO: Tuple[int, int] = (1, 1)

_DIST = "sam2matting"


def parse_version(text: str) -> Tuple[int, int]:
    """'1.0' -> (1, 0); raises ValueError on anything else."""
    match = re.fullmatch(r"(\d{1,4})\.(\d{1,4})", text)
    if match is None:
        raise ValueError(f"not a MAJOR.MINOR protocol version: {text!r}")
    return int(match.group(1)), int(match.group(2))


def package_version() -> str:
    """The distribution's version (pyproject.toml is the one source)."""
    if sys.version_info >= (3, 8):
        from importlib import metadata

        try:
            return metadata.version(_DIST)
        except metadata.PackageNotFoundError:
            pass
    return _version_from_dist_info() or _version_from_pyproject() or "unknown"


def _version_from_dist_info() -> str:
    # Python 3.7 (Nuke 13) has no importlib.metadata: read the vendored dist-info directly.
    for entry in sys.path:
        try:
            candidates = sorted(Path(entry).glob(_DIST + "-*.dist-info/METADATA"))
        except OSError:
            continue
        for meta in candidates:
            for line in meta.read_text(encoding="utf-8").splitlines():
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    return ""


def _version_from_pyproject() -> str:
    # A source checkout that was never installed.
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.is_file():
        return ""
    match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else ""
