"""The CPU parts: the weight-free path (flow + closed-form) and SAM2.1 tiny at a small input.

Every repetition runs each configuration's modes back to back, the order rotated from one
repetition to the next, so a change in the machine's load hits every mode alike; with `--load`
each configuration also runs with a competing process busy on one core.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import torch

from benchmarks.pipeline import measure
from benchmarks.pipeline.backend import Server, input_size, random_models
from benchmarks.pipeline.plates import FIRST, Frames, Plate, decode, demo_plate, jpeg_folder
from benchmarks.pipeline.report import Results
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.matting.registry import load_engine
from sam2matting.backend.model_files import SAM2_TRACKERS
from sam2matting.backend.tracking.base import Prompt
from sam2matting.backend.tracking.registry import load_tracker

CPU = torch.device("cpu")
Size = Tuple[int, int]


@dataclass
class CpuSetup:
    work: Path
    results: Results
    reps: int
    frames: int
    sizes: Dict[str, Size]  # flow part: name -> (width, height)
    sam2_size: str  # which of `sizes` the SAM2 part's plate uses
    sam2_input: int  # SAM2's square input on the CPU
    load: bool  # also run every configuration with a competing process
    threads: List[int] = field(default_factory=list)  # flow part: torch intra-op threads to compare
    made: Dict[str, Tuple[Plate, Frames]] = field(default_factory=dict)  # plates made so far

    def plate(self, name: str) -> Tuple[Plate, Frames]:
        """The demo shot at size `name`, on disk and decoded (made on first use)."""
        if name not in self.made:
            plate = demo_plate(self.work / f"demo-{name}", self.sizes[name], self.frames)
            self.made[name] = (plate, Frames(decode(plate, self.frames)))
        return self.made[name]


@contextlib.contextmanager
def competing_load(on: bool) -> Iterator[None]:
    """A process spinning on one core for the duration (an artist's Nuke, a render)."""
    if not on:
        yield
        return
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it reach the scheduler
        yield
    finally:
        busy.terminate()
        busy.wait(10)


def run_modes(row: Dict[str, Any], modes: Dict[str, Callable[[], float]], rep: int) -> None:
    """Each mode once, in an order rotated by `rep`; frames/s into `row[<mode>_fps]`."""
    names = list(modes)
    shift = rep % len(names)
    row["load_before"] = os.getloadavg()[0]
    for name in names[shift:] + names[:shift]:
        row[f"{name}_fps"] = modes[name]()
    row["load_after"] = os.getloadavg()[0]


def _full(
    server: Server, shot: str, plate: Plate, n: int, tracker: str, engine: str, mask: bool
) -> float:
    server.open(shot, plate, n, tracker, engine)
    server.prompt(shot, FIRST, plate, mask=mask)
    return server.propagate(shot).fps


def flow_part(setup: CpuSetup) -> None:
    """Flow + closed-form at each size: bare tracker, in-process compute, full server."""
    plates = {name: setup.plate(name) for name in setup.sizes}
    config = BackendConfig(device="cpu", models_dir=setup.work / "models")
    tracker = load_tracker("flow", config, CPU)
    engine = load_engine("closed_form", config, CPU)
    first_plate, first_frames = next(iter(plates.values()))
    measure.warm_up(tracker, engine, first_frames, Prompt(mask=first_plate.mask), CPU)
    server = Server(setup.work / "flow", "cpu", config.models_dir, [setup.work])
    n = setup.frames
    threads = setup.threads or [torch.get_num_threads()]
    try:
        for rep in range(setup.reps):
            for name, (plate, frames) in plates.items():
                for loaded, count in _rotated(setup.load, threads, rep):
                    torch.set_num_threads(count)
                    server.set_threads(count)
                    prompt = Prompt(mask=plate.mask)
                    shot = f"flow-{name}-{rep}-{int(loaded)}-{count}"
                    modes = {
                        "bare": partial(measure.bare_session, tracker, frames, prompt, CPU),
                        "in_process": partial(
                            measure.in_process, tracker, engine, frames, prompt, CPU
                        ),
                        "full": partial(_full, server, shot, plate, n, "flow", "closed_form", True),
                    }
                    suffix = f" {count} threads" if len(threads) > 1 else ""
                    row: Dict[str, Any] = {
                        "part": "flow",
                        "config": f"flow+closed_form {name}{suffix}",
                        "size": name,
                        "rep": rep,
                        "loaded": loaded,
                        "threads": count,
                    }
                    with competing_load(loaded):
                        run_modes(row, modes, rep)
                    setup.results.add(row)
    finally:
        torch.set_num_threads(threads[0])
        server.close()


def _rotated(load: bool, threads: List[int], rep: int) -> List[Tuple[bool, int]]:
    """(loaded, threads) pairs, quiet first, thread counts in an order rotated by `rep`."""
    shift = rep % len(threads)
    order = threads[shift:] + threads[:shift]
    return [(loaded, count) for loaded in ((False, True) if load else (False,)) for count in order]


def sam2_part(setup: CpuSetup, engines: List[str]) -> None:
    """SAM2.1 tiny (random weights) at a small input: sam2's predictor, the project's session,
    in-process compute and the full server, per engine."""
    plate, frames = setup.plate(setup.sam2_size)
    models = random_models(setup.work / "models", ["tiny"], setup.sam2_input)
    config = BackendConfig(device="cpu", models_dir=models)
    jpegs = jpeg_folder(frames.images, setup.work / "jpeg-sam2")
    sam2_config = SAM2_TRACKERS["sam2.1-tiny"].config or ""
    prompt = Prompt(box=plate.box)
    n = setup.frames
    with input_size(setup.sam2_input):
        tracker = load_tracker("sam2.1-tiny", config, CPU)
        loaded = {e: load_engine(e, config, CPU, tracker="sam2.1-tiny") for e in engines}
        for engine in loaded.values():
            measure.warm_up(tracker, engine, frames, prompt, CPU)
        server = Server(setup.work / "sam2", "cpu", models, [setup.work])
        try:
            for rep in range(setup.reps):
                for name, engine in loaded.items():
                    shot = f"sam2-{name}-{rep}"
                    modes = {
                        "bare": partial(
                            measure.bare_sam2, sam2_config, jpegs, plate.box, CPU, setup.sam2_input
                        ),
                        "session": partial(measure.bare_session, tracker, frames, prompt, CPU),
                        "in_process": partial(
                            measure.in_process, tracker, engine, frames, prompt, CPU
                        ),
                        "full": partial(_full, server, shot, plate, n, "sam2.1-tiny", name, False),
                    }
                    row: Dict[str, Any] = {
                        "part": "sam2_cpu",
                        "config": f"sam2.1-tiny@{setup.sam2_input} + {name} {setup.sam2_size}",
                        "size": setup.sam2_size,
                        "rep": rep,
                        "loaded": False,
                        "engine": name,
                    }
                    run_modes(row, modes, rep)
                    setup.results.add(row)
        finally:
            server.close()
