"""Benchmarks 1-3 (GPU): throughput against bare SAM2, interactive latency, memory over a long shot.

    python -m benchmarks.gpu_pipeline throughput [--frames 60]  # 1080p/4K, tiny/b+, 1/3 objects
    python -m benchmarks.gpu_pipeline latency [--prompts 40]     # 2K prompt -> matte received
    python -m benchmarks.gpu_pipeline scale [--frames 2000]      # 4K, memory every 100 frames

Random weights (the same FLOPs as the real ones): a random SAM2.1 model plus random matting
heads are saved in the official SAM2Matting file layout in a temporary models folder, so the
server loads them through its real checkpoint code (no published hash for those files: the
loader logs "not verified").

* bare: the sam2 package alone. `init_state` on a JPEG folder puts every frame in GPU memory,
  then `propagate_in_video` under bf16 autocast (as sam2's README runs it).
* full: the real backend in this process, over loopback ZeroMQ: plates read from EXR by path
  (frame store) -> SAM2.1 session -> SAM2Matting heads -> native-resolution stage -> float EXR
  written -> progress event received by the client. Timed from the propagate reply to `done`.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import psutil
import torch

from benchmarks.common import OUT_DIR, print_table, write_result
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.imageio.exr import write_exr
from sam2matting.backend.model_files import SAM2MATTING_HEADS
from sam2matting.backend.server.app import BackendServer
from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo, new_key

TRACKERS = {"tiny": "sam2matting-tiny", "base_plus": "sam2matting-base_plus"}
SIZES = {"1080p": (1920, 1080), "4K": (3840, 2160), "2K": (2048, 1080)}


def random_models(folder: Path, names: List[str]) -> Path:
    """Random tracker + heads weights, saved as the official SAM2Matting files."""
    from sam2matting.backend.matting.heads.model import SAM2MattingHeads
    from sam2matting.backend.tracking.sam2_model import build_sam2_video_model

    folder.mkdir(parents=True, exist_ok=True)
    for short in names:
        model = SAM2MATTING_HEADS[TRACKERS[short]]
        tracker = build_sam2_video_model(model.config or "", None, torch.device("cpu"))
        state = dict(tracker.state_dict())
        state.update(SAM2MattingHeads().state_dict())
        torch.save({"model": state}, folder / model.filename)
    return folder


def plates(folder: Path, size: Tuple[int, int], distinct: int) -> List[Path]:
    """A few half-float EXR plates (a disc over texture), reused cyclically by path."""
    w, h = size
    rng = np.random.default_rng(0)
    low = rng.random((9, 16, 3)).astype(np.float32)
    texture = np.kron(low, np.ones((h // 9 + 1, w // 16 + 1, 1), np.float32))[:h, :w]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    paths = []
    for i in range(distinct):
        alpha = np.clip(h * 0.25 - np.hypot(xx - w * (0.3 + 0.02 * i), yy - h * 0.5), 0, 1)[
            ..., None
        ]
        rgb = alpha * np.array([0.9, 0.6, 0.2], np.float32) + (1 - alpha) * texture * 0.5
        path = folder / f"plate.{i:04d}.exr"
        write_exr(path, {c: rgb[..., k] for k, c in enumerate("RGB")}, pixel_type="half",
                  compression="none")  # fmt: skip
        paths.append(path)
    return paths


class Backend:
    """The real server on a thread (CUDA), and a client."""

    def __init__(self, work: Path, models: Path, plates_dir: Path, tracker: str) -> None:
        config = BackendConfig(
            models_dir=models, cache_root=work / "cache", log_dir=work / "logs", device="cuda",
            default_tracker=f"sam2.1-{tracker}", default_engine=TRACKERS[tracker],
            allowed_roots=(plates_dir,),
        )  # fmt: skip
        self.server = BackendServer(config, ConnectionInfo(new_key()))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.client = Client(self.server.info, timeout_s=600)

    def open(self, shot: str, size: Tuple[int, int], paths: List[Path], n: int) -> None:
        w, h = size
        self.client.request(
            "open_shot_request",
            {"shot_id": shot, "width": w, "height": h, "first_frame": 1001, "last_frame": 1000 + n},
        )
        for start in range(0, n, 64):
            frames = [
                {"frame": 1001 + i, "path": str(paths[i % len(paths)])}
                for i in range(start, min(n, start + 64))
            ]
            self.client.request("put_frames_request", {"shot_id": shot, "frames": frames})

    def prompt(
        self, shot: str, size: Tuple[int, int], frame: int, obj: int, how: str = "path"
    ) -> None:
        w, h = size
        box = [w * (0.1 + 0.25 * (obj - 1)), h * 0.2, w * (0.3 + 0.25 * (obj - 1)), h * 0.8]
        self.client.request("add_prompt_request", {"shot_id": shot, "frame": frame, "box": box,
                                                   "object": {"id": obj, "name": f"o{obj}"},
                                                   "matte": how})  # fmt: skip

    def close(self) -> None:
        self.client.shutdown()
        self.thread.join(60)
        self.client.close()


def bare_fps(tracker: str, size: Tuple[int, int], n: int, objects: int, work: Path) -> float:
    """The sam2 package alone, frames already in GPU memory (JPEG folder -> init_state)."""
    import cv2
    from sam2.build_sam import build_sam2_video_predictor

    folder = work / f"jpeg-{size[0]}"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for i, path in enumerate(plates(work / f"exr-{size[0]}", size, 8) * (n // 8 + 1)):
            if i >= n:
                break
            from sam2matting.backend.imageio.exr import read_exr

            ch = read_exr(path).channels
            rgb = np.stack([ch["B"], ch["G"], ch["R"]], -1)
            cv2.imwrite(
                str(folder / f"{i:05d}.jpg"),
                (np.clip(rgb, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8),
            )
    config = SAM2MATTING_HEADS[TRACKERS[tracker]].config or ""
    predictor = build_sam2_video_predictor(config, None, device="cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
        state = predictor.init_state(str(folder))
        w, h = size
        for obj in range(1, objects + 1):
            box = np.array(
                [w * (0.1 + 0.25 * (obj - 1)), h * 0.2, w * (0.3 + 0.25 * (obj - 1)), h * 0.8]
            )
            predictor.add_new_points_or_box(state, frame_idx=0, obj_id=obj, box=box)
        for _ in predictor.propagate_in_video(state, max_frame_num_to_track=8):
            pass  # warm-up
        torch.cuda.synchronize()
        start = time.perf_counter()
        count = sum(1 for _ in predictor.propagate_in_video(state))
        torch.cuda.synchronize()
    return count / (time.perf_counter() - start)


def full_fps(
    backend: Backend, size: Tuple[int, int], n: int, objects: int, shot: str, paths: List[Path]
) -> float:
    backend.open(shot, size, paths, n)
    for obj in range(1, objects + 1):
        backend.prompt(shot, size, 1001, obj)
    warm = backend.client.propagate(shot_id=shot, direction="forward", last_frame=1008)
    list(warm.events())
    job = backend.client.propagate(shot_id=shot, direction="forward")
    start = time.perf_counter()
    done = sum(1 for _ in job.events())
    return done / (time.perf_counter() - start)


def throughput(args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    models = random_models(work / "models", args.trackers)
    rows = []
    for tracker in args.trackers:
        for size_name in ("1080p", "4K"):
            size = SIZES[size_name]
            paths = plates(work / f"exr-{size[0]}", size, 8)
            backend = Backend(work / f"{tracker}-{size_name}", models, paths[0].parent, tracker)
            try:
                for objects in (1, 3):
                    bare = bare_fps(tracker, size, args.frames, objects, work)
                    full = full_fps(backend, size, args.frames, objects, f"t{objects}", paths)
                    rows.append(
                        {
                            "tracker": tracker,
                            "size": size_name,
                            "objects": objects,
                            "bare_fps": bare,
                            "full_fps": full,
                            "ratio": full / bare,
                        }
                    )
                    print(rows[-1], flush=True)
            finally:
                backend.close()
    print_table(
        ["tracker", "size", "objects", "bare f/s", "full f/s", "ratio"],
        [
            [r["tracker"], r["size"], r["objects"], r["bare_fps"], r["full_fps"], r["ratio"]]
            for r in rows
        ],
    )
    return {"rows": rows}


def latency(args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    models = random_models(work / "models", ["tiny"])
    size = SIZES["2K"]
    paths = plates(work / "exr-2k", size, 8)
    backend = Backend(work / "latency", models, paths[0].parent, "tiny")
    try:
        backend.open("lat", size, paths, 60)
        backend.prompt("lat", size, 1001, 1)
        list(backend.client.propagate(shot_id="lat", direction="forward").events())
        rng = np.random.default_rng(0)
        times = []
        for i in range(args.prompts + 5):
            frame = int(rng.integers(1002, 1061))
            t0 = time.perf_counter()
            backend.prompt("lat", size, frame, 1, how="exr")
            if i >= 5:  # warm-up
                times.append((time.perf_counter() - t0) * 1e3)
    finally:
        backend.close()
    result = {
        "p50_ms": float(np.percentile(times, 50)),
        "p95_ms": float(np.percentile(times, 95)),
        "samples_ms": times,
    }
    print_table(
        ["2K prompt -> matte", "ms"], [["p50", result["p50_ms"]], ["p95", result["p95_ms"]]]
    )
    return result


def scale(args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    models = random_models(work / "models", ["tiny"])
    size = SIZES["4K"]
    paths = plates(work / "exr-4k", size, 16)
    backend = Backend(work / "scale", models, paths[0].parent, "tiny")
    process = psutil.Process()
    samples: List[Dict[str, float]] = []
    try:
        backend.open("long", size, paths, args.frames)
        backend.prompt("long", size, 1001, 1)
        job = backend.client.propagate(shot_id="long", direction="forward")
        last = time.perf_counter()
        for event in job.events():
            done = event.content["done"]
            if done % 100 == 0:
                now = time.perf_counter()
                samples.append({"frame": done,
                                "gpu_allocated_mb": torch.cuda.memory_allocated() / 2**20,
                                "gpu_reserved_mb": torch.cuda.memory_reserved() / 2**20,
                                "rss_mb": process.memory_info().rss / 2**20,
                                "s_per_frame": (now - last) / 100})  # fmt: skip
                last = now
                print(samples[-1], flush=True)
    finally:
        backend.close()
    growth = (
        {k: samples[-1][k] / samples[0][k] - 1 for k in ("gpu_allocated_mb", "rss_mb")}
        if len(samples) > 1
        else {}
    )
    _plot_scale(samples, OUT_DIR / "gpu_scale.png")
    return {"samples": samples, "growth_100_to_end": growth}


def _plot_scale(samples: List[Dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = [s["frame"] for s in samples]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    for key in ("gpu_allocated_mb", "rss_mb"):
        ax[0].plot(frames, [s[key] for s in samples], label=key)
    ax[0].set_xlabel("frame")
    ax[0].set_ylabel("MiB")
    ax[0].legend()
    ax[1].plot(frames, [s["s_per_frame"] for s in samples])
    ax[1].set_xlabel("frame")
    ax[1].set_ylabel("s / frame")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("throughput", "latency", "scale"))
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--trackers", type=lambda s: s.split(","), default=["tiny", "base_plus"])
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_pipeline needs a CUDA GPU")
    if args.which == "scale" and args.frames == 60:
        args.frames = 2000
    with tempfile.TemporaryDirectory() as tmp:
        result = {"throughput": throughput, "latency": latency, "scale": scale}[args.which](
            args, Path(tmp)
        )
    print("wrote", write_result(f"gpu_{args.which}", result))


if __name__ == "__main__":
    main()
