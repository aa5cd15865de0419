"""Model files: which ones, where they come from, and the size + SHA-256 check they must pass.

The registry is backend/model_files.py (plain data shared with the backend). A JSON registry named
by SAM2MATTING_MODEL_REGISTRY replaces it: tests use small fake files that way, and a studio can
point the URLs at an internal mirror, without touching the published hashes.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from sam2matting.backend.model_files import SAM2_TRACKERS, SAM2MATTING_HEADS, ModelFile
from sam2matting.protocol.checksums import HashStore, sha256_of

from .download import DownloadError, auth_headers, download
from .report import Reporter

REGISTRY_ENV = "SAM2MATTING_MODEL_REGISTRY"
DEFAULT_MODELS = ("tiny",)


@dataclass(frozen=True)
class Registry:
    trackers: Mapping[str, ModelFile]  # by short name: tiny, small, base_plus, large
    heads: Mapping[str, ModelFile]  # by short name of the tracker they belong to

    @classmethod
    def load(cls, environ: Optional[Mapping[str, str]] = None) -> Registry:
        environ = os.environ if environ is None else environ
        if environ.get(REGISTRY_ENV):
            return cls.from_json_file(Path(environ[REGISTRY_ENV]))
        return cls.from_files(SAM2_TRACKERS.values(), SAM2MATTING_HEADS.values())

    @classmethod
    def from_files(cls, trackers: Iterable[ModelFile], heads: Iterable[ModelFile]) -> Registry:
        by_tracker = {m.tracker.split("-", 1)[-1]: m for m in heads if m.tracker}
        return cls({m.short: m for m in trackers}, by_tracker)

    @classmethod
    def from_json_file(cls, path: Path) -> Registry:
        """{"trackers": [ModelFile fields...], "heads": [...]} (the fields of ModelFile)."""
        with open(path, encoding="utf-8") as fh:
            data: Dict[str, Any] = json.load(fh)
        try:
            return cls.from_files(
                [ModelFile(**entry) for entry in data.get("trackers", [])],
                [ModelFile(**entry) for entry in data.get("heads", [])],
            )
        except TypeError as exc:
            raise ValueError(f"{path}: not a model registry ({exc})") from exc

    def all_files(self) -> List[ModelFile]:
        return [*self.trackers.values(), *self.heads.values()]


def parse_selection(text: str, registry: Registry) -> Tuple[str, ...]:
    """'tiny,large' -> ('tiny', 'large'); 'all' -> every tracker; unknown names raise ValueError."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return tuple(registry.trackers)
    unknown = [n for n in names if n not in registry.trackers]
    if unknown or not names:
        raise ValueError(
            f"unknown model {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(registry.trackers)} or all"
        )
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # why not, in words ("is 12 bytes, expected 156008466")
    sha256: Optional[str] = None
    recorded: bool = False  # the expected hash is one the installer recorded, not a published one


def verify(path: Path, model: ModelFile, store: HashStore, digest: Optional[str] = None) -> Verdict:
    """Size, then SHA-256 against the published hash or the one recorded at first download."""
    size = path.stat().st_size
    if model.size is not None and size != model.size:
        return Verdict(False, f"is {size:,} bytes, expected {model.size:,}")
    digest = digest or store.sha256(path)
    expected = model.sha256 or store.recorded(model.filename)
    if expected is None:
        return Verdict(True, "no published hash; recording this one", digest, recorded=True)
    if digest != expected.lower():
        return Verdict(False, f"has SHA-256 {digest[:16]}..., expected {expected[:16]}...", digest)
    return Verdict(True, "", digest, recorded=model.sha256 is None)


Fetcher = Callable[[ModelFile, Path], None]


def offline_fetcher(folder: Path) -> Fetcher:
    """Copy model files from a local folder (DIR/<file> or DIR/models/<file>)."""

    def fetch(model: ModelFile, part: Path) -> None:
        for candidate in (folder / model.filename, folder / "models" / model.filename):
            if candidate.is_file():
                shutil.copyfile(candidate, part)
                return
        raise DownloadError(f"{model.filename} is not in the offline folder {folder}")

    return fetch


def online_fetcher(reporter: Reporter, environ: Mapping[str, str]) -> Fetcher:
    def fetch(model: ModelFile, part: Path) -> None:
        reporter.info(f"downloading {model.url}")
        download(model.url, part, reporter, model.size, auth_headers(model.url, environ))

    return fetch


def install_file(
    model: ModelFile,
    models_dir: Path,
    fetch: Fetcher,
    reporter: Reporter,
    offline: Optional[Path] = None,
) -> bool:
    """Make models_dir/<file> a verified copy; a file that fails the check is deleted."""
    store = HashStore(models_dir)
    dest = models_dir / model.filename
    if dest.is_file():
        verdict = verify(dest, model, store)
        if verdict.ok:
            _record_if_new(store, model, dest, verdict)
            reporter.ok(f"{model.name}: {dest} (size and SHA-256 verified)")
            return True
        reporter.info(f"{model.name}: {dest} {verdict.reason}; deleting it and fetching it again")
        dest.unlink()
        store.forget(dest)
    part = dest.with_name(dest.name + ".part")
    models_dir.mkdir(parents=True, exist_ok=True)
    try:
        fetch(model, part)
    except (DownloadError, OSError) as exc:
        reporter.problem(f"{model.name}: could not fetch it: {exc}", fix=_fetch_fix(model))
        return False
    verdict = verify(part, model, store, digest=sha256_of(part))
    if not verdict.ok:
        part.unlink()
        reporter.problem(
            f"{model.name}: refused: the fetched file {verdict.reason}; it was deleted",
            fix=(
                f"replace {offline / model.filename} with the genuine file ({model.url})"
                if offline
                else "re-run to download it again; if it fails again, the file changed upstream"
            ),
        )
        return False
    part.replace(dest)
    store.remember(dest, str(verdict.sha256))
    _record_if_new(store, model, dest, verdict)
    reporter.ok(f"{model.name}: installed {dest} (size and SHA-256 verified)")
    return True


def _record_if_new(store: HashStore, model: ModelFile, path: Path, verdict: Verdict) -> None:
    if model.sha256 is None and store.recorded(model.filename) is None and verdict.sha256:
        store.record(path.name, verdict.sha256)


def _fetch_fix(model: ModelFile) -> str:
    return (
        f"check the network and re-run (the download resumes), or download {model.url} "
        f"yourself into a folder and re-run with --offline FOLDER"
    )
