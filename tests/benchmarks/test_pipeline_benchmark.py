"""`python -m benchmarks.pipeline --short` runs every part end to end (CI's proof that the
benchmark works; no timing is asserted): the flow and SAM2 CPU parts, the competing load, and the
GPU part's code on the CPU at toy sizes, and the I/O part (inline puts, plate wait with and
without the prefetch, matte commit). Real parts: the server over loopback, EXR plates by
path, SAM2.1 tiny and SAM2Matting heads with random weights loaded from official-layout files."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

MODES = ("bare", "in_process", "full")


@pytest.mark.slow
def test_short_run_measures_every_part_and_writes_json_and_png(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.pipeline", "--short", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((tmp_path / "pipeline.json").read_text(encoding="utf-8"))["results"]
    rows = result["rows"]
    assert {r["part"] for r in rows} == {"flow", "sam2_cpu", "gpu"}
    assert {r["loaded"] for r in rows if r["part"] == "flow"} == {False, True}
    assert {r["engine"] for r in rows if r["part"] == "sam2_cpu"} == {
        "sam2matting-tiny",
        "closed_form",
    }
    for row in rows:
        for mode in MODES:
            assert math.isfinite(row[f"{mode}_fps"]), (mode, row)
            assert row[f"{mode}_fps"] > 0, (mode, row)
    for entry in result["summary"]:
        assert entry["full_over_bare"] > 0
        assert entry["full_over_in_process"] > 0
    assert result["latency"]["summary"]["n"] == 2
    assert [s["frame"] for s in result["memory"]["samples"]] == [2, 4]
    io = result["io"]["figures"]  # the I/O part: inline puts, plate wait, matte commit
    for key in ("put_frames_float32_ms", "put_frames_float16_ms"):
        assert io[key]["n"] == 3, key  # one per frame sent
    for mode in ("prefetch", "no_prefetch"):
        assert io[f"plate_wait_{mode}_ms"]["n"] == 2  # the frames after the prompted one
        assert io[f"matte_commit_{mode}_ms"]["n"] == 2  # the prompted frame keeps its matte
    for figures in io.values():
        assert 0 < figures["median"] <= figures["max"] < 60_000, figures
    assert "full/in-process" in run.stdout  # the ratios are printed
    png = (tmp_path / "pipeline.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 10_000
