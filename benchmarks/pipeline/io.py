"""The I/O part: what the pipeline spends outside the compute, per frame, in the real server.

* `put_frames`: one inline 2K RGB frame per `put_frames_request` over loopback (float32 and
  float16), milliseconds from request to reply: transport, HMAC, the check, the stored file
  and the plate index.
* `propagation`: a flow + closed-form propagation of the demo plate (EXR by path), once with the
  prefetch and once without (the store's prefetch turned off), the order alternating between
  repetitions. Measured inside the server: the worker's wait for its plate (every
  `FrameStore.rgb` call on the worker thread, summed per frame, the prompted first frame left
  out; `plate_wait_later`: also without the first frame after the prompted one, which the
  prefetch has had no time for) and the writer's matte commit (`Shot.commit_frame`: EXR,
  journal, fsyncs).

Figures are medians and maxima over every frame of every repetition, with the 1-minute load
before each measurement; saved under `io` in pipeline.json.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from benchmarks.pipeline.backend import Server
from benchmarks.pipeline.plates import FIRST, Plate
from benchmarks.pipeline.report import Results
from sam2matting.backend.server.shot import Shot
from sam2matting.backend.shots.frame_store import FrameStore

Size = Tuple[int, int]
PUT_SIZE = (2048, 1080)  # "2K": the plate size the put_frames figures are for
WORKER_THREAD = "gpu-worker"


@dataclass
class IoSetup:
    server: Server
    results: Results
    reps: int
    put_size: Size
    put_frames: int  # frames sent per dtype and repetition
    plate: Plate  # the propagation's plate (demo shot, EXR by path)
    frames: int  # frames per propagation


def io_part(setup: IoSetup) -> Dict[str, Any]:
    """Both sections, every repetition interleaved; the figures, also put under `io`."""
    samples: Dict[str, List[float]] = {}
    loads: List[float] = []
    modes = ("prefetch", "no_prefetch")
    for rep in range(setup.reps):
        loads.append(os.getloadavg()[0])
        for dtype in ("float32", "float16") if rep % 2 == 0 else ("float16", "float32"):
            key = f"put_frames_{dtype}_ms"
            samples.setdefault(key, []).extend(_put_frames(setup, dtype, rep))
        for mode in modes if rep % 2 == 0 else modes[::-1]:
            waits, commits = _propagation(setup, f"io-{mode}-{rep}", mode == "prefetch")
            samples.setdefault(f"plate_wait_{mode}_ms", []).extend(waits)
            # after the first tracked frame: the prefetch had a frame's time to run ahead
            samples.setdefault(f"plate_wait_later_{mode}_ms", []).extend(waits[1:])
            samples.setdefault(f"matte_commit_{mode}_ms", []).extend(commits)
        loads.append(os.getloadavg()[0])
    figures = {key: _stats(values) for key, values in samples.items()}
    out = {
        "put_size": list(setup.put_size),
        "plate_size": list(setup.plate.size),
        "frames": setup.frames,
        "reps": setup.reps,
        "load": {"min": min(loads), "max": max(loads)},
        "prefetch_available": hasattr(FrameStore, "prefetch"),
        "figures": figures,
    }
    setup.results.put("io", out)
    for key, value in figures.items():
        print(f"io {key}: median {value['median']:.1f}, max {value['max']:.1f} (n={value['n']})")
    return out


def _stats(values: List[float]) -> Dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": p95,
        "max": ordered[-1],
    }


def _put_frames(setup: IoSetup, dtype: str, rep: int) -> List[float]:
    """Milliseconds per inline put of one frame (request to reply)."""
    w, h = setup.put_size
    shot = f"io-put-{dtype}-{rep}"
    client = setup.server.client
    last = FIRST + setup.put_frames - 1
    client.request(
        "open_shot_request",
        {"shot_id": shot, "width": w, "height": h, "first_frame": FIRST, "last_frame": last},
    )
    rng = np.random.default_rng(rep)
    pixels = rng.random((h, w, 3), dtype=np.float32).astype(dtype).tobytes()
    image = {
        "buffer": 0,
        "encoding": "raw",
        "dtype": dtype,
        "shape": [h, w, 3],
        "channels": ["R", "G", "B"],
        "colourspace": "scene_linear",
        "origin": "top_left",
    }
    times = []
    for i in range(setup.put_frames):
        content = {"shot_id": shot, "frames": [{"frame": FIRST + i, "image": image}]}
        start = time.perf_counter()
        client.request("put_frames_request", content, [pixels])
        times.append((time.perf_counter() - start) * 1000)
    return times


def _propagation(setup: IoSetup, shot: str, prefetch: bool) -> Tuple[List[float], List[float]]:
    """One propagation: (worker's plate wait per frame, matte commit per frame), ms."""
    server = setup.server
    server.open(shot, setup.plate, setup.frames, "flow", "closed_form")
    server.prompt(shot, FIRST, setup.plate, mask=True)
    waits: Dict[int, float] = {}
    commits: List[float] = []
    with _timed_plate_reads(waits), _timed_commits(commits), _prefetch_on(prefetch):
        server.propagate(shot)
    # the prompted frame is not a tracked frame's wait (the flow tracker keeps it from the prompt)
    return [ms for index, ms in sorted(waits.items()) if index != FIRST], commits


@contextlib.contextmanager
def _timed_plate_reads(waits: Dict[int, float]) -> Iterator[None]:
    original = FrameStore.rgb

    def timed(store: FrameStore, index: int) -> Any:
        if threading.current_thread().name != WORKER_THREAD:
            return original(store, index)
        start = time.perf_counter()
        try:
            return original(store, index)
        finally:
            waits[index] = waits.get(index, 0.0) + (time.perf_counter() - start) * 1000

    with _patched(FrameStore, "rgb", timed):
        yield


@contextlib.contextmanager
def _timed_commits(commits: List[float]) -> Iterator[None]:
    original = Shot.commit_frame

    def timed(shot: Shot, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(shot, *args)
        finally:
            commits.append((time.perf_counter() - start) * 1000)

    with _patched(Shot, "commit_frame", timed):
        yield


@contextlib.contextmanager
def _prefetch_on(on: bool) -> Iterator[None]:
    """Without: the store's prefetch asks for nothing (the worker decodes every frame itself);
    a backend without a prefetch measures the same way."""
    if on or not hasattr(FrameStore, "prefetch"):
        yield
        return

    def nothing(store: FrameStore, indices: Any) -> None:
        return None

    with _patched(FrameStore, "prefetch", nothing):
        yield


@contextlib.contextmanager
def _patched(owner: type, name: str, value: Callable[..., Any]) -> Iterator[None]:
    original: Optional[Any] = owner.__dict__.get(name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)
