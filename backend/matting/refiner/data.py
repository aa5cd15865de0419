"""Training data for the refiner: samples generated on CPU workers into a bank on the device.

Generating a sample costs tens of milliseconds of CPU; a training step on a GPU consumes dozens
in about as long. So CPU workers keep adding fresh samples to a ring-buffer bank that lives on
the training device, and each batch is drawn from the bank with cheap device-side augmentation
(flips, transposes, background swaps, colour gains, softened priors). Each sample is made from
its own seed, `SeedSequence([seed, stream, index])`, so training and validation never overlap.
Imports only numpy, cv2 and torch (the training machine has no pymatting or OpenEXR).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.matting import band as bandlib
from sam2matting.backend.matting.synthetic.sample import make_sample
from sam2matting.backend.matting.synthetic.textures import TexturePool

log = logging.getLogger(__name__)

TRAIN_STREAM = 0
VAL_STREAM = 1
FIELDS = ("fg", "bg", "alpha", "mask", "trimap")


@dataclass
class _WorkerState:
    seed: int = 0
    tile: int = 0
    pool: Optional[TexturePool] = None


# Set in each worker process by `_init_worker`: the texture pool is loaded once per worker.
_WORKER = _WorkerState()


def sample_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """The generator for sample `index` of a stream (train or validation)."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, index]))


