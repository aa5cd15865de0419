"""The GPU part: SAM2.1 tiny and base_plus (random weights, SAM2Matting heads) at 1080p and 4K,
prompt -> matte latency at 2K, and memory over a long 4K shot.

Written for one short loan of a GPU: every figure is saved as soon as it exists, and a deadline
stops the run (the long shot is cancelled where it got to), so a cut-short run still reports.
`--gpu-device cpu --tiny` runs the same code on the CPU at toy sizes (CI and dry runs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import psutil
import torch

from benchmarks.pipeline import measure
from benchmarks.pipeline.backend import HEADS, Server, input_size, random_models
from benchmarks.pipeline.cpu import run_modes
from benchmarks.pipeline.plates import FIRST, Frames, Plate, decode, disc_plate, jpeg_folder
from benchmarks.pipeline.report import Results
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting.registry import load_engine
from sam2matting.backend.model_files import SAM2_TRACKERS
from sam2matting.backend.tracking.base import Prompt
from sam2matting.backend.tracking.registry import load_tracker

Size = Tuple[int, int]
FULL_SIZES = {"1080p": (1920, 1080), "4K": (3840, 2160), "2K": (2048, 1080)}
TINY_SIZES = {"1080p": (192, 108), "4K": (384, 216), "2K": (204, 108)}
DISTINCT = 8  # distinct plate frames, reused cyclically


@dataclass
class GpuSetup:
    work: Path
    results: Results
    device: torch.device
    models: List[str]  # "tiny", "base_plus"
    frames: int  # per throughput run
    prompts: int  # latency samples
    scale_frames: int  # the long shot
    every: int  # memory sample interval (frames)
    deadline: float  # time.perf_counter() after which nothing new starts
    tiny: bool  # toy sizes and a 64 px SAM2 input (CPU dry runs)

    @property
    def sizes(self) -> Dict[str, Size]:
        return TINY_SIZES if self.tiny else FULL_SIZES

    @property
    def input_size(self) -> Optional[int]:
        return 64 if self.tiny else None

    def late(self, what: str) -> bool:
        if time.perf_counter() < self.deadline:
            return False
        self.results.put(f"skipped_{what}", "deadline reached before it started")
        return True


def _plate(setup: GpuSetup, name: str) -> Plate:
    return disc_plate(setup.work / f"disc-{name}", setup.sizes[name], DISTINCT)


def _jpegs(frames: Frames, folder: Path) -> Path:
    """sam2's JPEG folder: the distinct frames written once, the rest linked to them."""
    jpeg_folder(frames.images[:DISTINCT], folder)
    for i in range(DISTINCT, frames.num_frames):
        link = folder / f"{i:05d}.jpg"
        if not link.exists():
            link.symlink_to(folder / f"{i % DISTINCT:05d}.jpg")
    return folder


def _full(server: Server, shot: str, plate: Plate, frames: int, model: str) -> float:
    server.open(shot, plate, frames, f"sam2.1-{model}", HEADS[model])
    server.prompt(shot, FIRST, plate, mask=False)
    return server.propagate(shot).fps


def throughput(setup: GpuSetup, server: Server, config: BackendConfig) -> None:
    """Per size and model: sam2's predictor, the session, in-process compute, full server."""
    for size_name in ("1080p", "4K"):
        plate = _plate(setup, size_name)
        frames = Frames(decode(plate, setup.frames))
        jpegs = _jpegs(frames, setup.work / f"jpeg-{size_name}")
        for model in setup.models:
            if setup.late(f"{model}_{size_name}"):
                return
            tracker = load_tracker(f"sam2.1-{model}", config, setup.device)
            engine = load_engine(HEADS[model], config, setup.device, tracker=f"sam2.1-{model}")
            sam2_config = SAM2_TRACKERS[f"sam2.1-{model}"].config or ""
            prompt = Prompt(box=plate.box)
            measure.warm_up(tracker, engine, frames, prompt, setup.device)
            shot = f"gpu-{model}-{size_name}"
            modes = {
                "bare": partial(
                    measure.bare_sam2, sam2_config, jpegs, plate.box, setup.device, setup.input_size
                ),
                "session": partial(measure.bare_session, tracker, frames, prompt, setup.device),
                "in_process": partial(
                    measure.in_process, tracker, engine, frames, prompt, setup.device
                ),
                "full": partial(_full, server, shot, plate, setup.frames, model),
            }
            row: Dict[str, Any] = {
                "part": "gpu",
                "config": f"{model} + heads {size_name}",
                "size": size_name,
                "model": model,
                "rep": 0,
            }
            run_modes(row, modes, 0)
            setup.results.add(row)
            del modes, tracker, engine
            _free(setup.device)


