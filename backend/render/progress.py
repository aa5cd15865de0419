"""A small text progress bar for long commands, on stderr so that stdout stays clean for results.

On a terminal the bar redraws in place (at most ten times a second). When stderr is not a
terminal (a farm log, a pipe, a CI job) it is quiet except for one line every `period_s` and a
final line, so logs stay readable and still show that the work is moving.

Standard library only: the Nuke-side tooling may reuse it.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

_REDRAW_S = 0.1  # terminal redraws at most this often
_BAR_WIDTH = 24


class ProgressBar:
    """Counts finished items of a known total and shows rate and time left.

    Use as a context manager, or call `close()` to print the final line.
    """

    def __init__(
        self,
        total: int,
        label: str,
        unit: str = "frames",
        stream: Optional[TextIO] = None,
        period_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start counting now.

        Args:
            total: items expected (0 is allowed: the bar then only reports the count).
            label: what is being done, e.g. "tracking".
            unit: what an item is, for the rate ("frames" -> "3.2 frames/s").
            stream: where to write (default: sys.stderr at the time of each write).
            period_s: seconds between lines when the stream is not a terminal.
            clock: monotonic seconds (tests pass a fake clock).
        """
        self.total = max(0, int(total))
        self.label = label
        self.unit = unit
        self.done = 0
        self.note = ""
        self._stream = stream
        self._period_s = period_s
        self._clock = clock
        self._started = clock()
        self._last_draw = float("-inf")
        self._closed = False
        self._drawn_width = 0

    # ------------------------------------------------------------ public API

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def interactive(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def update(self, count: int = 1, note: Optional[str] = None) -> None:
        """`count` more items are done; `note` replaces the text shown after the rate."""
        self.done += count
        if note is not None:
            self.note = note
        now = self._clock()
        wait = _REDRAW_S if self.interactive else self._period_s
        if now - self._last_draw >= wait:
            self._draw(now, final=False)

    def close(self) -> None:
        """Print the final state (once)."""
        if self._closed:
            return
        self._closed = True
        self._draw(self._clock(), final=True)

    def elapsed(self) -> float:
        return self._clock() - self._started

    def rate(self) -> float:
        """Items per second since the start."""
        return self.done / max(self.elapsed(), 1e-9)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ drawing

    def text(self) -> str:
        """The current state as one line, without the terminal bar."""
        parts = [
            f"{self.label}: {self.done}/{self.total} {self.unit}"
            if self.total
            else f"{self.label}: {self.done} {self.unit}"
        ]
        if self.done:
            parts.append(f"{self.rate():.2f} {self.unit}/s")
            left = self._seconds_left()
            if left is not None:
                parts.append(f"{_duration(left)} left")
        parts.append(_duration(self.elapsed()) + " elapsed")
        if self.note:
            parts.append(self.note)
        return ", ".join(parts)

    def _seconds_left(self) -> Optional[float]:
        if not self.total or self.done >= self.total:
            return None
        return (self.total - self.done) / max(self.rate(), 1e-9)

    def _draw(self, now: float, final: bool) -> None:
        self._last_draw = now
        if self.interactive:
            line = self._bar() + " " + self.text()
            pad = max(0, self._drawn_width - len(line))
            self.stream.write("\r" + line + " " * pad + ("\n" if final else ""))
            self._drawn_width = len(line)
        else:
            self.stream.write(self.text() + "\n")
        self.stream.flush()

    def _bar(self) -> str:
        if not self.total:
            return ""
        filled = int(_BAR_WIDTH * min(self.done, self.total) / self.total)
        return "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "]"


def _duration(seconds: float) -> str:
    """12.3 s, 4 min 05 s, 2 h 03 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