def engine_trimap(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """The pseudo-trimap the engine hands the refiner: the band stage's candidate zone around
    the mask, at a random reach (the engine's default is 32 px; users may pick 4-128)."""
    params = bandlib.BandParams(max_width=float(rng.uniform(6.0, 48.0)))
    return bandlib.trimap_from(bandlib.candidate_zone(mask, params), mask)


def encode(
    rng: np.random.Generator, tile: int, textures: Optional[TexturePool]
) -> Dict[str, np.ndarray]:
    """One sample as compact CHW arrays: uint8 colour/mask/trimap, float16 alpha.

    Mostly the engine's own band as trimap; sometimes the sample's (a symmetric band around the
    mask, or a true trimap around the fractional alpha, as a user-drawn trimap would be).
    """
    s = make_sample(rng, tile, textures)
    trimap = engine_trimap(rng, s.mask) if rng.random() < 0.85 else s.trimap
    return {
        "fg": np.ascontiguousarray((s.fg.transpose(2, 0, 1) * 255 + 0.5).astype(np.uint8)),
        "bg": np.ascontiguousarray((s.bg.transpose(2, 0, 1) * 255 + 0.5).astype(np.uint8)),
        "alpha": s.alpha[None].astype(np.float16),
        "mask": (s.mask[None] > 0.5).astype(np.uint8),
        "trimap": np.round(trimap[None] * 2).astype(np.uint8),  # 0 / 1 / 2
    }


def _init_worker(sources: Sequence[str], seed: int, tile: int) -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already
    torch.set_num_threads(1)
    _WORKER.seed, _WORKER.tile = seed, tile
    _WORKER.pool = load_textures(sources, seed)


def load_textures(sources: Sequence[str], seed: int) -> TexturePool:
    """The photo pool from folders/packs, or one procedural pool when none are given."""
    if sources:
        return TexturePool.load(list(sources))
    return TexturePool.procedural(seed, count=16, side=256)


def _generate(index: int) -> Dict[str, np.ndarray]:
    return encode(sample_rng(_WORKER.seed, TRAIN_STREAM, index), _WORKER.tile, _WORKER.pool)


@dataclass
class Batch:
    """Float tensors on the device: rgb (N,3,h,w), fg, bg, alpha/coarse/trimap (N,1,h,w)."""

    rgb: torch.Tensor
    fg: torch.Tensor
    bg: torch.Tensor
    alpha: torch.Tensor
    coarse: torch.Tensor
    trimap: torch.Tensor


def to_batch(arrays: Dict[str, torch.Tensor]) -> Batch:
    """Stored arrays (uint8 / float16, on the device) -> a float batch with the composite."""
    fg = arrays["fg"].float() / 255.0
    bg = arrays["bg"].float() / 255.0
    alpha = arrays["alpha"].float()
    return Batch(
        rgb=alpha * fg + (1 - alpha) * bg,
        fg=fg,
        bg=bg,
        alpha=alpha,
        coarse=arrays["mask"].float(),
        trimap=arrays["trimap"].float() / 2.0,
    )


class SampleBank:
    """A ring buffer of encoded samples on the training device."""

    def __init__(self, capacity: int, tile: int, device: torch.device) -> None:
        shapes = {"fg": 3, "bg": 3, "alpha": 1, "mask": 1, "trimap": 1}
        self.data = {
            k: torch.zeros(
                (capacity, c, tile, tile),
                device=device,
                dtype=torch.float16 if k == "alpha" else torch.uint8,
            )
            for k, c in shapes.items()
        }
        self.device = device
        self.capacity = capacity
        self.filled = 0
        self.added = 0

    def add(self, samples: Sequence[Dict[str, np.ndarray]]) -> None:
        """Store samples, overwriting the oldest; one host-to-device copy per field."""
        samples = list(samples)[-self.capacity :]
        if not samples:
            return
        n = len(samples)
        slots = (torch.arange(n, device=self.device) + self.added) % self.capacity
        cuda = self.device.type == "cuda"
        for k in FIELDS:
            stacked = torch.from_numpy(np.stack([s[k] for s in samples]))
            if cuda:  # pinned memory: the copy does not wait for the GPU to finish its work
                stacked = stacked.pin_memory()
            self.data[k][slots] = stacked.to(self.device, non_blocking=cuda)
        self.added += n
        self.filled = min(self.filled + n, self.capacity)

    def draw(self, batch: int, gen: torch.Generator, transpose: bool) -> Batch:
        """A random augmented batch from the filled part of the bank.

        `gen` lives on the bank's device, so drawing never waits for the GPU.
        """
        idx = torch.randint(self.filled, (batch,), generator=gen, device=self.device)
        picked = {k: v[idx] for k, v in self.data.items()}
        return augment(to_batch(picked), gen, transpose)


def augment(b: Batch, gen: torch.Generator, transpose: bool) -> Batch:
    """Device-side augmentation that keeps rgb == alpha*fg + (1-alpha)*bg."""
    n = b.fg.shape[0]
    rand = torch.rand((n, 11), generator=gen, device=b.fg.device)
    fields = [b.fg, b.bg, b.alpha, b.coarse, b.trimap]
    flip_x, flip_y, swap = rand[:, 0] < 0.5, rand[:, 1] < 0.5, rand[:, 2] < 0.5
    fields = [torch.where(flip_x.view(-1, 1, 1, 1), t.flip(-1), t) for t in fields]
    fields = [torch.where(flip_y.view(-1, 1, 1, 1), t.flip(-2), t) for t in fields]
    if transpose:  # tiles are square
        fields = [t.transpose(-1, -2) for t in fields]
    fg, bg, alpha, coarse, trimap = fields
    perm = torch.roll(torch.arange(n, device=bg.device), 1)
    bg = torch.where(swap.view(-1, 1, 1, 1), bg[perm], bg)  # new background, same subject
    fg = (fg * (0.8 + 0.4 * rand[:, 4:7, None, None])).clamp(0, 1)
    bg = (bg * (0.8 + 0.4 * rand[:, 7:10, None, None])).clamp(0, 1)
    soft = (rand[:, 10] < 0.2).view(-1, 1, 1, 1)  # sometimes the prior is an earlier soft alpha
    coarse = torch.where(
        soft, F.avg_pool2d(coarse, 5, stride=1, padding=2, count_include_pad=False), coarse
    )
    rgb = alpha * fg + (1 - alpha) * bg
    return Batch(rgb=rgb, fg=fg, bg=bg, alpha=alpha, coarse=coarse, trimap=trimap)


def _worker_loop(
    sources: Sequence[str],
    seed: int,
    tile: int,
    first: int,
    stride: int,
    out: mp.Queue[Dict[str, np.ndarray]],
    stop: EventType,
) -> None:
    """Generate samples first, first + stride, ... until told to stop."""
    _init_worker(sources, seed, tile)
    index = first
    while not stop.is_set():
        sample = _generate(index)
        sample["index"] = np.array(index, np.int64)
        while not stop.is_set():
            try:
                out.put(sample, timeout=0.5)
                break
            except queue.Full:
                continue
        index += stride


class Producer:
    """Worker processes generating training samples into a queue the training loop drains.

    Worker w makes samples start + w, start + w + W, ...; `next_index` (for a resumed run)
    is past every sample received so far and every one a worker may still be holding.
    """

    def __init__(
        self, sources: Sequence[str], seed: int, tile: int, workers: int, start_index: int
    ) -> None:
        # spawn, not fork: the parent holds CUDA state and threads that fork would copy badly.
        ctx = mp.get_context("spawn")
        self._queue: mp.Queue[Dict[str, np.ndarray]] = ctx.Queue(maxsize=8 * workers)
        self._stop = ctx.Event()
        self._workers = workers
        self._start = start_index
        self._max_seen = start_index - 1
        self._procs = [
            ctx.Process(
                target=_worker_loop,
                args=(list(sources), seed, tile, start_index + w, workers, self._queue, self._stop),
                daemon=True,
                name=f"refiner-data-{w}",
            )
            for w in range(workers)
        ]
        for proc in self._procs:
            proc.start()

    @property
    def next_index(self) -> int:
        # Beyond anything received, and beyond what each worker may hold or have queued.
        return self._max_seen + 1 + self._workers * 10

    def _take(self, sample: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        self._max_seen = max(self._max_seen, int(sample.pop("index")))
        return sample

    def drain(self, limit: int) -> List[Dict[str, np.ndarray]]:
        """Up to `limit` finished samples, without waiting."""
        out: List[Dict[str, np.ndarray]] = []
        while len(out) < limit:
            try:
                out.append(self._take(self._queue.get_nowait()))
            except queue.Empty:
                break
        return out

    def get(self, timeout: float) -> Dict[str, np.ndarray]:
        """One finished sample, waiting up to `timeout` seconds."""
        if not any(p.is_alive() for p in self._procs):
            raise RuntimeError("all sample workers have exited; see their traceback above")
        return self._take(self._queue.get(timeout=timeout))

    def close(self) -> None:
        """Stop the workers (they may be blocked on a full queue: terminate stragglers)."""
        self._stop.set()
        for proc in self._procs:
            proc.join(timeout=2.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5.0)
        self._queue.cancel_join_thread()
        self._queue.close()
