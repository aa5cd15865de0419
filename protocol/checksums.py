"""SHA-256 of model files: verified once, remembered by size and mtime, recorded where unpublished.

The one hash store of the project: the installer, `doctor` and the backend's checkpoint
verification (backend/tracking/checkpoints.py) all use it, so they share one cache and one set
of recorded hashes. Standard library only (the installer runs before any environment exists).

- `.sha256-cache.json` in the models folder: {resolved path: {size, mtime_ns, sha256}}, so a
  900 MB checkpoint is not re-hashed by every start or `doctor` run. Deleting it costs only time.
- `<file>.sha256` beside a model file whose publisher gives no hash (the SAM2Matting heads): the
  hash the installer recorded at first download, in sha256sum format. Later copies must match.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Dict, Optional

from .atomic import atomic_write_json, atomic_write_text
from .errors import ProtocolError

log = logging.getLogger(__name__)

CACHE_NAME = ".sha256-cache.json"
SIDECAR_SUFFIX = ".sha256"
_CHUNK = 4 * 1024 * 1024


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON (sorted keys) atomically, creating the folder: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data, indent=2, sort_keys=True)


def read_json(path: Path) -> Dict[str, Any]:
    """A JSON object from `path`; {} when the file is missing or unreadable (logged)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


class HashStore:
    """The hash cache and the recorded hashes of one models folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache_path = folder / CACHE_NAME

    @classmethod
    def beside(cls, path: Path) -> HashStore:
        """The store of the folder that really holds `path` (symlinks followed)."""
        return cls(Path(path).resolve().parent)

    @staticmethod
    def _key(path: Path) -> str:
        return str(path.resolve())

    def sha256(self, path: Path) -> str:
        """The file's SHA-256, from the cache when its size and mtime are unchanged."""
        stat = path.stat()
        entry = read_json(self._cache_path).get(self._key(path))
        if (
            isinstance(entry, dict)
            and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns
            and isinstance(entry.get("sha256"), str)
        ):
            return str(entry["sha256"])
        log.info("hashing %s (%.0f MB), once", path, stat.st_size / 1e6)
        digest = sha256_of(path)
        self.remember(path, digest)
        return digest

    def remember(self, path: Path, digest: str) -> None:
        """Cache a hash computed elsewhere (e.g. while copying) for the file as it is now."""
        stat = path.stat()
        cache = read_json(self._cache_path)
        cache[self._key(path)] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": digest,
        }
        try:
            write_json_atomic(self._cache_path, cache)
        except (OSError, ProtocolError) as exc:  # a read-only or full disk: verifies, slower
            log.warning("cannot update %s: %s", self._cache_path, exc)

    def forget(self, path: Path) -> None:
        cache = read_json(self._cache_path)
        if cache.pop(self._key(path), None) is not None:
            write_json_atomic(self._cache_path, cache)

    def sidecar(self, name: str) -> Path:
        return self.folder / (name + SIDECAR_SUFFIX)

    def recorded(self, name: str) -> Optional[str]:
        """The hash recorded for a file without a published one (its sha256sum sidecar)."""
        try:
            words = self.sidecar(name).read_text(encoding="utf-8").split()
        except FileNotFoundError:
            return None
        return words[0].lower() if words else None

    def record(self, name: str, digest: str) -> None:
        """Write `<name>.sha256` in sha256sum format (`sha256sum -c` checks it too)."""
        atomic_write_text(self.sidecar(name), f"{digest}  {name}\n", mode=0o644)
