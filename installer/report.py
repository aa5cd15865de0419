"""Plain-words progress for the person running the installer (details go to `logging`)."""

from __future__ import annotations

import sys
import time
from typing import List, Optional, TextIO


class Reporter:
    """Prints steps, results and problems; remembers problems for the final summary."""

    def __init__(self, stream: Optional[TextIO] = None, verbose: bool = False) -> None:
        self.stream = stream
        self.verbose = verbose
        self.problems: List[str] = []
        self.notes: List[str] = []
        self._last_progress = 0.0

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def step(self, title: str) -> None:
        self._print(f"\n==> {title}")

    def ok(self, text: str) -> None:
        self._print(f"    ok: {text}")

    def info(self, text: str) -> None:
        self._print(f"    {text}")

    def detail(self, text: str) -> None:
        if self.verbose:
            self._print(f"      {text}")

    def note(self, text: str) -> None:
        """Something the user may want to act on later; repeated in the summary."""
        self.notes.append(text)
        self._print(f"    note: {text}")

    def problem(self, text: str, fix: Optional[str] = None) -> None:
        """Something that failed; the run ends with a non-zero exit code."""
        line = f"{text}\n      fix: {fix}" if fix else text
        self.problems.append(line)
        self._print(f"    PROBLEM: {line}")

    def progress(self, label: str, done: int, total: Optional[int], force: bool = False) -> None:
        """A progress line at most every 2 s (downloads of several hundred MB)."""
        now = time.monotonic()
        if not force and now - self._last_progress < 2.0:
            return
        self._last_progress = now
        mb = done / 1e6
        if total:
            self._print(
                f"      {label}: {100 * done / total:5.1f}% ({mb:.0f} of {total / 1e6:.0f} MB)"
            )
        else:
            self._print(f"      {label}: {mb:.0f} MB")

    def summary(self, what: str) -> None:
        if self.problems:
            self._print(f"\n{what} finished with {len(self.problems)} problem(s):")
            for line in self.problems:
                self._print(f"  - {line}")
        else:
            self._print(f"\n{what} finished.")
        for line in self.notes:
            self._print(f"  note: {line}")
