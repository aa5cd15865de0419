"""Head training: real optimiser steps on CPU, heads change, the frozen tracker does not."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from sam2matting.backend.matting.heads import data as heads_data
from sam2matting.backend.matting.heads import train as train_heads
from sam2matting.backend.matting.heads.checkpoint import load_heads
from sam2matting.backend.matting.heads.losses import heads_loss, laplacian_loss, roi_target
from sam2matting.backend.matting.heads.model import SAM2MattingHeads

TRAIN_IMAGE_SIZE = 64  # the smallest input Hiera takes: CPU steps stay quick


def _composition_folder(root: Path) -> Path:
    """A tiny Composition-1k layout: 2 foregrounds with alpha, 2 backgrounds."""
    rng = np.random.default_rng(0)
    for sub in ("fg", "alpha", "bg"):
        (root / sub).mkdir(parents=True)
    for i in range(2):
        alpha = np.zeros((90, 120), np.uint8)
        cv2.circle(alpha, (60, 45), 30 + 5 * i, 255, -1)
        alpha = cv2.GaussianBlur(alpha, (0, 0), 2.0)
        fg = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "fg" / f"obj{i}.png"), fg)
        cv2.imwrite(str(root / "alpha" / f"obj{i}.png"), alpha)
        cv2.imwrite(
            str(root / "bg" / f"bg{i}.jpg"), rng.integers(0, 256, (80, 140, 3), dtype=np.uint8)
        )
    return root


def test_composition_loader_composites_on_the_fly(tmp_path: Path) -> None:
    data = heads_data.Composition1k(_composition_folder(tmp_path / "c1k"))
    assert len(data.pairs) == 2
    assert len(data.backgrounds) == 2
    s = data.sample(np.random.default_rng(3), 64)
    assert s.image.shape == (64, 64, 3)
    assert s.alpha.shape == (64, 64)
    assert s.mask.shape == (64, 64)
    assert s.alpha.min() >= 0.0
    assert s.alpha.max() <= 1.0
    assert set(np.unique(s.mask)) <= {0.0, 1.0}
    assert 0.0 < s.alpha.mean() < 1.0  # the crop holds part of the disc


def test_roi_target_marks_fractional_and_wrong_mask_pixels() -> None:
    alpha = torch.zeros(1, 1, 16, 16)
    alpha[..., 4:8, 4:8] = 0.5  # fractional
    alpha[..., 10:14, 10:14] = 1.0
    mask = torch.zeros(1, 1, 16, 16)  # misses the opaque square
    target = roi_target(alpha, mask, (16, 16))
    assert target[0, 0, 5, 5] == 1
    assert target[0, 0, 12, 12] == 1
    assert target[0, 0, 0, 15] == 0


def test_laplacian_loss_is_zero_only_for_equal_inputs() -> None:
    a = torch.rand(1, 1, 32, 32)
    assert float(laplacian_loss(a, a)) == 0.0
    assert float(laplacian_loss(a, torch.zeros_like(a))) > 0.1


def test_heads_loss_terms_are_finite() -> None:
    heads = SAM2MattingHeads().train()
    fpn = (torch.randn(2, 32, 16, 16), torch.randn(2, 64, 8, 8), torch.randn(2, 256, 4, 4))
    out = heads(fpn, torch.ones(2, 1, 16, 16), torch.randn(2, 3, 64, 64))
    terms = heads_loss(out, torch.rand(2, 1, 64, 64), torch.ones(2, 1, 64, 64))
    assert {"l1_1", "l1_2", "l1_3", "lap_3", "roi_bce", "total"} <= set(terms)
    assert all(torch.isfinite(v) for v in terms.values())


def test_training_steps_update_heads_only(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = train_heads.parse_args(
        [
            "--random-tracker",
            "--image-size",
            str(TRAIN_IMAGE_SIZE),
            "--steps",
            "2",
            "--batch",
            "2",
            "--warmup",
            "1",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--composition",
            str(_composition_folder(tmp_path / "c1k")),
            "--procedural",
            "0.5",
        ]
    )
    torch.manual_seed(args.seed)
    tracker = train_heads.build_tracker(args.config, None, args.image_size, torch.device("cpu"))
    heads = SAM2MattingHeads().train()
    before_heads = {k: v.clone() for k, v in heads.state_dict().items()}
    before_tracker = {k: v.clone() for k, v in tracker.state_dict().items()}
    optimiser = torch.optim.AdamW(heads.parameters(), lr=1e-3)
    source = heads_data.SampleSource(
        [heads_data.Composition1k(c) for c in args.composition], 0.5, args.image_size, 0
    )
    for _ in range(2):
        terms = train_heads.train_step(tracker, heads, source.batch(2), optimiser)
        assert np.isfinite(terms["total"])
        assert terms["total"] > 0
    changed = [
        k
        for k, v in heads.state_dict().items()
        if v.dtype.is_floating_point and not torch.equal(v, before_heads[k])
    ]
    assert len(changed) > 100
    assert all(torch.equal(v, before_tracker[k]) for k, v in tracker.state_dict().items())
    assert not any(p.requires_grad for p in tracker.parameters())


def test_train_cli_writes_a_loadable_official_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary = train_heads.train(
        train_heads.parse_args(
            [
                "--random-tracker",
                "--image-size",
                str(TRAIN_IMAGE_SIZE),
                "--steps",
                "1",
                "--batch",
                "1",
                "--warmup",
                "1",
                "--device",
                "cpu",
                "--out",
                str(out),
                "--procedural",
                "1.0",
            ]
        )
    )
    assert np.isfinite(summary["final"]["total"])
    heads = load_heads(out / "sam2matting_heads.pt", torch.device("cpu"))
    assert isinstance(heads, SAM2MattingHeads)
    assert (out / "train_log.json").is_file()
