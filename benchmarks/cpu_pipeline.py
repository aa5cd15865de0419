"""Benchmark 5: the weight-free CPU path (flow tracker + closed-form engine), frames/s.

    .venv/bin/python -m benchmarks.cpu_pipeline [--frames 8] [--sizes 854x480,1920x1080]

The demo's generated shot (strands, motion blur, a semi-transparent part) at each size: the
first frame's true mask is the prompt, then the tracker propagates and the engine mattes every
frame. Frame generation is not timed; tracker and engine time are reported separately. Torch
and OpenCV use the machine's cores (2 in CI): run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Dict, List, Tuple

import numpy as np
import torch

from benchmarks.common import OUT_DIR, print_table, write_result
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting.base import MattingInput
from sam2matting.backend.matting.registry import load_engine
from sam2matting.backend.matting.synthetic.sequence import make_sequence
from sam2matting.backend.tracking.base import Prompt
from sam2matting.backend.tracking.registry import load_tracker


class Frames:
    """A FrameSource over frames made beforehand (so generation stays out of the timing)."""

    def __init__(self, images: List[np.ndarray]) -> None:
        self.images = images

    @property
    def num_frames(self) -> int:
        return len(self.images)

    @property
    def size(self) -> Tuple[int, int]:
        h, w = self.images[0].shape[:2]
        return w, h

    def rgb(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.images[index]).permute(2, 0, 1).contiguous()


def run(width: int, height: int, n: int) -> Dict[str, Any]:
    frames = list(make_sequence(np.random.default_rng(3), n, (height, width)))
    source = Frames([f.image for f in frames])
    config = BackendConfig(device="cpu")
    tracker = load_tracker("flow", config, "cpu").open_session(source)
    engine = load_engine("closed_form", config, torch.device("cpu"))
    tracker.add_prompt(0, 1, Prompt(mask=frames[0].alpha > 0.5))
    track_s, matte_s, sad = [], [], []
    steps = tracker.propagate(0, n - 1)
    for i in range(n):
        t0 = time.perf_counter()
        tracked = next(steps)
        t1 = time.perf_counter()
        mask = tracked.mask(1, source.size)
        alpha = engine.run(MattingInput(source.rgb(i), mask, tracked.logits[1], None))
        t2 = time.perf_counter()
        track_s.append(t1 - t0)
        matte_s.append(t2 - t1)
        sad.append(float(np.abs(alpha.numpy() - frames[i].alpha).sum() / 1000))
    # frame 0 is the prompted frame (no flow): leave it out of the per-frame figures
    track, matte = statistics.median(track_s[1:]), statistics.median(matte_s[1:])
    return {"size": f"{width}x{height}", "frames": n, "track_ms": track * 1e3,
            "matte_ms": matte * 1e3, "frames_per_s": 1.0 / (track + matte),
            "mean_sad": statistics.mean(sad)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--sizes", default="854x480,1920x1080")
    args = parser.parse_args()
    rows = []
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        rows.append(run(w, h, args.frames))
    print_table(["size", "track ms", "matte ms", "frames/s", "mean SAD"],
                [[r["size"], r["track_ms"], r["matte_ms"], r["frames_per_s"], r["mean_sad"]]
                 for r in rows])  # fmt: skip
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    print("wrote", write_result("cpu_pipeline", {"threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main()
