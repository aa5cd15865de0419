"""The real backend for the benchmark: the server on a thread of this process, a loopback client,
and SAM2.1 models with random weights saved as the official files it loads.

Random weights have the real models' FLOPs and memory (no benchmark machine can download the
real ones). The server loads them through its real checkpoint code; only the square input size
is overridden for CPU runs (`input_size`), as the suite's CPU tests do.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch

from benchmarks.pipeline.measure import rate, skip_for
from benchmarks.pipeline.plates import FIRST, Plate
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.model_files import SAM2_TRACKERS, SAM2MATTING_HEADS
from sam2matting.backend.server.app import BackendServer
from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo, new_key

HEADS = {"tiny": "sam2matting-tiny", "base_plus": "sam2matting-base_plus"}


def random_models(folder: Path, models: Sequence[str], input_size: Optional[int]) -> Path:
    """Random SAM2.1 trackers + random SAM2Matting heads, saved as the official bundles."""
    from sam2matting.backend.matting.heads.checkpoint import save_official_checkpoint
    from sam2matting.backend.matting.heads.model import SAM2MattingHeads
    from sam2matting.backend.tracking.sam2_model import build_sam2_video_model

    folder.mkdir(parents=True, exist_ok=True)
    for short in models:
        bundle = SAM2MATTING_HEADS[HEADS[short]]
        if (folder / bundle.filename).is_file():
            continue
        torch.manual_seed(0)
        config = SAM2_TRACKERS[bundle.tracker or ""].config or ""
        tracker = build_sam2_video_model(config, None, torch.device("cpu"), input_size)
        save_official_checkpoint(
            folder / bundle.filename, tracker.state_dict(), SAM2MattingHeads().state_dict()
        )
    return folder


@contextlib.contextmanager
def input_size(size: Optional[int]) -> Iterator[None]:
    """SAM2 models built while inside are built at a `size`-pixel square input (None: 1024)."""
    from sam2matting.backend.tracking import sam2_model

    original = sam2_model.build_sam2_video_model
    if size is not None:
        sam2_model.build_sam2_video_model = functools.partial(original, image_size=size)  # type: ignore[assignment]
    try:
        yield
    finally:
        sam2_model.build_sam2_video_model = original  # type: ignore[assignment]


@dataclass
class Timing:
    """One propagation as the client saw it: when each progress event arrived."""

    stamps: List[float] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames per second, leaving out the first frames as every other run does."""
        return rate(self.stamps, skip_for(len(self.stamps)))


class Server:
    """The real `BackendServer` on a thread, driven over loopback like the Nuke node drives it."""

    def __init__(self, work: Path, device: str, models_dir: Path, roots: Sequence[Path]) -> None:
        config = BackendConfig(
            models_dir=models_dir,
            cache_root=work / "cache",
            log_dir=work / "logs",
            device=device,
            default_tracker="flow",
            default_engine="closed_form",
            allowed_roots=tuple(roots),
        )
        self.server = BackendServer(config, ConnectionInfo(new_key()))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.client = Client(self.server.info, timeout_s=600)

    def set_threads(self, count: int) -> None:
        """Torch's intra-op threads on the server's worker thread: OpenMP keeps a count per
        thread, so setting it here (the benchmark's thread) does not reach a running worker."""
        self.server.worker.submit(functools.partial(torch.set_num_threads, count))

    def open(self, shot: str, plate: Plate, frames: int, tracker: str, engine: str) -> None:
        """Open a shot of `frames` frames and reference the plate's files (by path)."""
        w, h = plate.size
        self.client.request(
            "open_shot_request",
            {
                "shot_id": shot,
                "width": w,
                "height": h,
                "first_frame": FIRST,
                "last_frame": FIRST + frames - 1,
                "tracker": tracker,
                "engine": engine,
            },
        )
        for start in range(0, frames, 64):
            entries = [
                {"frame": FIRST + i, "path": str(plate.path(i))}
                for i in range(start, min(frames, start + 64))
            ]
            self.client.request("put_frames_request", {"shot_id": shot, "frames": entries})

    def prompt(
        self, shot: str, frame: int, plate: Plate, *, mask: bool, matte: str = "path"
    ) -> float:
        """Prompt object 1 on `frame` (the plate's mask or its box); seconds until the reply."""
        content: Dict[str, Any] = {
            "shot_id": shot,
            "frame": frame,
            "matte": matte,
            "object": {"id": 1, "name": "subject"},
        }
        buffers: List[bytes] = []
        if mask:
            h, w = plate.mask.shape
            content["mask"] = {
                "buffer": 0,
                "encoding": "raw",
                "dtype": "uint8",
                "shape": [h, w, 1],
                "channels": ["A"],
                "origin": "top_left",
            }
            buffers.append((plate.mask.astype(np.uint8) * 255).tobytes())
        else:
            content["box"] = list(plate.box)
        start = time.perf_counter()
        self.client.request("add_prompt_request", content, buffers)
        return time.perf_counter() - start

    def propagate(self, shot: str, last: Optional[int] = None, **watch: Any) -> Timing:
        """Propagate forward from the first frame; `watch["every"]` frames, call
        `watch["sample"](done)` (memory samples); `watch["until"]`: a deadline (cancel then)."""
        job = self.client.propagate(
            shot_id=shot, start_frame=FIRST, direction="forward", last_frame=last
        )
        timing = Timing()
        for event in job.events(idle_timeout_s=600):
            timing.stamps.append(time.perf_counter())
            done = int(event.content["done"])
            if watch.get("every") and done % int(watch["every"]) == 0:
                watch["sample"](done)
            if watch.get("until") and timing.stamps[-1] > watch["until"]:
                job.cancel()
                for _ in job.events(idle_timeout_s=600):
                    pass
                break
        return timing

    def close(self) -> None:
        # server.stop(), not a shutdown request: the endpoint closes with linger 0, and the
        # shutdown reply can be dropped before it leaves (the client then waits its timeout)
        self.server.stop()
        self.thread.join(60)
        self.client.close()
