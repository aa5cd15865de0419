"""`sam2matting eval FOLDER`: score a matting engine on images with ground-truth alpha.

FOLDER holds an image folder (input/, image/, ...) and a ground-truth folder (gt/, alpha/, ...)
with files of matching names (the alphamatting.com and Composition-1k layouts). Each image's
tracker mask is simulated from its ground truth (docs/MATTING.md). Writes, under --out:
results.csv (one row per image), results.json (rows, means, ratios to the binary mask) and
contact_sheet.png (image, mask, alpha, signed error); prints the table. With --sequence the
images are one clip in frame order (one mask draw for the clip) and dtSSD is reported too.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from sam2matting.backend.cli import exit_codes

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="dataset folder (input/ + gt/ or similar)")
    parser.add_argument("--engine", default="auto", help="engine to score (default: auto)")
    parser.add_argument("-o", "--out", type=Path, default=Path("out/eval"),
                        help="folder for results.csv, results.json, contact_sheet.png")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated masks")
    parser.add_argument("--limit", type=int, default=None, help="score the first N images only")
    parser.add_argument("--max-side", type=int, default=None,
                        help="downscale images (and ground truth) to this long side first")
    parser.add_argument("--region", choices=("image", "trimap"), default="image",
                        help="score the whole image (default) or the trimap's unknown region")
    parser.add_argument("--sequence", action="store_true",
                        help="the images are one clip in frame order: also report dtSSD")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: config)")


def run(args: argparse.Namespace) -> int:
    from sam2matting.protocol.errors import ProtocolError

    try:
        return _run(args)
    except ProtocolError as exc:
        print(f"error: {exc.message}\n  {exc.hint}", file=sys.stderr)
        setup = exc.code.value in ("model_unavailable", "checkpoint_invalid")
        return exit_codes.SETUP if setup else exit_codes.FAILURE
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_codes.FAILURE


def _run(args: argparse.Namespace) -> int:
    from sam2matting.backend.config import BackendConfig
    from sam2matting.backend.device import resolve_device
    from sam2matting.backend.matting import contact_sheet, evaluation
    from sam2matting.backend.matting.standalone import load_matter

    items = evaluation.find_items(args.folder)
    if args.sequence:
        items = sorted(items, key=lambda it: _frame_number(it.name))
    items = items[: args.limit] if args.limit else items
    config = BackendConfig.load()
    matter = load_matter(args.engine, config, resolve_device(args.device or config.device))
    report = evaluation.EvalReport(engine=matter.name, region=args.region, seed=args.seed)
    rows: List[np.ndarray] = []
    temporal = Temporal()
    clip = args.folder.resolve().name if args.sequence else None
    for result, arrays in evaluation.evaluate(items, matter, args.seed, args.region,
                                              args.max_side, clip):
        report.results.append(result)
        rows.append(contact_sheet.render_row(arrays, result))
        temporal.add(arrays)
    summary = report.to_dict()
    if args.sequence:
        summary["dtssd"] = {"engine": temporal.mean("alpha"), "mask": temporal.mean("mask")}
    args.out.mkdir(parents=True, exist_ok=True)
    write_outputs(args.out, summary, rows)
    print(evaluation.format_table(report))
    if args.sequence:
        print(f"dtSSD x100: engine {temporal.mean('alpha'):.3f}  mask {temporal.mean('mask'):.3f}")
    print(f"wrote {args.out / 'results.csv'}, results.json and contact_sheet.png")
    return exit_codes.OK


class Temporal:
    """dtSSD of consecutive frames, accumulated as frames arrive (keeps one frame)."""

    def __init__(self) -> None:
        self.prev: Optional[Any] = None
        self.values: Dict[str, List[float]] = {"alpha": [], "mask": []}

    def add(self, frame: Any) -> None:
        from sam2matting.backend.matting import metrics

        prev, self.prev = self.prev, frame
        if prev is None or prev.gt.shape != frame.gt.shape:
            return
        for key, values in self.values.items():
            values.append(metrics.dtssd([getattr(prev, key), getattr(frame, key)],
                                        [prev.gt, frame.gt]))

    def mean(self, key: str) -> float:
        values = self.values[key]
        return float(np.mean(values)) if values else float("nan")


def _frame_number(name: str) -> int:
    digits = re.findall(r"\d+", name)
    return int(digits[-1]) if digits else 0


def write_outputs(out: Path, summary: Dict[str, Any], rows: Sequence[np.ndarray]) -> None:
    """results.csv, results.json and contact_sheet.png under `out`, each written atomically."""
    from sam2matting.backend.matting import contact_sheet
    from sam2matting.backend.matting.evaluation import METRICS
    from sam2matting.protocol.atomic import atomic_write_bytes

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["image", "width", "height", "mask_op", "seconds", "seconds_per_mp",
                     *METRICS, *[f"mask_{m}" for m in METRICS]])
    for r in summary["images"]:
        writer.writerow([r["name"], r["width"], r["height"], r["mask_op"],
                         f"{r['seconds']:.4f}", f"{r['seconds_per_mp']:.4f}",
                         *[f"{r['engine'][m]:.6f}" for m in METRICS],
                         *[f"{r['mask'][m]:.6f}" for m in METRICS]])
    atomic_write_bytes(out / "results.csv", text.getvalue().encode("utf-8"))
    blob = json.dumps(summary, indent=2, sort_keys=True)
    atomic_write_bytes(out / "results.json", blob.encode("utf-8"))
    if rows:
        contact_sheet.write_png(out / "contact_sheet.png", contact_sheet.compose(rows))
