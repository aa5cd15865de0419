"""The chaos suite: a fast subset runs in CI; `SAM2MATTING_CHAOS_SOAK=1` runs the long soak.

Figures (messages sent, backends killed, faults injected, data lost) are added up over the
session and printed at the end; `SAM2MATTING_CHAOS_FIGURES=<file>` also writes them as JSON.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from ..backend.server.harness import Running, start_server
from .harness import DiskFull

SOAK = os.environ.get("SAM2MATTING_CHAOS_SOAK") == "1"
# The soak is bounded in time: each long loop stops starting rounds after this many seconds.
SOAK_BUDGET_S = float(os.environ.get("SAM2MATTING_CHAOS_BUDGET_S", "1200"))
FIGURES: Counter = Counter()


def scale(fast: int, soak: int) -> int:
    """How many rounds a chaos test runs: a few in CI, many in the soak."""
    return soak if SOAK else fast


class Budget:
    """Whether a loop may start another round (always in CI; within the budget in the soak)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def left(self) -> bool:
        return not SOAK or time.monotonic() - self.start < SOAK_BUDGET_S


@pytest.fixture
def figures() -> Counter:
    return FIGURES


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Running]:
    running = start_server(tmp_path / "cache", allowed_roots=(tmp_path / "plates",))
    (tmp_path / "plates").mkdir()
    yield running
    running.stop()


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[DiskFull]:
    injector = DiskFull()
    monkeypatch.setattr(os, "fsync", injector.fsync)
    yield injector
    FIGURES["faults injected"] += injector.injected


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not FIGURES:
        return
    line = ", ".join(f"{value} {name}" for name, value in sorted(FIGURES.items()))
    terminalreporter.write_sep("-", f"chaos figures{' (soak)' if SOAK else ''}: {line}")
    target = os.environ.get("SAM2MATTING_CHAOS_FIGURES")
    if target:
        Path(target).write_text(json.dumps(dict(FIGURES), indent=1) + "\n", encoding="utf-8")
