"""Model files: size + SHA-256 verification, refusal of bad files, recorded hashes, downloads."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
from pathlib import Path
from typing import ClassVar, Dict, Iterator, List, Tuple

import pytest

from sam2matting.backend.model_files import SAM2_TRACKERS, ModelFile
from sam2matting.installer import download, models
from sam2matting.installer.report import Reporter
from sam2matting.protocol import checksums

DATA = bytes(range(256)) * 40  # 10,240 bytes


def _model(data: bytes = DATA, url: str = "https://models.invalid/m.pt", **kw: object) -> ModelFile:
    fields: Dict[str, object] = {
        "name": "sam2.1-tiny",
        "filename": "m.pt",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "config": None,
        "url": url,
        "licence": "Apache-2.0",
    }
    fields.update(kw)
    return ModelFile(**fields)


def _reporter() -> Tuple[Reporter, io.StringIO]:
    out = io.StringIO()
    return Reporter(stream=out), out


def test_real_registry_is_the_backend_one_with_short_names() -> None:
    registry = models.Registry.load({})
    assert list(registry.trackers) == ["tiny", "small", "base_plus", "large"]
    assert registry.trackers["tiny"] is SAM2_TRACKERS["sam2.1-tiny"]
    assert set(registry.heads) == {"tiny", "base_plus"}
    assert registry.heads["tiny"].tracker == "sam2.1-tiny"
    # The hint the backend prints for a missing file must be a command this installer accepts.
    hint = SAM2_TRACKERS["sam2.1-large"].install_hint()
    assert hint == "python3 installer/install.py --models large"
    assert models.parse_selection(hint.split("--models ")[1], registry) == ("large",)


def test_selection_parsing() -> None:
    registry = models.Registry.load({})
    assert models.parse_selection("tiny, large,tiny", registry) == ("tiny", "large")
    assert models.parse_selection("all", registry) == ("tiny", "small", "base_plus", "large")
    with pytest.raises(ValueError, match="huge"):
        models.parse_selection("tiny,huge", registry)
    with pytest.raises(ValueError, match="choose from"):
        models.parse_selection("", registry)


def test_verify_checks_size_then_hash_and_caches_the_hash(tmp_path: Path) -> None:
    store = checksums.HashStore(tmp_path)
    path = tmp_path / "m.pt"
    path.write_bytes(DATA)
    assert models.verify(path, _model(), store).ok
    cache = json.loads((tmp_path / checksums.CACHE_NAME).read_text())
    assert cache[str(path.resolve())]["sha256"] == hashlib.sha256(DATA).hexdigest()
    wrong_size = models.verify(path, _model(size=len(DATA) + 1), store)
    assert not wrong_size.ok
    assert "10,240 bytes, expected 10,241" in wrong_size.reason
    path.write_bytes(DATA[::-1])  # same size, other content: the cache entry is stale
    verdict = models.verify(path, _model(), store)
    assert not verdict.ok
    assert "SHA-256" in verdict.reason
    assert verdict.sha256 == hashlib.sha256(DATA[::-1]).hexdigest()


def _offline(tmp_path: Path, data: bytes, name: str = "m.pt") -> Path:
    folder = tmp_path / "offline"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder


def test_install_from_offline_folder_then_nothing_to_do(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    fetch = models.offline_fetcher(_offline(tmp_path, DATA))
    reporter, out = _reporter()
    assert models.install_file(_model(), dest, fetch, reporter)
    assert (dest / "m.pt").read_bytes() == DATA
    assert "installed" in out.getvalue()
    mtime = (dest / "m.pt").stat().st_mtime_ns
    assert models.install_file(_model(), dest, fetch, reporter)
    assert (dest / "m.pt").stat().st_mtime_ns == mtime
    assert "size and SHA-256 verified" in out.getvalue().splitlines()[-1]


def test_mismatching_source_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    bad = bytearray(DATA)
    bad[100] ^= 0xFF  # one flipped byte, same size
    offline = _offline(tmp_path, bytes(bad))
    reporter, _ = _reporter()
    assert not models.install_file(
        _model(), dest, models.offline_fetcher(offline), reporter, offline
    )
    assert sorted(p.name for p in dest.iterdir() if p.suffix in (".pt", ".part")) == []
    assert "refused" in reporter.problems[0]
    assert str(offline / "m.pt") in reporter.problems[0]


def test_damaged_installed_file_is_replaced(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / "m.pt").write_bytes(b"truncated")
    reporter, out = _reporter()
    assert models.install_file(
        _model(), dest, models.offline_fetcher(_offline(tmp_path, DATA)), reporter
    )
    assert (dest / "m.pt").read_bytes() == DATA
    assert "is 9 bytes, expected 10,240; deleting it" in out.getvalue()


def test_missing_offline_file_is_a_problem_with_a_fix(tmp_path: Path) -> None:
    reporter, _ = _reporter()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not models.install_file(
        _model(), tmp_path / "models", models.offline_fetcher(empty), reporter
    )
    assert "not in the offline folder" in reporter.problems[0]
    assert "--offline" in reporter.problems[0]


def test_unpublished_hash_is_recorded_then_enforced(tmp_path: Path) -> None:
    heads = _model(name="sam2matting-tiny", size=None, sha256=None, licence="CC-BY-NC-4.0")
    dest = tmp_path / "models"
    reporter, _ = _reporter()
    assert models.install_file(
        heads, dest, models.offline_fetcher(_offline(tmp_path, DATA)), reporter
    )
    store = checksums.HashStore(dest)
    assert store.recorded("m.pt") == hashlib.sha256(DATA).hexdigest()
    verdict = models.verify(dest / "m.pt", heads, store)
    assert verdict.ok
    assert verdict.recorded
    # A different file later (changed upstream, or tampered with) no longer passes.
    (dest / "m.pt").unlink()
    other = _offline(tmp_path / "o2", DATA[:-1] + b"!")
    assert not models.install_file(heads, dest, models.offline_fetcher(other), reporter)
    assert not (dest / "m.pt").exists()


# ---------------------------------------------------------------- downloads over loopback HTTP


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves DATA with Range support; the first full response is cut short on purpose."""

    requests: ClassVar[List[str]] = []
    cut_first = True

    def do_GET(self) -> None:
        start = 0
        header = self.headers.get("Range")
        type(self).requests.append(header or "")
        if header:
            start = int(header.split("=")[1].split("-")[0])
        body = DATA[start:]
        self.send_response(206 if header else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).cut_first and not header:
            type(self).cut_first = False
            self.wfile.write(body[:4000])  # then drop the connection: a network failure
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _RangeHandler.requests = []
    _RangeHandler.cut_first = True
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/m.pt"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_download_resumes_after_a_dropped_connection(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download.time, "sleep", lambda s: None)
    reporter, out = _reporter()
    fetch = models.online_fetcher(reporter, {})
    assert models.install_file(_model(url=server), tmp_path / "models", fetch, reporter)
    assert (tmp_path / "models" / "m.pt").read_bytes() == DATA
    assert _RangeHandler.requests == ["", "bytes=4000-"]
    assert "resuming" in out.getvalue()
    assert not (tmp_path / "models" / "m.pt.part").exists()


