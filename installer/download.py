"""Resumable HTTPS downloads with progress (urllib only: the installer runs before any venv)."""

from __future__ import annotations

import http.client
import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Mapping, Optional
from urllib.parse import urlparse

from .report import Reporter

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_TIMEOUT_S = 60.0
_ATTEMPTS = 4
HF_TOKEN_ENV = "HF_TOKEN"  # noqa: S105 - the variable's name, not a secret


class DownloadError(RuntimeError):
    pass


def auth_headers(url: str, environ: Mapping[str, str]) -> Dict[str, str]:
    """Hugging Face repositories that ask users to accept terms need the user's token."""
    host = urlparse(url).hostname or ""
    token = environ.get(HF_TOKEN_ENV)
    if token and (host == "huggingface.co" or host.endswith(".huggingface.co")):
        return {"Authorization": f"Bearer {token}"}
    return {}


def download(
    url: str,
    part: Path,
    reporter: Reporter,
    total: Optional[int] = None,
    headers: Optional[Mapping[str, str]] = None,
) -> None:
    """Fetch `url` into `part`, continuing a previous partial download; retries network errors.

    The caller verifies the result and renames it: `part` is never the final file name.
    """
    if urlparse(url).scheme not in ("https", "http"):
        raise DownloadError(f"refusing to download {url}: only http(s) URLs are fetched")
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            _fetch(url, part, reporter, total, dict(headers or {}))
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code < 500:
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
            if attempt == _ATTEMPTS:
                raise DownloadError(f"{url}: {exc}") from exc
            reporter.info(f"network error ({exc}); resuming in {2 * attempt} s")
            time.sleep(2 * attempt)
        else:
            return


def _fetch(
    url: str, part: Path, reporter: Reporter, total: Optional[int], headers: Dict[str, str]
) -> None:
    have = part.stat().st_size if part.exists() else 0
    if total is not None and have >= total:
        return  # complete already; the caller's checks decide whether it is right
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked above
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the partial file is whole
            return
        raise
    with response:
        if have and response.status != 206:  # the server ignored the range: start again
            log.info("%s does not resume downloads; starting over", url)
            have = 0
        length = response.headers.get("Content-Length")
        expected = total or (have + int(length) if length and length.isdigit() else None)
        _stream(response, part, have, expected, reporter)


def _stream(
    response: http.client.HTTPResponse,
    part: Path,
    have: int,
    total: Optional[int],
    reporter: Reporter,
) -> None:
    label = part.name[: -len(".part")] if part.name.endswith(".part") else part.name
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(part, "ab" if have else "wb") as fh:
        done = have
        while True:
            block = response.read(_CHUNK)
            if not block:
                break
            fh.write(block)
            done += len(block)
            reporter.progress(label, done, total)
        fh.flush()
        os.fsync(fh.fileno())
    if total is not None and done < total:
        # http.client returns b"" when the peer closes early instead of raising: a short
        # body is a network failure, and the next attempt resumes from here.
        raise ConnectionError(f"connection closed after {done:,} of {total:,} bytes")
    reporter.progress(label, done, total, force=True)
