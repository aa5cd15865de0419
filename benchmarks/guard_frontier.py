"""The do-no-harm guard's trade-off: the soft set's means against the hard-edge targets, per rule.

Issue 11's soft-set targets (alphamatting_dev, tracker masks: mean SAD <= 0.50x the mask's,
Grad <= 0.18x) are met by the engine without its guard, and every guard rule that gives the
engine's hair back has so far cost a hard-edge target (DAVIS solid interiors, dense meshes,
sharp polygons) or the car over its shadow. This benchmark puts each candidate rule on that
frontier from one set of engine runs: every development item is matted once with the guard
off (cached under out/benchmarks, keyed by the matting code's hash), then each rule turns the
cached alphas into guarded ones, scored with `matting_quality`'s targets. A new kind of
evidence (the tracker's logits, say) is tried by adding a rule here.

Before scoring, the shipped rule on the cached alphas is checked against the engine run with
its guard (one item per set and mask): the rules are only comparable if that holds.

    python -m benchmarks.guard_frontier                  # every rule (~3 min + ~40 s a rule)
    python -m benchmarks.guard_frontier --rules "shipped,guard 0"

Writes out/benchmarks/guard_frontier.json and guard_frontier.png (each rule's soft-set mean
against the hard targets' worst figures).
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from benchmarks import matting_quality as mq
from benchmarks.common import OUT_DIR, write_result
from sam2matting.backend.matting import evaluation
from sam2matting.backend.matting.band import edge_distances
from sam2matting.backend.matting.edge_fit import edge_fit, looseness
from sam2matting.backend.matting.evidence import EvidenceParams, soft_texture
from sam2matting.backend.matting.guard import GuardParams, guard
from sam2matting.backend.matting.standalone import ImageMatter

Rule = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (rgb, mask, alpha) -> alpha
SHIPPED = GuardParams()
NEAR_EDGE = 2.5  # px: within a tracker's edge error (the rules "near the edge")


def _shipped(rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return guard(rgb, mask, alpha, SHIPPED).alpha


def _ambiguity0(rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return guard(rgb, mask, alpha, replace(SHIPPED, ambiguity=0.0)).alpha


def _strength(s: float) -> Rule:
    """The engines' `guard` option at s, applied by the engine's own code (`_guarded`)."""
    engine = mq.engine(f"guard{s}", 1)

    def rule(rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        out = engine._guarded(
            torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1),
            torch.from_numpy(np.ascontiguousarray(mask, np.float32)),
            torch.from_numpy(np.ascontiguousarray(alpha, np.float32)),
        )
        return np.asarray(out.numpy(), np.float32)

    return rule


def _regions(rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray) -> Dict[str, np.ndarray]:
    """Where the rules relax the guard: soft-textured alpha (strands, the hold's measure at the
    guard's energy), near the mask's edge, the mask's inside, and a loose edge fit (the guard's
    `soft_fit` ratio: the image's edge beside the mask's rather than on it)."""
    import cv2

    m = (mask > 0.5).astype(np.float32)
    d_in, d_out = edge_distances(m)
    colours = cv2.GaussianBlur(np.ascontiguousarray(rgb, np.float32), (0, 0), SHIPPED.denoise)
    fit = edge_fit(colours, d_in, d_out, SHIPPED.fit_sigma or 15.0)
    soft = soft_texture(alpha, EvidenceParams(soft_energy=SHIPPED.soft_energy or 0.05))
    return {
        "soft": soft,
        "near": np.where(m > 0.5, d_in, d_out) <= NEAR_EDGE,
        "inside": m > 0.5,
        "loose": looseness(fit, SHIPPED.soft_fit) >= 0.5,
    }


def _relaxed(*steps: Tuple[Tuple[str, ...], str]) -> Rule:
    """The shipped guard, but in each step's region (every named region at once) the engine's
    alpha unguarded ("off") or guarded with no ambiguity rule ("ambiguity 0"); later steps win."""

    def rule(rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        regions = _regions(rgb, mask, alpha)
        out = _shipped(rgb, mask, alpha)
        relaxed = {"off": alpha}
        if any(how == "ambiguity 0" for _, how in steps):  # one guard run for every step
            relaxed["ambiguity 0"] = _ambiguity0(rgb, mask, alpha)
        for names, how in steps:
            where = np.logical_and.reduce([regions[n] for n in names])
            out = np.where(where, relaxed[how], out)
        return out

    return rule


RULES: Dict[str, Rule] = {
    "shipped": _shipped,
    "guard 0": _strength(0.0),
    "guard 0.5": _strength(0.5),
    "guard 0.75": _strength(0.75),
    "guard 2": _strength(2.0),
    "soft: off": _relaxed((("soft",), "off")),
    "soft & near: off": _relaxed((("soft", "near"), "off")),
    "soft & near: ambiguity 0": _relaxed((("soft", "near"), "ambiguity 0")),
    "soft & near & inside: ambiguity 0": _relaxed((("soft", "near", "inside"), "ambiguity 0")),
    "soft & loose: off": _relaxed((("soft", "loose"), "off")),
    "soft & loose: ambiguity 0": _relaxed((("soft", "loose"), "ambiguity 0")),
    "soft & (near | loose): ambiguity 0; soft & loose & near: off": _relaxed(
        (("soft", "near"), "ambiguity 0"),
        (("soft", "loose"), "ambiguity 0"),
        (("soft", "loose", "near"), "off"),
    ),
}


def code_hash() -> str:
    """The matting code's hash: a cache of unguarded alphas is only valid for the same code."""
    digest = hashlib.sha256()
    root = mq.REPO / "backend" / "matting"
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def unguarded(threads: int, every: int, cache: Path) -> Dict[str, List[np.ndarray]]:
    """Per "set/mask", the engine's unguarded alphas of each item, in `evaluate`'s order."""
    key = f"{code_hash()}-{every}"
    if cache.exists():
        with np.load(cache) as stored:
            if str(stored["key"]) == key:
                return _unpack(stored)
    alphas: Dict[str, List[np.ndarray]] = {}
    for set_name, masks in mq.SET_MASKS.items():
        for mask_mode in masks:
            alphas[f"{set_name}/{mask_mode}"] = _matte_all(set_name, mask_mode, threads, every)
            print(f"engine, guard off: {set_name}/{mask_mode}", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    flat = {f"{k}#{i}": a for k, v in alphas.items() for i, a in enumerate(v)}
    save: Any = np.savez_compressed  # (numpy's stub types **arrays as its keyword options)
    save(cache, key=np.array(key), **flat)
    return alphas


def _matte_all(set_name: str, mask_mode: str, threads: int, every: int) -> List[np.ndarray]:
    matter = ImageMatter(mq.engine("fine", threads), torch.device("cpu"))
    out: List[np.ndarray] = []

    def keep(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out.append(np.asarray(matter(rgb, mask), np.float32))
        return out[-1]

    for _ in evaluation.evaluate(mq.items_for(set_name, every), keep, mask_mode=mask_mode):
        pass
    return out


def _unpack(stored: Any) -> Dict[str, List[np.ndarray]]:
    alphas: Dict[str, Dict[int, np.ndarray]] = {}
    for name in stored.files:
        if name != "key":
            group, index = name.rsplit("#", 1)
            alphas.setdefault(group, {})[int(index)] = stored[name]
    return {k: [v[i] for i in sorted(v)] for k, v in alphas.items()}


def score(rule: Rule, name: str, alphas: Dict[str, List[np.ndarray]], every: int) -> List[mq.Run]:
    runs = []
    for group, cached in alphas.items():
        set_name, mask_mode = group.split("/")
        report = evaluation.EvalReport(engine=name, region="image", seed=0)
        for result, _ in evaluation.evaluate(
            mq.items_for(set_name, every), _replay(rule, cached), mask_mode=mask_mode
        ):
            report.results.append(result)
        runs.append(mq.Run(set_name, mask_mode, name, report, []))
    return runs


def _replay(rule: Rule, cached: List[np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The rule as an engine: each call takes the next cached alpha (`evaluate`'s order)."""
    it = iter(cached)
    return lambda rgb, mask: rule(rgb, mask, next(it))


def check_cache(alphas: Dict[str, List[np.ndarray]], threads: int, every: int) -> float:
    """Largest |difference| between the shipped rule on cached alphas and the engine run with
    its guard, on the first item of each set and mask."""
    worst = 0.0
    for group, cached in alphas.items():
        set_name, mask_mode = group.split("/")
        matter = ImageMatter(mq.engine("default", threads), torch.device("cpu"))
        first = mq.items_for(set_name, every)[:1]
        for _, arrays in evaluation.evaluate(first, matter, mask_mode=mask_mode):
            ours = _shipped(arrays.rgb, arrays.mask, cached[0])
            worst = max(worst, float(np.abs(ours - arrays.alpha).max()))
    return worst


def figures(runs: List[mq.Run]) -> Dict[str, float]:
    """The figures the frontier plots (and the targets' pass/fail)."""
    by = {f"{r.set_name}/{r.mask}": r.report for r in runs}
    out = {}
    soft = by["alphamatting/tracker"].ratios()
    out["soft mean SAD"], out["soft mean Grad"] = soft["sad"], soft["grad"]
    davis = by["davis/exact"].summary()
    out["DAVIS exact J min"] = davis["min_j_ratio"]
    out["DAVIS exact solid min"] = davis["min_interior"]
    out["DAVIS exact tiles"] = davis["tile_artifacts"]
    worst = [by[k].summary()["worst_sad_ratio"] for k in by if not k.startswith("davis")]
    out["worst SAD, other sets"] = max(worst)
    out["DAVIS tracker worst SAD"] = by["davis/tracker"].summary()["worst_sad_ratio"]
    return out


def hard_targets_met(f: Dict[str, float]) -> bool:
    return (
        f["DAVIS exact J min"] >= 0.97
        and f["DAVIS exact solid min"] >= 0.99
        and f["DAVIS exact tiles"] == 0
        and f["worst SAD, other sets"] <= 1.0
    )


def plot(rows: Dict[str, Dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("DAVIS exact solid min", 0.99, "solid interior, worst DAVIS frame (exact mask)"),
        ("worst SAD, other sets", 1.0, "worst SAD ratio: soft, dense, hard sets"),
        ("DAVIS tracker worst SAD", 1.0, "worst DAVIS frame, tracker mask (not a target)"),
    )
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(21, 5.5))
    for ax, (key, line, title) in zip(axes, panels):
        for number, f in enumerate(rows.values(), 1):
            colour = "tab:green" if hard_targets_met(f) else "tab:red"
            ax.scatter(f["soft mean SAD"], f[key], c=colour)
            ax.annotate(
                str(number),
                (f["soft mean SAD"], f[key]),
                fontsize=8,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.axhline(line, ls="--", c="grey")
        ax.axvline(0.50, ls="--", c="grey")
        ax.set_xlabel("soft set: mean SAD ratio to the mask (target <= 0.50)")
        ax.set_title(title, fontsize=10)
    key_text = "\n".join(f"{n}  {name}" for n, name in enumerate(rows, 1))
    axes[-1].axis("off")
    axes[-1].text(0.0, 1.0, key_text, va="top", fontsize=8, family="monospace", wrap=True)
    fig.suptitle("Guard rules: green meets every hard-edge target, red misses one")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rules", default=",".join(RULES), help="comma-separated names of RULES")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--every", type=int, default=5, help="every N-th DAVIS frame (default 5)")
    p.add_argument("--cache", type=Path, default=OUT_DIR / "guard_frontier_alphas.npz")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.rules.split(",") if n.strip()]
    unknown = [n for n in names if n not in RULES]
    if unknown:
        p.error(f"unknown rules {unknown}; known: {', '.join(RULES)}")
    alphas = unguarded(args.threads, args.every, args.cache)
    drift = check_cache(alphas, args.threads, args.every)
    print(f"shipped rule on cached alphas vs the engine with its guard: max |diff| {drift:.2g}")
    rows = {}
    for name in names:
        rows[name] = figures(score(RULES[name], name, alphas, args.every))
        f = rows[name]
        print(
            f"{name:<58} soft {f['soft mean SAD']:.3f} / {f['soft mean Grad']:.3f} | DAVIS exact"
            f" J {f['DAVIS exact J min']:.3f} solid {f['DAVIS exact solid min']:.3f} tiles"
            f" {f['DAVIS exact tiles']:.0f} | other sets worst {f['worst SAD, other sets']:.3f}"
            f" | DAVIS tracker worst {f['DAVIS tracker worst SAD']:.3f}"
            f" | hard targets {'met' if hard_targets_met(f) else 'MISSED'}",
            flush=True,
        )
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    plot(rows, OUT_DIR / "guard_frontier.png")
    write_result("guard_frontier", {"cache_check_max_diff": drift, "rules": rows}, OUT_DIR)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
