"""Score the learned refiner against the binary mask and the weight-free (closed-form) engine.

    .venv/bin/python benchmarks/refiner_eval.py images --weights backend/matting/refiner/weights
    .venv/bin/python benchmarks/refiner_eval.py sequence --weights ... --frames 100

images: alphamatting_dev (GT01-GT13) with the matting issue's mask protocol: mask = gt > 0.5,
then dilated or eroded (coin flip) with a square kernel of half-size k in {1, 2, 3}, from one
seeded generator in file order. Reports SAD and Grad (/1000, whole image) per image and their
means relative to the binary mask's. Nothing here feeds back into training.

sequence: the synthetic moving-hair shot (`make_sequence`, procedural textures), tracker-like
jittered masks; reports dtSSD (temporal coherence) and mean SAD per frame.

The metrics come from `sam2matting.backend.matting.metrics` when that module exists; until it
does, the minimal definitions below are used (and the output says which).
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

from sam2matting.backend.matting.base import MattingInput
from sam2matting.backend.matting.refiner import weights
from sam2matting.backend.matting.refiner.engine import RefinerEngine, RefinerSolver

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting_dev"
Engine = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _gauss_grad(a: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    blurred = cv2.GaussianBlur(a.astype(np.float64), (0, 0), sigma)
    gx = cv2.Sobel(blurred, cv2.CV_64F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(blurred, cv2.CV_64F, 0, 1, ksize=3) / 8.0
    return np.sqrt(gx**2 + gy**2)


def metric_fns() -> Dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """SAD and Grad (both /1000): the project's metrics module if present, else fallbacks."""
    try:
        import importlib

        metrics = importlib.import_module("sam2matting.backend.matting.metrics")
    except ImportError:
        return {
            "sad": lambda a, gt: float(np.abs(a - gt).sum() / 1000.0),
            "grad": lambda a, gt: float(((_gauss_grad(a) - _gauss_grad(gt)) ** 2).sum() / 1000.0),
        }
    return {"sad": metrics.sad, "grad": metrics.grad}


def protocol_masks(gts: List[np.ndarray], seed: int = 0) -> List[np.ndarray]:
    """gt > 0.5, dilated or eroded by a square of half-size 1-3 (one generator, file order)."""
    rng = np.random.default_rng(seed)
    out = []
    for gt in gts:
        grow = rng.random() < 0.5
        k = int(rng.integers(1, 4))
        kernel = np.ones((2 * k + 1, 2 * k + 1), np.uint8)
        base = (gt > 0.5).astype(np.uint8)
        moved = cv2.dilate(base, kernel) if grow else cv2.erode(base, kernel)
        out.append(moved.astype(np.float32))
    return out


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
            return engine.matte(inp).numpy()  # type: ignore[attr-defined,no-any-return]

        return go

    return {"mask": lambda rgb, mask: mask, "closed_form": run(closed), "refiner": run(refiner)}


def images(args: argparse.Namespace) -> Dict[str, object]:
    names = sorted(p.name for p in (DATA / "gt").glob("GT*.png"))
    rgbs = [cv2.imread(str(DATA / "input" / n))[..., ::-1].astype(np.float32) / 255 for n in names]
    gts = [
        cv2.imread(str(DATA / "gt" / n), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        for n in names
    ]
    masks = protocol_masks(gts, args.seed)
    fns = metric_fns()
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
    fallback = fns["sad"].__name__ == "<lambda>"
    summary: Dict[str, object] = {"metrics": "fallback definitions" if fallback else "metrics.py"}
    for metric in ("sad", "grad"):
        means = {k: float(np.mean([rows[n][k][metric] for n in names])) for k in engines}
        summary[f"mean_{metric}"] = means
        summary[f"{metric}_vs_mask"] = {k: means[k] / means["mask"] for k in engines}
    summary["refiner_beats_closed_form_sad"] = int(
        sum(rows[n]["refiner"]["sad"] < rows[n]["closed_form"]["sad"] for n in names)
    )
    return {"per_image": rows, "summary": summary}


def dtssd(alphas: List[np.ndarray], truths: List[np.ndarray]) -> float:
    """Mean over frame pairs of sqrt(mean squared difference of temporal derivatives) x 100."""
    vals = []
    for t in range(1, len(alphas)):
        d = (alphas[t] - alphas[t - 1]) - (truths[t] - truths[t - 1])
        vals.append(float(np.sqrt(np.mean(d.astype(np.float64) ** 2))) * 100.0)
    return float(np.mean(vals))


def sequence(args: argparse.Namespace) -> Dict[str, object]:
    from sam2matting.backend.matting.synthetic.sequence import make_sequence

    engines = make_engines(args.weights, args.threads)
    fns = metric_fns()
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
            "dtssd": dtssd(v, truths),
            "sad_per_frame": float(np.mean([fns["sad"](a, g) for a, g in zip(v, truths)])),
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