def test_download_refuses_non_http_urls(tmp_path: Path) -> None:
    reporter, _ = _reporter()
    with pytest.raises(download.DownloadError, match="only http"):
        download.download("file:///etc/passwd", tmp_path / "x.part", reporter)


def test_hugging_face_token_only_goes_to_hugging_face() -> None:
    env = {download.HF_TOKEN_ENV: "hf_secret"}
    assert download.auth_headers("https://huggingface.co/FudanCVL/x", env) == {
        "Authorization": "Bearer hf_secret"
    }
    assert download.auth_headers("https://dl.fbaipublicfiles.com/x", env) == {}
    assert download.auth_headers("https://huggingface.co/x", {}) == {}


def test_backend_trusts_what_the_installer_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installer, doctor and server share one hash cache and the recorded hashes."""
    checkpoints = pytest.importorskip("sam2matting.backend.tracking.checkpoints")
    dest = tmp_path / "models"
    fetch = models.offline_fetcher(_offline(tmp_path, DATA))
    tracker = _model()
    heads = _model(name="sam2matting-tiny", filename="h.pt", size=None, sha256=None)
    (tmp_path / "offline" / "h.pt").write_bytes(DATA[::-1])
    reporter, _ = _reporter()
    assert models.install_file(tracker, dest, fetch, reporter)
    assert models.install_file(heads, dest, fetch, reporter)

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(checksums, "sha256_of", no_hashing)
    verified = checkpoints.verify_model_file(tracker, dest)
    assert verified.sha256 == hashlib.sha256(DATA).hexdigest()
    recorded = checkpoints.verify_model_file(heads, dest)
    assert recorded.sha256 == hashlib.sha256(DATA[::-1]).hexdigest()  # from the .sha256 sidecar
