"""Engine quality, speed and memory on alphamatting_dev, as `sam2matting eval` measures them.

Targets (issue "Matting engine"), weight-free engine, masks simulated from ground truth:
mean SAD at most 0.55x the binary mask's, mean Grad at most 0.2x, at most 2 s per megapixel on
2 CPU cores, memory bounded. Prints the per-image table and writes JSON with machine info.

    python benchmarks/matting_quality.py --data ../shared/data/alphamatting_dev --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from sam2matting.backend.matting import evaluation
from sam2matting.backend.matting.closed_form import ClosedFormParams
from sam2matting.backend.matting.closed_form_engine import (
    ClosedFormEngine,
    ClosedFormEngineParams,
)
from sam2matting.backend.matting.standalone import ImageMatter

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting_dev"


class PeakMemory:
    """Samples this process's resident memory every 20 ms; `peak` in bytes."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def engine_for(threads: int) -> ClosedFormEngine:
    base = ClosedFormEngineParams()
    first = ClosedFormParams(**{**base.first.__dict__, "workers": threads})
    second = ClosedFormParams(**{**base.second.__dict__, "workers": threads})
    return ClosedFormEngine(ClosedFormEngineParams(first=first, second=second))


def machine() -> Dict[str, Any]:
    return {
        "python": platform.python_version(), "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(), "os": platform.platform(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("out/bench/matting_quality.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    engine = engine_for(args.threads)
    matter = ImageMatter(engine, torch.device("cpu"))
    rng = np.random.default_rng(0)  # warm-up: numba caches, thread pools
    matter(rng.random((64, 64, 3)).astype(np.float32), np.pad(np.ones((32, 32)), 16))
    report = evaluation.EvalReport(engine=engine.name, region="image", seed=args.seed)
    start = time.perf_counter()
    with PeakMemory() as memory:
        baseline = memory.peak  # after imports and warm-up: what the engine adds comes on top
        for row, _ in evaluation.evaluate(evaluation.find_items(args.data), matter, args.seed):
            report.results.append(row)
    wall = time.perf_counter() - start
    print(evaluation.format_table(report))
    ratios = report.ratios()
    targets = {"sad_ratio_le_0_55": ratios["sad"] <= 0.55,
               "grad_ratio_le_0_2": ratios["grad"] <= 0.2,
               "seconds_per_mp_le_2": report.seconds_per_mp() <= 2.0}
    summary = {**report.to_dict(), "targets": targets, "threads": args.threads,
               "peak_rss_bytes": memory.peak, "baseline_rss_bytes": baseline,
               "wall_seconds": wall, "machine": machine()}
    for name, met in targets.items():
        print(f"{name}: {'met' if met else 'NOT met'}")
    print(f"peak RSS {memory.peak / 2**20:.0f} MiB ({baseline / 2**20:.0f} MiB before the first "
          f"image); {json.dumps(summary['machine'])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