def latency(setup: GpuSetup, server: Server) -> None:
    """2K: a prompt on a frame already tracked, until its matte's EXR bytes are received."""
    if setup.late("latency"):
        return
    plate = _plate(setup, "2K")
    n = 60 if not setup.tiny else 8
    server.open("latency", plate, n, "sam2.1-tiny", HEADS["tiny"])
    server.prompt("latency", FIRST, plate, mask=False)
    server.propagate("latency")
    rng = np.random.default_rng(0)
    samples: List[float] = []
    for i in range(setup.prompts + 3):
        if time.perf_counter() > setup.deadline:
            break
        seconds = server.prompt(
            "latency", FIRST + int(rng.integers(1, n)), plate, mask=False, matte="exr"
        )
        if i >= 3:  # warm-up
            samples.append(seconds * 1e3)
    summary = {"p50_ms": _pct(samples, 50), "p95_ms": _pct(samples, 95), "n": len(samples)}
    setup.results.put(
        "latency",
        {"size": "2K", "model": "tiny + heads", "samples_ms": samples, "summary": summary},
    )


def memory(setup: GpuSetup, server: Server) -> None:
    """A long 4K shot: GPU memory and the process's RSS every `every` frames."""
    if setup.late("memory"):
        return
    plate = _plate(setup, "4K")
    server.open("long", plate, setup.scale_frames, "sam2.1-tiny", HEADS["tiny"])
    server.prompt("long", FIRST, plate, mask=False)
    process = psutil.Process()
    samples: List[Dict[str, Any]] = []
    record: Dict[str, Any] = {
        "size": "4K",
        "model": "tiny + heads",
        "samples": samples,
        "frames_planned": setup.scale_frames,
    }
    last = [time.perf_counter()]

    def sample(done: int) -> None:
        now = time.perf_counter()
        cuda = setup.device.type == "cuda"
        samples.append(
            {
                "frame": done,
                "rss_mb": process.memory_info().rss / 2**20,
                "gpu_allocated_mb": torch.cuda.memory_allocated() / 2**20 if cuda else None,
                "gpu_reserved_mb": torch.cuda.memory_reserved() / 2**20 if cuda else None,
                "s_per_frame": (now - last[0]) / setup.every,
            }
        )
        last[0] = now
        record["summary"] = _growth(samples)
        setup.results.put("memory", record)

    server.propagate("long", every=setup.every, sample=sample, until=setup.deadline)
    record["frames_reached"] = samples[-1]["frame"] if samples else 0
    setup.results.put("memory", record)


SECTIONS = ("throughput", "latency", "memory")


def gpu_part(setup: GpuSetup, sections: Sequence[str] = SECTIONS) -> None:
    """The sections in the order given (a short loan runs each in its own time slice)."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown GPU sections {sorted(unknown)}; choose from {SECTIONS}")
    models = random_models(setup.work / "models", setup.models, setup.input_size)
    config = BackendConfig(device=str(setup.device), models_dir=models)
    with input_size(setup.input_size):
        server = Server(setup.work / "gpu", str(setup.device), models, [setup.work])
        try:
            for section in sections:
                if section == "throughput":
                    throughput(setup, server, config)
                elif section == "latency":
                    latency(setup, server)
                else:
                    memory(setup, server)
                setup.results.save(plot=True)
        finally:
            server.close()


def _growth(samples: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Growth of each memory figure from the first sample (frame `every`) to the latest."""
    first, last = samples[0], samples[-1]
    out: Dict[str, Any] = {"from_frame": first["frame"], "to_frame": last["frame"]}
    for key in ("gpu_allocated_mb", "gpu_reserved_mb", "rss_mb"):
        if first.get(key):
            out[f"{key}_growth"] = last[key] / first[key] - 1
    return out


def _pct(values: List[float], q: float) -> Optional[float]:
    return float(np.percentile(values, q)) if values else None


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
