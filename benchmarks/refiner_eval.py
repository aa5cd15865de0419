"""Score the learned refiner against the binary mask and the weight-free (closed-form) engine.

    .venv/bin/python benchmarks/refiner_eval.py images --weights backend/matting/refiner/weights
    .venv/bin/python benchmarks/refiner_eval.py sequence --weights ... --frames 100

images: alphamatting_dev (GT01-GT13) with the matting evaluation's mask protocol
(`evaluation.simulate_mask`, seeded per image name, as `sam2matting eval` draws it). Reports SAD
and Grad (`metrics.py`, /1000, whole image) per image and their means relative to the binary
mask's. Nothing here feeds back into training.

sequence: the synthetic moving-hair shot (`make_sequence`, procedural textures), tracker-like
jittered masks; reports dtSSD (temporal coherence) and mean SAD per frame.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable, Dict, List

import cv2
import numpy as np
import torch

from sam2matting.backend.matting import metrics
from sam2matting.backend.matting.base import MattingInput
from sam2matting.backend.matting.evaluation import mask_rng, simulate_mask
from sam2matting.backend.matting.refiner import weights
from sam2matting.backend.matting.refiner.engine import RefinerEngine, RefinerSolver

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting_dev"
Engine = Callable[[np.ndarray, np.ndarray], np.ndarray]


def protocol_masks(names: List[str], gts: List[np.ndarray], seed: int = 0) -> List[np.ndarray]:
    """The matting evaluation's one seeded mask protocol (`evaluation.simulate_mask`)."""
    # keyed by file stem, as `sam2matting eval` keys its items
    return [simulate_mask(gt, mask_rng(seed, Path(n).stem))[0] for n, gt in zip(names, gts)]


def make_engines(weights_dir: Path, threads: int) -> Dict[str, Engine]:
    torch.set_num_threads(threads)
    from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine

    refiner = RefinerEngine(RefinerSolver("cpu", model=weights.load(weights_dir)))
    closed = ClosedFormEngine()

    def run(engine: object) -> Engine:
        def go(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
            inp = MattingInput(
                rgb=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
                mask=torch.from_numpy(mask),
            )
            return engine.run(inp).numpy()  # type: ignore[attr-defined,no-any-return]

        return go

    return {"mask": lambda rgb, mask: mask, "closed_form": run(closed), "refiner": run(refiner)}


def images(args: argparse.Namespace) -> Dict[str, object]:
    names = sorted(p.name for p in (DATA / "gt").glob("GT*.png"))
    rgbs = [cv2.imread(str(DATA / "input" / n))[..., ::-1].astype(np.float32) / 255 for n in names]
    gts = [
        cv2.imread(str(DATA / "gt" / n), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        for n in names
    ]
    masks = protocol_masks(names, gts, args.seed)
    fns = {"sad": metrics.sad, "grad": metrics.grad}
    engines = make_engines(args.weights, args.threads)
    rows: Dict[str, Dict[str, Dict[str, float]]] = {}
    for name, rgb, gt, mask in zip(names, rgbs, gts, masks):
        rows[name] = {}
        for key, engine in engines.items():
            start = time.perf_counter()
            alpha = engine(rgb, mask)
            rows[name][key] = {
                "sad": fns["sad"](alpha, gt),
                "grad": fns["grad"](alpha, gt),
                "seconds": time.perf_counter() - start,
            }
        print(
            name,
            json.dumps({k: {m: round(v, 3) for m, v in r.items()} for k, r in rows[name].items()}),
            flush=True,
        )
    summary: Dict[str, object] = {"metrics": "metrics.py", "masks": "evaluation.simulate_mask"}
    for metric in ("sad", "grad"):
        means = {k: float(np.mean([rows[n][k][metric] for n in names])) for k in engines}
        summary[f"mean_{metric}"] = means
        summary[f"{metric}_vs_mask"] = {k: means[k] / means["mask"] for k in engines}
    summary["refiner_beats_closed_form_sad"] = int(
        sum(rows[n]["refiner"]["sad"] < rows[n]["closed_form"]["sad"] for n in names)
    )
    return {"per_image": rows, "summary": summary}


def sequence(args: argparse.Namespace) -> Dict[str, object]:
    from sam2matting.backend.matting.synthetic.sequence import make_sequence

    engines = make_engines(args.weights, args.threads)
    out: Dict[str, List[np.ndarray]] = {k: [] for k in engines}
    truths = []
    for frame in make_sequence(
        np.random.default_rng(args.seed), args.frames, (args.height, args.width)
    ):
        truths.append(frame.alpha)
        for key, engine in engines.items():
            out[key].append(engine(frame.image, frame.mask))
    return {
        k: {
            "dtssd": metrics.dtssd(v, truths),
            "sad_per_frame": float(np.mean([metrics.sad(a, g) for a, g in zip(v, truths)])),
        }
        for k, v in out.items()
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["images", "sequence"])
    p.add_argument("--weights", type=Path, default=weights.WEIGHTS_DIR)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    result = images(args) if args.what == "images" else sequence(args)
    text = json.dumps(result, indent=1)
    print(text if args.what == "sequence" else json.dumps(result["summary"], indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
