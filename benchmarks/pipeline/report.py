"""Results of one benchmark run: saved after every measurement (a run cut short still leaves its
figures), summarised per configuration as medians over repetitions, plotted as one PNG."""

from __future__ import annotations

import math
import os
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from benchmarks.common import print_table, write_result

NAME = "pipeline"
MODES = ("bare", "session", "in_process", "full")


class Results:
    def __init__(self, out_dir: Path, settings: Dict[str, Any]) -> None:
        self.out_dir = out_dir
        self.settings = settings
        self.rows: List[Dict[str, Any]] = []  # one per configuration and repetition
        self.extra: Dict[str, Any] = {}  # latency, memory samples (GPU part)

    def add(self, row: Dict[str, Any]) -> None:
        self.rows.append(row)
        print(_row_line(row), flush=True)
        self.save()

    def put(self, key: str, value: Any) -> None:
        self.extra[key] = value
        self.save()

    def save(self, plot: bool = False) -> Path:
        payload = {
            "settings": self.settings,
            "threads": thread_settings(),
            "rows": self.rows,
            "summary": summarise(self.rows),
            **self.extra,
        }
        path = write_result(NAME, payload, self.out_dir)
        if plot:
            from benchmarks.pipeline.plot import plot

            plot(payload, self.out_dir / f"{NAME}.png")
        return path


def thread_settings() -> Dict[str, Any]:
    import cv2

    return {
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cv2_threads": cv2.getNumThreads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def _median(values: Sequence[float]) -> Optional[float]:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(clean) if clean else None


def summarise(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Per configuration (and load): median frames/s of each mode over the repetitions, and the
    median of the per-repetition ratios full/bare and full/in_process (paired: same moment)."""
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["config"], row.get("loaded", False)), []).append(row)
    out = []
    for (config, loaded), group in groups.items():
        entry: Dict[str, Any] = {"config": config, "loaded": loaded, "reps": len(group)}
        for mode in MODES:
            if f"{mode}_fps" in group[0]:
                entry[f"{mode}_fps"] = _median([r[f"{mode}_fps"] for r in group])
        for ref in ("bare", "in_process"):
            if f"{ref}_fps" in group[0]:
                entry[f"full_over_{ref}"] = _median(
                    [r["full_fps"] / r[f"{ref}_fps"] for r in group if r.get(f"{ref}_fps")]
                )
        entry["load"] = _median([r.get("load_before", math.nan) for r in group])
        out.append(entry)
    return out


def print_summary(results: Results) -> None:
    summary = summarise(results.rows)
    headers = [
        "configuration",
        "load",
        "1-min load",
        *[f"{m} f/s" for m in MODES],
        "full/bare",
        "full/in-process",
    ]
    table = [
        [
            s["config"],
            "busy core" if s["loaded"] else "-",
            s["load"],
            *[s.get(f"{m}_fps", "") for m in MODES],
            s.get("full_over_bare", ""),
            s.get("full_over_in_process", ""),
        ]
        for s in summary
    ]
    print()
    print_table(headers, [[_blank(v) for v in row] for row in table])
    for key in ("latency", "memory"):
        if key in results.extra:
            print(f"{key}: {results.extra[key].get('summary')}")


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _row_line(row: Dict[str, Any]) -> str:
    rates = ", ".join(f"{m} {row[f'{m}_fps']:.3g}" for m in MODES if f"{m}_fps" in row)
    load = " (busy core)" if row.get("loaded") else ""
    rep = row.get("rep", 0)
    return f"[rep {rep}] {row['config']}{load}: {rates} f/s, load {row['load_before']:.2f}"
