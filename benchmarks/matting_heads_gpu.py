"""On a GPU: what do the SAM2Matting heads + native stage add to the tracker's time per frame?

Target (issue "Matting engine"): at most +20% at 1080p and +40% at 2160p. Runs the real SAM2.1
streaming session (random weights: the same FLOPs as real ones) over a synthetic shot, times each
propagated frame, then times matting that frame: the heads on the session's own features (bf16
autocast), the resize to plate size, the band and the native stage (guided filter). Random heads
give a meaningless alpha, so the native stage is fed the alpha trained heads would give there (the
shot's true alpha seen through the 512x512 grid), which sets a realistic band.

    python benchmarks/matting_heads_gpu.py --frames 40 --out out/bench/matting_heads_gpu.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.device import autocast
from sam2matting.backend.matting.guided import GuidedFilterSolver
from sam2matting.backend.matting.heads.engine import (
    FRACTIONAL,
    MARGIN,
    MAX_WIDTH,
    HeadsEngine,
    band_trimap,
)
from sam2matting.backend.matting.heads.model import SAM2MattingHeads
from sam2matting.backend.model_files import SAM2_TRACKERS
from sam2matting.backend.tracking.base import Prompt
from sam2matting.backend.tracking.sam2_model import SAM2Tracker, build_sam2_video_model

SIZES = {"1080p": (1080, 1920), "2160p": (2160, 3840)}


class Shot:
    """A FrameSource of a few pre-rendered frames (a disc moving over texture), cycled."""

    def __init__(self, height: int, width: int, count: int, distinct: int = 8) -> None:
        self._count = count
        self._size = (width, height)
        rng = np.random.default_rng(0)
        low = torch.from_numpy(rng.random((1, 3, 9, 16)).astype(np.float32))
        texture = F.interpolate(low, size=(height, width), mode="bicubic")[0].clamp(0, 1)
        self.frames, self.alphas = [], []
        yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        for i in range(distinct):
            cx, cy, r = width * (0.3 + 0.03 * i), height * 0.5, height * 0.25
            alpha = (r - torch.hypot(xx + 0.5 - cx, yy + 0.5 - cy) + 0.5).clamp(0, 1).float()
            fg = torch.tensor([0.9, 0.6, 0.2])[:, None, None]
            self.frames.append(alpha * fg + (1 - alpha) * texture * 0.5)
            self.alphas.append(alpha)

    @property
    def num_frames(self) -> int:
        return self._count

    @property
    def size(self) -> Tuple[int, int]:
        return self._size

    def rgb(self, index: int) -> torch.Tensor:
        return self.frames[index % len(self.frames)]


def synced(fn: Any) -> Tuple[Any, float]:
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return out, time.perf_counter() - start


def heads_alpha(engine: HeadsEngine, tracked: Any, size: Tuple[int, int]) -> torch.Tensor:
    """The heads on the tracked frame's own features, resized to the plate (as the engine does)."""
    feats = tracked.features
    with torch.inference_mode(), autocast(feats.image.device):
        mask = (tracked.logits[1] > 0).float()[None, None]
        out = engine.heads(feats.fpn, mask, feats.image)
    return F.interpolate(out.alpha.float(), size=size, mode="bilinear")[0, 0]


def run_size(model: Any, height: int, width: int, frames: int, warmup: int) -> Dict[str, float]:
    device = torch.device("cuda")
    shot = Shot(height, width, frames)
    session = SAM2Tracker(model, "sam2.1-tiny").open_session(shot)
    w, h = shot.size
    session.add_prompt(0, 1, Prompt(box=(0.2 * w, 0.2 * h, 0.6 * w, 0.8 * h)))
    engine = HeadsEngine(SAM2MattingHeads().to(device).eval(), GuidedFilterSolver())
    native = engine.native
    assert native is not None
    plates = [f.to(device) for f in shot.frames]
    soft = [
        F.interpolate(
            F.interpolate(a[None, None].to(device), size=(512, 512), mode="area"),
            size=(height, width),
            mode="bilinear",
        )[0, 0]
        for a in shot.alphas
    ]
    times: Dict[str, List[float]] = {"tracker": [], "heads": [], "native": [], "upload": []}
    run = iter(session.propagate(0, frames - 1))
    for i in range(frames):
        tracked, t_track = synced(partial(next, run))
        _, t_heads = synced(partial(heads_alpha, engine, tracked, (height, width)))
        coarse = soft[i % len(soft)]
        trimap = band_trimap(coarse, FRACTIONAL, MARGIN, MAX_WIDTH)
        _, t_native = synced(partial(native.refine, plates[i % len(plates)], coarse, trimap))
        _, t_upload = synced(partial(shot.rgb(i).to, device))
        if i >= warmup:
            for key, value in zip(times, (t_track, t_heads, t_native, t_upload)):
                times[key].append(value)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    med["tiles"] = float(native.last_tile_count)
    med["matting_ms"] = med["heads"] + med["native"]
    med["overhead"] = med["matting_ms"] / med["tracker"]
    med["overhead_with_upload"] = (med["matting_ms"] + med["upload"]) / med["tracker"]
    return med


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--warmup", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path("out/bench/matting_heads_gpu.json"))
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("needs CUDA")
        return 1
    torch.manual_seed(0)
    model = build_sam2_video_model(
        SAM2_TRACKERS["sam2.1-tiny"].config or "", None, torch.device("cuda")
    )
    results: Dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "sizes": {},
    }
    limits = {"1080p": 0.20, "2160p": 0.40}
    print(
        f"{'size':<6} {'tracker':>8} {'heads':>7} {'native':>7} {'upload':>7} {'+%':>6} "
        f"{'target':>7}"
    )
    for name, (h, w) in SIZES.items():
        r = run_size(model, h, w, args.frames, args.warmup)
        r["target_met"] = r["overhead"] <= limits[name]
        results["sizes"][name] = r
        print(
            f"{name:<6} {r['tracker']:8.2f} {r['heads']:7.2f} {r['native']:7.2f} "
            f"{r['upload']:7.2f} {100 * r['overhead']:6.1f} {100 * limits[name]:6.0f}%"
        )
    print(json.dumps({k: v for k, v in results.items() if k != "sizes"}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
