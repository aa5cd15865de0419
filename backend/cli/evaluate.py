"""`sam2matting eval FOLDER`: score a matting engine on images with ground-truth alpha.

FOLDER holds an image folder (input/, image/, ...) and a ground-truth folder (gt/, alpha/, ...)
with files of matching names (the alphamatting.com and Composition-1k layouts), or is a
DAVIS-style folder (JPEGImages/ + Annotations/, every clip); `--synthetic dense|hard` scores a
procedural development set instead. Each image's mask is made from its ground truth as --mask
says (default: a simulated tracker mask; docs/MATTING.md). Writes, under --out: results.csv
(one row per image), results.json (rows, means, ratios to the binary mask, worst cases) and
contact_sheet.png (the --worst images by SAD ratio: image, mask, alpha, signed error); prints
the table. With --sequence the images are one clip in frame order (one mask draw for the clip)
and dtSSD is reported too.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import io
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from sam2matting.backend.cli import exit_codes
from sam2matting.backend.cli.matte_image import add_guard_argument, guard_option

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "folder",
        type=Path,
        nargs="?",
        default=None,
        help="dataset folder (input/ + gt/ or similar, or a DAVIS layout)",
    )
    parser.add_argument(
        "--synthetic",
        choices=("dense", "hard"),
        default=None,
        help="score a procedural development set instead of a folder",
    )
    parser.add_argument(
        "--per-kind", type=int, default=2, help="images per kind of a --synthetic set (default 2)"
    )
    parser.add_argument(
        "--mask",
        default="tracker",
        help="mask given to the engine: tracker (simulated, default), exact, dilate:K or erode:K",
    )
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        help="score every N-th image (of each clip of a DAVIS folder)",
    )
    parser.add_argument(
        "--worst",
        type=int,
        default=8,
        help="images on the contact sheet: the worst by SAD ratio (default 8)",
    )
    parser.add_argument("--engine", default="auto", help="engine to score (default: auto)")
    add_guard_argument(parser)
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path("out/eval"),
        help="folder for results.csv, results.json, contact_sheet.png",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated masks")
    parser.add_argument("--limit", type=int, default=None, help="score the first N images only")
    parser.add_argument(
        "--max-side",
        type=int,
        default=None,
        help="downscale images (and ground truth) to this long side first",
    )
    parser.add_argument(
        "--region",
        choices=("image", "trimap"),
        default="image",
        help="score the whole image (default) or the trimap's unknown region",
    )
    parser.add_argument(
        "--sequence",
        action="store_true",
        help="the images are one clip in frame order: also report dtSSD",
    )
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
    from sam2matting.backend.matting import eval_table, evaluation
    from sam2matting.backend.matting.standalone import load_matter

    items = _items(args)
    config = BackendConfig.load()
    device = resolve_device(args.device or config.device)
    matter = load_matter(args.engine, config, device, guard_option(args))
    report = evaluation.EvalReport(engine=matter.name, region=args.region, seed=args.seed)
    sheet = WorstRows(args.worst)
    temporal = Temporal()
    clip = args.folder.resolve().name if args.sequence and args.folder else None
    for result, arrays in evaluation.evaluate(
        items, matter, args.seed, args.region, args.max_side, clip, args.mask
    ):
        report.results.append(result)
        sheet.add(result, arrays)
        temporal.add(arrays)
    summary = report.to_dict()
    summary["mask_mode"] = args.mask
    if args.sequence:
        summary["dtssd"] = {"engine": temporal.mean("alpha"), "mask": temporal.mean("mask")}
    args.out.mkdir(parents=True, exist_ok=True)
    write_outputs(args.out, summary, sheet.rows())
    print(eval_table.format_table(report))
    if args.sequence:
        print(f"dtSSD x100: engine {temporal.mean('alpha'):.3f}  mask {temporal.mean('mask'):.3f}")
    print(f"wrote {args.out / 'results.csv'}, results.json and contact_sheet.png")
    return exit_codes.OK


def _items(args: argparse.Namespace) -> List[Any]:
    from sam2matting.backend.matting import evaluation

    if (args.folder is None) == (args.synthetic is None):
        raise ValueError("give a dataset FOLDER or --synthetic dense|hard (one of the two)")
    if args.synthetic is not None:
        from sam2matting.backend.matting.synthetic.devset import scene_items

        items = scene_items(args.synthetic, args.per_kind)[:: max(1, args.every)]
    else:
        items = evaluation.find_items(args.folder, args.every)
    if args.sequence:
        items = sorted(items, key=lambda it: _frame_number(it.name))
    return items[: args.limit] if args.limit else items


class WorstRows:
    """Contact-sheet rows of the `keep` worst images (`ImageResult.badness`), worst first."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._heap: List[Tuple[float, int, np.ndarray]] = []
        self._seen = 0  # tie-breaker: arrays do not compare

    def add(self, result: Any, arrays: Any) -> None:
        from sam2matting.backend.matting import contact_sheet

        if self.keep <= 0:
            return
        key = result.badness()
        self._seen += 1
        entry = (key, self._seen, contact_sheet.render_row(arrays, result))
        if len(self._heap) < self.keep:
            heapq.heappush(self._heap, entry)
        elif key > self._heap[0][0]:
            heapq.heapreplace(self._heap, entry)

    def rows(self) -> List[np.ndarray]:
        return [row for _, _, row in sorted(self._heap, key=lambda e: -e[0])]


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
            values.append(
                metrics.dtssd([getattr(prev, key), getattr(frame, key)], [prev.gt, frame.gt])
            )

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
    hard = (
        "j",
        "j_mask",
        "interior",
        "edge_width",
        "edge_width_truth",
        "tile_artifacts",
        "tile_artifacts_truth",
    )
    writer.writerow(
        [
            "image",
            "width",
            "height",
            "mask_op",
            "seconds",
            "seconds_per_mp",
            *METRICS,
            *[f"mask_{m}" for m in METRICS],
            "sad_ratio",
            "grad_ratio",
            *hard,
        ]
    )
    for r in summary["images"]:
        ratios = [
            r["engine"][m] / r["mask"][m] if r["mask"][m] else float("nan") for m in ("sad", "grad")
        ]
        writer.writerow(
            [
                r["name"],
                r["width"],
                r["height"],
                r["mask_op"],
                f"{r['seconds']:.4f}",
                f"{r['seconds_per_mp']:.4f}",
                *[f"{r['engine'][m]:.6f}" for m in METRICS],
                *[f"{r['mask'][m]:.6f}" for m in METRICS],
                *[f"{x:.6f}" for x in ratios],
                *[f"{r['hard'].get(k, float('nan')):.6f}" for k in hard],
            ]
        )
    atomic_write_bytes(out / "results.csv", text.getvalue().encode("utf-8"))
    blob = json.dumps(summary, indent=2, sort_keys=True)
    atomic_write_bytes(out / "results.json", blob.encode("utf-8"))
    if rows:
        contact_sheet.write_png(out / "contact_sheet.png", contact_sheet.compose(rows))
