"""Train the edge refiner on procedural composites: `python -m ...matting.refiner.train --help`.

Runs on the GPU machine with torch, numpy, opencv, scipy, pillow and matplotlib only. A run is
budgeted in minutes (`--minutes` for this call, `--total-minutes` for the learning-rate schedule
across calls) and can be resumed from its sharded checkpoint (`--resume`), because one call on
the GPU machine is limited to under ten minutes. Everything is seeded; with `--workers 0` a run
is also reproducible step for step (worker processes make the sample order timing-dependent).
See MODEL_CARD.md and benchmarks/refiner_train_gpu.sh for the recipe.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from sam2matting.backend.matting.refiner import checkpoint, report, weights
from sam2matting.backend.matting.refiner.data import (
    TRAIN_STREAM,
    Batch,
    Producer,
    SampleBank,
    encode,
    load_textures,
    sample_rng,
)
from sam2matting.backend.matting.refiner.losses import refiner_loss
from sam2matting.backend.matting.refiner.model import Refiner, RefinerConfig, parameter_count
from sam2matting.backend.matting.refiner.validation import validate, validation_set

log = logging.getLogger("sam2matting.refiner.train")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sam2matting.backend.matting.refiner.train",
        description="Train the learned edge refiner on procedural composites.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("out/refiner"),
        help="folder for checkpoint shards, loss curves and exported weights",
    )
    p.add_argument(
        "--textures",
        nargs="*",
        default=[],
        help="photo folders and/or .npz texture packs (none: procedural textures)",
    )
    p.add_argument("--minutes", type=float, default=9.0, help="wall-clock budget of this call")
    p.add_argument(
        "--total-minutes",
        type=float,
        default=None,
        help="length of the LR schedule over all calls (default: --minutes)",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="stop after this many steps; also schedules the LR by steps",
    )
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt.*")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="sample-generating processes (default: CPUs - 2 on CUDA, 0 on CPU)",
    )
    p.add_argument("--bank", type=int, default=20000, help="samples kept on the device")
    p.add_argument(
        "--warmup-bank", type=int, default=512, help="samples in the bank before the first step"
    )
    p.add_argument(
        "--fresh-per-step",
        type=int,
        default=1,
        help="samples generated inline per step when --workers 0",
    )
    p.add_argument("--val-samples", type=int, default=128)
    p.add_argument("--val-every", type=float, default=60.0, help="seconds between validations")
    p.add_argument("--log-every", type=int, default=25, help="steps between loss records")
    p.add_argument("--checkpoint-every", type=float, default=120.0, help="seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads in the training process (default: 2 with workers)",
    )
    p.add_argument(
        "--export",
        type=Path,
        default=None,
        help="where to write fp16 weights at the end (default: <out>/weights)",
    )
    return p.parse_args(argv)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class RunState:
    """What a checkpoint carries besides the model and optimizer."""

    step: int = 0
    elapsed: float = 0.0  # training seconds over all calls
    next_sample: int = 0  # index of the next training sample to generate
    train_log: List[Dict[str, float]] = field(default_factory=list)
    val_log: List[Dict[str, float]] = field(default_factory=list)


def lr_at(args: argparse.Namespace, run: RunState) -> float:
    """Linear warm-up over the first 3%, then cosine decay to 2% of the peak."""
    if args.max_steps:
        progress = run.step / args.max_steps
    else:
        progress = run.elapsed / (60.0 * (args.total_minutes or args.minutes))
    progress = min(max(progress, 0.0), 1.0)
    if progress < 0.03:
        return float(args.lr * max(progress / 0.03, 0.02))
    cos = 0.5 * (1 + math.cos(math.pi * (progress - 0.03) / 0.97))
    return float(args.lr * (0.02 + 0.98 * cos))


class Trainer:
    """One call of a (possibly resumed) training run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = pick_device(args.device)
        self.cuda = self.device.type == "cuda"
        seed_everything(args.seed)
        self.model = Refiner(RefinerConfig()).to(self.device)
        if self.cuda:
            torch.backends.cudnn.benchmark = True
            self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=args.lr, weight_decay=args.weight_decay
        )
        # Per-sample randomness on the device (drawing never waits for the GPU); per-batch
        # decisions on the CPU.
        self.gen = torch.Generator(device=self.device).manual_seed(args.seed)
        self.cpu_gen = torch.Generator().manual_seed(args.seed + 1)
        self.run = RunState()
        self._last_log: Tuple[int, float, int] = (0, 0.0, 0)  # step, time, samples added
        self._loss_sum: Dict[str, Any] = {}  # loss terms summed since the last record
        self.ckpt = args.out / "checkpoint.pt"
        if args.resume:
            self._restore()
        workers = (
            args.workers
            if args.workers is not None
            else (max(1, (os.cpu_count() or 2) - 2) if self.cuda else 0)
        )
        self.workers = workers
        if workers > 0 and args.threads is None:
            torch.set_num_threads(2)  # the cores belong to the sample workers
        elif args.threads is not None:
            torch.set_num_threads(args.threads)
        self.textures = load_textures(args.textures, args.seed)
        self.bank = SampleBank(args.bank, args.tile, self.device)
        self.producer: Optional[Producer] = None
        if workers > 0:
            self.producer = Producer(
                args.textures, args.seed, args.tile, workers, self.run.next_sample
            )
        log.info(
            "device %s, %d parameters, %d workers, textures: %s",
            self.device,
            parameter_count(self.model),
            workers,
            f"{len(self.textures)} images" if args.textures else "procedural",
        )

    def _restore(self) -> None:
        state = checkpoint.load(self.ckpt)
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.gen.set_state(state["generator"])
        self.cpu_gen.set_state(state["cpu_generator"])
        self.run = RunState(
            step=int(state["step"]),
            elapsed=float(state["elapsed"]),
            next_sample=int(state["next_sample"]),
            train_log=list(state["train_log"]),
            val_log=list(state["val_log"]),
        )
        log.info("resumed at step %d after %.1f min", self.run.step, self.run.elapsed / 60)

    def save(self) -> None:
        if self.producer is not None:
            self.run.next_sample = self.producer.next_index
        checkpoint.save(
            self.ckpt,
            {
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "generator": self.gen.get_state(),
                "cpu_generator": self.cpu_gen.get_state(),
                "step": self.run.step,
                "elapsed": self.run.elapsed,
                "next_sample": self.run.next_sample,
                "train_log": self.run.train_log,
                "val_log": self.run.val_log,
            },
        )
        report.write_json(
            self.args.out / "history.json", {"train": self.run.train_log, "val": self.run.val_log}
        )
        report.plot(self.args.out / "loss.png", self.run.train_log, self.run.val_log)

    def _inline(self, count: int) -> None:
        for _ in range(count):
            rng = sample_rng(self.args.seed, TRAIN_STREAM, self.run.next_sample)
            self.bank.add([encode(rng, self.args.tile, self.textures)])
            self.run.next_sample += 1

    def refill(self, warmup: bool) -> None:
        """Move finished samples into the bank (waiting for the first ones at start)."""
        if self.producer is None:
            target = self.args.warmup_bank if warmup else self.args.fresh_per_step
            self._inline(max(0, min(target, self.args.bank) - (self.bank.filled if warmup else 0)))
            return
        if warmup:
            while self.bank.filled < min(self.args.warmup_bank, self.args.bank):
                self.bank.add([self.producer.get(timeout=600.0)])
        self.bank.add(self.producer.drain(64))

    def step(self) -> Dict[str, torch.Tensor]:
        args = self.args
        transpose = bool(torch.rand((), generator=self.cpu_gen) < 0.5)
        b = self.bank.draw(args.batch, self.gen, transpose)
        if self.cuda:
            b = Batch(
                *(
                    t.contiguous(memory_format=torch.channels_last)
                    for t in (b.rgb, b.fg, b.bg, b.alpha, b.coarse, b.trimap)
                )
            )
        for group in self.opt.param_groups:
            group["lr"] = lr_at(args, self.run)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cuda):
            pred = self.model(b.rgb, b.coarse, b.trimap)
        losses = refiner_loss(pred.float(), b)
        self.opt.zero_grad(set_to_none=True)
        losses["loss"].backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.run.step += 1
        return losses

    def _done(self, call_start: float) -> bool:
        args = self.args
        reserve = 30.0 if self.cuda else 5.0  # final validation, checkpoint and export
        if time.monotonic() - call_start > 60.0 * args.minutes - reserve:
            return True
        if args.max_steps is not None:
            return bool(self.run.step >= args.max_steps)
        return bool(self.run.elapsed >= 60.0 * (args.total_minutes or args.minutes))

    def fit(self) -> Dict[str, Any]:
        args = self.args
        call_start = time.monotonic()
        val = validation_set(args.seed, args.val_samples, args.tile, self.textures, self.device)
        self.refill(warmup=True)
        log.info(
            "bank warm (%d samples) after %.1fs", self.bank.filled, time.monotonic() - call_start
        )
        self.model.train()
        last_val = last_ckpt = tick = time.monotonic()
        self._last_log = (self.run.step, tick, self.bank.added)
        while not self._done(call_start):
            self.refill(warmup=False)
            losses = self.step()
            for k, v in losses.items():  # summed on the device: no wait for the GPU per step
                self._loss_sum[k] = self._loss_sum.get(k, 0.0) + v.detach()
            now = time.monotonic()
            self.run.elapsed += now - tick
            tick = now
            if self.run.step % args.log_every == 0:
                self._log_train()
            if now - last_val > args.val_every:
                self._log_val(val)
                last_val = time.monotonic()
            if now - last_ckpt > args.checkpoint_every:
                self.save()
                last_ckpt = time.monotonic()
        self._log_val(val)
        return self.finish()

    def _log_train(self) -> None:
        """Mean losses since the last record, throughput, learning rate."""
        now, last = time.monotonic(), self._last_log
        steps = max(self.run.step - last[0], 1)
        row = {k: float(v) / steps for k, v in self._loss_sum.items()}
        self._loss_sum = {}
        rate = (self.run.step - last[0]) / max(now - last[1], 1e-9)
        fresh = (self.bank.added - last[2]) / max(now - last[1], 1e-9)
        self._last_log = (self.run.step, now, self.bank.added)
        row.update(
            step=self.run.step,
            minutes=self.run.elapsed / 60.0,
            lr=self.opt.param_groups[0]["lr"],
            bank=self.bank.filled,
            generated=self.bank.added,
            steps_per_s=rate,
            samples_per_s=fresh,
        )
        self.run.train_log.append(row)
        log.info(
            "step %d  loss %.4f  l1 %.4f  lr %.2e  %.1f steps/s  %.0f new samples/s  bank %d",
            row["step"],
            row["loss"],
            row["l1"],
            row["lr"],
            rate,
            fresh,
            self.bank.filled,
        )

    def _log_val(self, val: Batch) -> None:
        row = validate(self.model, val, self.args.batch)
        row.update(step=self.run.step, minutes=self.run.elapsed / 60.0)
        self.run.val_log.append(row)
        log.info(
            "val step %d: band SAD %.3f (mask %.3f), MSE %.5f (mask %.5f)",
            row["step"],
            row["sad"],
            row["sad_coarse"],
            row["mse"],
            row["mse_coarse"],
        )

    def finish(self) -> Dict[str, Any]:
        if self.producer is not None:
            self.producer.close()
        self.save()
        recipe = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self.args).items()}
        recipe.update(
            steps=self.run.step,
            minutes=self.run.elapsed / 60.0,
            samples_generated=self.run.next_sample,
            final_val=self.run.val_log[-1],
            device=str(self.device),
        )
        model = self.model.to(memory_format=torch.contiguous_format)
        info = weights.export(model, self.args.export or self.args.out / "weights", recipe)
        log.info("exported %s (%.1f MB)", info["weights"], info["bytes"] / 2**20)
        return info


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    if not args.textures:
        log.warning("no --textures: training on procedural textures only")
    Trainer(args).fit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
