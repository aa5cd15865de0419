"""The progress bar: rate, time left, quiet periodic lines off a terminal, redraws on one."""

from __future__ import annotations

import io

from sam2matting.backend.render.progress import ProgressBar


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_writes_a_line_per_period_and_a_final_one():
    clock, out = FakeClock(), io.StringIO()
    bar = ProgressBar(10, "tracking", stream=out, period_s=10.0, clock=clock)
    for _ in range(10):
        clock.now += 2.0  # 0.5 frames/s
        bar.update()
    bar.close()
    bar.close()  # the final line is written once
    lines = out.getvalue().splitlines()
    # the first update draws at once, then one line per 10 s (5 frames), then the final line
    assert len(lines) == 3
    assert lines[0].startswith("tracking: 1/10 frames, 0.50 frames/s, 18.0 s left")
    assert lines[1].startswith("tracking: 6/10 frames, 0.50 frames/s, 8.0 s left")
    assert lines[-1] == "tracking: 10/10 frames, 0.50 frames/s, 20.0 s elapsed"
    assert "\r" not in out.getvalue()


def test_terminal_redraws_in_place_with_a_bar_and_note():
    clock, out = FakeClock(), Terminal()
    with ProgressBar(4, "matting", stream=out, clock=clock) as bar:
        for i in range(4):
            clock.now += 0.5
            bar.update(note=f"{i + 1} written")
    text = out.getvalue()
    assert text.count("\r") == 5
    assert text.endswith("\n")
    final = text.split("\r")[-1]
    assert final.startswith("[########################] matting: 4/4 frames, 2.00 frames/s")
    assert final.rstrip().endswith("4 written")


def test_unknown_total_and_long_durations():
    clock, out = FakeClock(), io.StringIO()
    bar = ProgressBar(0, "sending", unit="files", stream=out, clock=clock)
    clock.now += 3725.0
    bar.update(3)
    bar.close()
    assert out.getvalue().splitlines()[-1] == ("sending: 3 files, 0.00 files/s, 1 h 02 min elapsed")
    assert bar.rate() == 3 / 3725.0
