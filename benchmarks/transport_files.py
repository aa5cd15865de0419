"""Benchmark 4: per-frame cost of sending a plate frame and of writing the matte EXR.

    .venv/bin/python benchmarks/transport_files.py [--repeats 5]

Plate transport: a half-float RGB frame (2K = 2048x1080, 4K = 4096x2160) sent with
`put_frames` over loopback to a bare protocol endpoint that only acknowledges it (signature,
copy, validation: the wire's cost), and the same sent by path (a shared filesystem: only the
reference travels). Matte write: one object's float alpha (a soft-edged silhouette) written as
the backend writes it (channels A and obj1.A, data window cropped to the matte), with each
compression, on 1 and 2 OpenEXR threads. CPU only; prints a table, writes JSON and a PNG.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import OpenEXR

from benchmarks.common import OUT_DIR, print_table, write_result
from benchmarks.protocol_bench import serve
from sam2matting.backend.imageio.exr import supported_compressions
from sam2matting.backend.shots.matte_cache import MatteCache
from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo, new_key
from sam2matting.protocol.server import ServerEndpoint

SIZES = {"2K": (2048, 1080), "4K": (4096, 2160)}
COMPRESSIONS = ("none", "rle", "zips", "zip", "piz", "zstd", "htj2k32")


def silhouette(width: int, height: int) -> np.ndarray:
    """A person-sized soft matte: an ellipse with a noisy, feathered edge band."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.hypot((xx - width * 0.5) / (width * 0.18), (yy - height * 0.55) / (height * 0.42))
    rng = np.random.default_rng(0)
    wobble = rng.normal(0, 0.01, size=(height, width)).astype(np.float32)
    return np.clip((1.0 - r) * 40 + wobble * 40, 0, 1).astype(np.float32)


def time_plate(client: Client, width: int, height: int, repeats: int) -> Dict[str, float]:
    pixels = np.random.default_rng(1).random((height, width, 3), np.float32).astype("<f2").tobytes()
    image = {
        "buffer": 0,
        "encoding": "raw",
        "dtype": "float16",
        "shape": [height, width, 3],
        "channels": ["R", "G", "B"],
        "colourspace": "scene_linear",
    }
    inline, by_path = [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        content = {"shot_id": "bench", "frames": [{"frame": 1001 + i, "image": image}]}
        client.request("put_frames_request", content, [pixels])
        inline.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        content = {"shot_id": "bench", "frames": [{"frame": 1001 + i, "path": "/plates/p.exr"}]}
        client.request("put_frames_request", content)
        by_path.append((time.perf_counter() - t0) * 1e3)
    return {"inline_ms": statistics.median(inline), "path_ms": statistics.median(by_path)}


def time_matte(folder: Path, width: int, height: int, compression: str, repeats: int) -> float:
    cache = MatteCache(folder / compression, "bench", 1001, 1100, compression=compression)
    alpha = silhouette(width, height)
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        cache.write(1001 + i, {1: alpha}, {1: "hero"}, {"engine": "bench"})
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench_plates(repeats: int) -> Dict[str, Dict[str, float]]:
    endpoint = ServerEndpoint(ConnectionInfo(new_key()))
    info = endpoint.bind()
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(endpoint, stop), daemon=True)
    thread.start()
    try:
        with Client(info, timeout_s=120) as client:
            return {name: time_plate(client, w, h, repeats) for name, (w, h) in SIZES.items()}
    finally:
        stop.set()
        thread.join()
        endpoint.close()


def bench_mattes(repeats: int) -> List[Dict[str, Any]]:
    rows = []
    available = set(supported_compressions())
    with tempfile.TemporaryDirectory() as tmp:
        for threads in (1, 2):
            OpenEXR.set_global_thread_count(threads)
            for name, (w, h) in SIZES.items():
                for comp in (c for c in COMPRESSIONS if c in available):
                    ms = time_matte(Path(tmp) / f"{name}-{threads}", w, h, comp, repeats)
                    size = (Path(tmp) / f"{name}-{threads}" / comp / "matte").glob("*.exr")
                    mb = statistics.median(p.stat().st_size for p in size) / 1e6
                    rows.append(
                        {
                            "size": name,
                            "threads": threads,
                            "compression": comp,
                            "write_ms": ms,
                            "file_mb": mb,
                        }
                    )
    return rows


def plot(rows: List[Dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, size in zip(axes, SIZES):
        for threads in (1, 2):
            sel = [r for r in rows if r["size"] == size and r["threads"] == threads]
            ax.bar(
                [f"{r['compression']}\n{threads}t" for r in sel],
                [r["write_ms"] for r in sel],
                label=f"{threads} thread(s)",
            )
        ax.axhline(15, color="red", lw=1, ls="--", label="15 ms budget (2K)")
        ax.set_title(f"matte EXR write, {size}")
        ax.set_ylabel("ms per frame")
        ax.tick_params(axis="x", labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    plates = bench_plates(args.repeats)
    mattes = bench_mattes(args.repeats)
    print_table(
        ["plate", "inline put_frames ms", "by path ms"],
        [[k, v["inline_ms"], v["path_ms"]] for k, v in plates.items()],
    )
    print()
    print_table(
        ["size", "threads", "compression", "write ms", "file MB"],
        [[r["size"], r["threads"], r["compression"], r["write_ms"], r["file_mb"]] for r in mattes],
    )
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    png = OUT_DIR / "transport_files.png"
    plot(mattes, png)
    print("wrote", write_result("transport_files", {"plates": plates, "mattes": mattes}), png)


if __name__ == "__main__":
    main()
