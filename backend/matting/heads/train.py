"""Train the SAM2Matting heads on a frozen SAM2.1 tracker (heads only, as the paper does).

    python -m sam2matting.backend.matting.heads.train --tracker-checkpoint sam2.1_hiera_tiny.pt \
        --composition /data/Composition-1k/train --procedural 0.3 --steps 20000 --out runs/heads

Per step: a batch of square samples (Composition-1k layout composited on the fly, and/or
procedural ones), the frozen tracker's image encoder gives the backbone features (no gradient),
the heads predict ROI and alphas from features + tracker-like mask + image, and the loss
(`losses`) updates the heads only. The result is written in the official checkpoint layout
(tracker keys + head keys), so the backend loads it like a downloaded SAM2Matting checkpoint.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.device import autocast, resolve_device
from sam2matting.backend.matting.heads.data import Composition1k, HeadsBatch, SampleSource
from sam2matting.backend.matting.heads.losses import heads_loss
from sam2matting.backend.matting.heads.model import SAM2MattingHeads

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sam2matting.backend.matting.heads.train",
        description="Train SAM2Matting heads on a frozen SAM2.1 tracker.",
    )
    p.add_argument("--config", default=DEFAULT_CONFIG, help="sam2 package config of the tracker")
    p.add_argument(
        "--tracker-checkpoint",
        type=Path,
        default=None,
        help="SAM2.1 (or SAM2Matting) checkpoint with the tracker weights",
    )
    p.add_argument(
        "--random-tracker",
        action="store_true",
        help="keep the tracker's random initialisation (tests and smoke runs only)",
    )
    p.add_argument(
        "--init-heads",
        type=Path,
        default=None,
        help="start from the heads of this SAM2Matting checkpoint",
    )
    p.add_argument(
        "--composition",
        type=Path,
        action="append",
        default=[],
        help="Composition-1k style folder with fg/, alpha/, bg/ (repeatable)",
    )
    p.add_argument(
        "--procedural",
        type=float,
        default=0.3,
        help="fraction of procedural samples (1.0 without --composition)",
    )
    p.add_argument("--image-size", type=int, default=1024, help="square input size of the tracker")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=500, help="linear warm-up steps")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--save-every", type=int, default=2000)
    p.add_argument("--out", type=Path, default=Path("out/heads"))
    args = p.parse_args(argv)
    if args.tracker_checkpoint is None and not args.random_tracker:
        p.error("give --tracker-checkpoint (or --random-tracker for a smoke run)")
    return args


def build_tracker(
    config: str, checkpoint: Optional[Path], image_size: int, device: torch.device
) -> torch.nn.Module:
    """The frozen SAM2.1 image model: sam2's build_sam2, tracker keys loaded strictly."""
    from sam2.build_sam import build_sam2

    from sam2matting.backend.tracking.checkpoints import read_state_dict
    from sam2matting.backend.tracking.sam2_model import load_strict

    overrides = [f"++model.image_size={image_size}"] if image_size != 1024 else []
    model: torch.nn.Module = build_sam2(
        config, None, device="cpu", mode="eval", hydra_overrides_extra=overrides
    )
    if checkpoint is not None:
        load_strict(model, read_state_dict(Path(checkpoint)))  # head keys, if any, are ignored
    model.requires_grad_(False)
    return model.to(device).eval()


def tracker_features(tracker: Any, image: torch.Tensor) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """(fpn features, normalised image) of a (B, 3, S, S) [0, 1] batch, as the tracker sees it."""
    from sam2matting.backend.tracking.sam2_frames import IMG_MEAN, IMG_STD

    mean = torch.tensor(IMG_MEAN, device=image.device)[None, :, None, None]
    std = torch.tensor(IMG_STD, device=image.device)[None, :, None, None]
    normalised = (image - mean) / std
    with torch.no_grad():
        out = tracker.forward_image(normalised)
    return [f.detach() for f in out["backbone_fpn"][:3]], normalised


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up, then cosine decay to 5% of the base rate."""
    if step < warmup:
        return (step + 1) / max(warmup, 1)
    progress = (step - warmup) / max(total - warmup, 1)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def train_step(
    tracker: Any, heads: SAM2MattingHeads, batch: HeadsBatch, optimiser: torch.optim.Optimizer
) -> Dict[str, float]:
    """One optimiser step on the heads; returns the loss terms as floats."""
    device = batch.image.device
    with autocast(device):
        fpn, image = tracker_features(tracker, batch.image)
        size = fpn[0].shape[-2:]
        mask = (F.interpolate(batch.mask, size=size, mode="area") > 0.5).float()
        out = heads(fpn, mask, image)
        losses = heads_loss(out, batch.alpha, batch.mask)
    optimiser.zero_grad(set_to_none=True)
    losses["total"].backward()  # type: ignore[no-untyped-call]
    torch.nn.utils.clip_grad_norm_(heads.parameters(), 1.0)
    optimiser.step()
    return {k: float(v.detach()) for k, v in losses.items()}


def train(args: argparse.Namespace) -> Dict[str, Any]:
    """The training loop; returns the run's summary (also written to out/train_log.json)."""
    from sam2matting.backend.matting.heads.checkpoint import (
        heads_from_state,
        save_official_checkpoint,
    )
    from sam2matting.backend.tracking.checkpoints import read_state_dict

    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    tracker = build_tracker(args.config, args.tracker_checkpoint, args.image_size, device)
    heads = (
        heads_from_state(read_state_dict(args.init_heads), device)
        if args.init_heads
        else SAM2MattingHeads().to(device)
    )
    heads.train()
    optimiser = torch.optim.AdamW(heads.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: lr_factor(s, args.warmup, args.steps)
    )
    source = SampleSource(
        [Composition1k(c) for c in args.composition], args.procedural, args.image_size, args.seed
    )
    history: List[Dict[str, float]] = []
    start = time.perf_counter()
    for step in range(args.steps):
        terms = train_step(tracker, heads, source.batch(args.batch, device), optimiser)
        schedule.step()
        history.append({"step": step, **terms})
        if step % args.log_every == 0 or step == args.steps - 1:
            log.info(
                "step %d loss %.4f (roi %.4f, l1 %.4f)",
                step,
                terms["total"],
                terms["roi_bce"],
                terms["l1_3"],
            )
        if (step + 1) % args.save_every == 0 or step == args.steps - 1:
            save_official_checkpoint(
                args.out / "sam2matting_heads.pt", tracker.state_dict(), heads.state_dict()
            )
    summary = {
        "steps": args.steps,
        "seconds": time.perf_counter() - start,
        "final": history[-1] if history else {},
        "history": history,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_log.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
