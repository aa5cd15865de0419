"""Flow tracker on the CPU: frames/s and peak RSS over a long synthetic 854x480 shot, and mean IoU
on the real DAVIS clips in ../shared/data/davis (when present).

    .venv/bin/python benchmarks/tracking_flow_cpu.py [--frames 1000] [--preset ultrafast]

The synthetic shot is a textured ellipse moving over a panning textured background, generated on
demand (nothing is preloaded), prompted once with its mask on frame 0. The frames/s figure covers
everything a propagate step does: getting the frame, the working-resolution copy, DIS flow, the warp
and the logits. IoU is computed at plate resolution against the annotations, frames 1..N-1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np
import psutil
import torch

from benchmarks.common import print_table, write_result
from sam2matting.backend.tracking.base import Prompt
from sam2matting.backend.tracking.flow import DIS_PRESETS, FlowSettings, FlowTracker
from tests.backend.tracking.conftest import DavisClip  # the tests' real-clip FrameSource

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DAVIS = Path(os.environ.get("SAM2MATTING_SHARED_DATA", SHARED))
CLIPS = ("car-shadow", "libby", "dance-twirl")


class PanningShot:
    """854x480 frames made on demand: a textured ellipse over a panning textured background."""

    RADII = (90, 60)

    def __init__(self, num_frames: int, width: int = 854, height: int = 480) -> None:
        rng = np.random.default_rng(0)
        self._background = _texture(rng, height, width + 2 * num_frames) * 0.6 + 0.2
        # the object's own texture, which moves with it
        rx, ry = self.RADII
        self._object = _texture(rng, 2 * ry, 2 * rx) * 0.4 + np.array([0.6, 0.45, 0.05], np.float32)
        self._num_frames, self._size = num_frames, (width, height)

    @property
    def num_frames(self) -> int:
        return self._num_frames

    @property
    def size(self) -> Tuple[int, int]:
        return self._size

    def _corner(self, index: int) -> Tuple[int, int]:
        """Top-left of the object's box: a smooth path, up to ~7 px a frame."""
        width, height = self._size
        rx, ry = self.RADII
        cx = width / 2 + 0.35 * width * np.sin(index / 40.0)
        cy = height / 2 + 0.2 * height * np.cos(index / 55.0)
        return round(cx) - rx, round(cy) - ry

    def _ellipse(self) -> np.ndarray:
        rx, ry = self.RADII
        out = np.zeros((2 * ry, 2 * rx), np.uint8)
        cv2.ellipse(out, (rx, ry), (rx - 1, ry - 1), 0, 0, 360, 1, -1)
        return out.astype(bool)

    def mask(self, index: int) -> np.ndarray:
        width, height = self._size
        x0, y0 = self._corner(index)
        out = np.zeros((height, width), bool)
        h, w = self._ellipse().shape
        out[y0 : y0 + h, x0 : x0 + w] = self._ellipse()
        return out

    def rgb(self, index: int) -> torch.Tensor:
        width, height = self._size
        frame = self._background[:height, 2 * index : 2 * index + width].copy()
        x0, y0 = self._corner(index)
        inside = self._ellipse()
        h, w = inside.shape
        frame[y0 : y0 + h, x0 : x0 + w][inside] = self._object[inside]
        return torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1)))


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth random RGB texture in [0, 1], (height, width, 3) float32."""
    noise = rng.uniform(0, 1, (height // 4 + 1, width // 4 + 1, 3)).astype(np.float32)
    big = cv2.resize(noise, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    return np.clip(big[:height, :width], 0, 1)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def speed(frames: int, settings: FlowSettings) -> Dict[str, Any]:
    shot = PanningShot(frames)
    process = psutil.Process()
    session = FlowTracker(settings).open_session(shot)
    session.add_prompt(0, 1, Prompt(mask=shot.mask(0)))
    rss_start = process.memory_info().rss
    peak, scores, held = rss_start, [], []
    start = time.perf_counter()
    for frame in session.propagate(0, frames - 1):
        if frame.index % 50 == 0:  # sampled: IoU at plate size costs as much as tracking
            scores.append(iou(frame.mask(1, shot.size).numpy() > 0, shot.mask(frame.index)))
            peak = max(peak, process.memory_info().rss)
            held.append(session.memory_bytes())
    elapsed = time.perf_counter() - start
    return {
        "frames": frames,
        "frames_per_s": frames / elapsed,
        "rss_start_mb": rss_start / 2**20,
        "rss_peak_mb": peak / 2**20,
        "session_bytes_first_last": [held[1] if len(held) > 1 else held[0], held[-1]],
        "synthetic_iou_sampled": float(np.mean(scores)),
    }


def davis(settings: FlowSettings) -> List[Dict[str, Any]]:
    rows = []
    for name in CLIPS:
        clip = DavisClip(DAVIS / "davis", name)
        row: Dict[str, Any] = {"clip": name, "frames": clip.num_frames}
        for label, every in (("first_mask", 0), ("mask_every_10", 10)):
            session = FlowTracker(settings).open_session(clip)
            for key in range(0, clip.num_frames, every or clip.num_frames):
                session.add_prompt(key, 1, Prompt(mask=clip.mask(key)))
            scores = [
                iou(f.mask(1, clip.size).numpy() > 0, clip.mask(f.index))
                for f in session.propagate(0, clip.num_frames - 1)
                if f.index > 0
            ]
            row[label] = float(np.mean(scores))
        row["hold_every_10"] = float(
            np.mean([iou(clip.mask(i // 10 * 10), clip.mask(i)) for i in range(1, clip.num_frames)])
        )
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--preset", choices=sorted(DIS_PRESETS), default=FlowSettings.preset)
    parser.add_argument("--working-size", type=int, default=FlowSettings.working_size)
    args = parser.parse_args()
    settings = FlowSettings(working_size=args.working_size, preset=args.preset)

    result: Dict[str, Any] = {"settings": vars(args), "speed": speed(args.frames, settings)}
    s = result["speed"]
    print(f"flow tracker, {settings.preset}, working size {settings.working_size}, 854x480 plate")
    print_table(
        ["frames", "frames/s", "RSS start MB", "RSS peak MB", "session MB", "IoU (sampled)"],
        [
            [
                s["frames"],
                s["frames_per_s"],
                s["rss_start_mb"],
                s["rss_peak_mb"],
                s["session_bytes_first_last"][-1] / 2**20,
                s["synthetic_iou_sampled"],
            ]
        ],
    )
    if (DAVIS / "davis").is_dir():
        result["davis"] = davis(settings)
        print("\nDAVIS 480p, mean IoU over frames 1..N-1")
        print_table(
            ["clip", "frames", "first mask only", "mask every 10", "hold every 10 (baseline)"],
            [
                [r["clip"], r["frames"], r["first_mask"], r["mask_every_10"], r["hold_every_10"]]
                for r in result["davis"]
            ],
        )
    else:
        print(f"\n(no DAVIS clips under {DAVIS}: IoU skipped)", file=sys.stderr)
    print(f"\nwritten: {write_result('tracking_flow_cpu', result)}")


if __name__ == "__main__":
    main()
