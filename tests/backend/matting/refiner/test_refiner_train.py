"""The training script on the CPU: real steps, checkpoints, resume, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sam2matting.backend.matting.refiner import checkpoint, train, weights
from sam2matting.backend.matting.refiner.data import encode, sample_rng, to_batch
from sam2matting.backend.matting.refiner.losses import refiner_loss
from sam2matting.backend.matting.refiner.model import Refiner

TINY = [
    "--tile",
    "48",
    "--batch",
    "2",
    "--val-samples",
    "2",
    "--warmup-bank",
    "2",
    "--bank",
    "8",
    "--log-every",
    "1",
    "--workers",
    "0",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--seed",
    "5",
]


def test_cli_help_lists_the_budget_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        train.parse_args(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--minutes", "--total-minutes", "--resume", "--textures", "--workers"):
        assert flag in text


def test_smoke_run_writes_curves_checkpoint_and_weights(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train.main([*TINY, "--out", str(out), "--max-steps", "3"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [row["step"] for row in history["train"]] == [1, 2, 3]
    assert all(np.isfinite(row["loss"]) and row["loss"] > 0 for row in history["train"])
    assert history["val"][-1]["step"] == 3
    assert (out / "loss.png").stat().st_size > 1000
    assert checkpoint.exists(out / "checkpoint.pt")
    info = json.loads((out / "weights" / weights.INFO_NAME).read_text())
    assert info["recipe"]["steps"] == 3
    assert info["bytes"] <= weights.MAX_BYTES
    assert weights.load(out / "weights").training is False


def test_resume_continues_where_the_run_stopped(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train.main([*TINY, "--out", str(out), "--max-steps", "2"])
    first = checkpoint.load(out / "checkpoint.pt")
    train.main([*TINY, "--out", str(out), "--max-steps", "4", "--resume"])
    second = checkpoint.load(out / "checkpoint.pt")
    history = json.loads((out / "history.json").read_text())
    assert [row["step"] for row in history["train"]] == [1, 2, 3, 4]
    assert second["step"] == 4
    # Adam's own step count carried over: the optimizer state was restored, not restarted.
    assert float(second["optimizer"]["state"][0]["step"]) == 4.0
    assert second["next_sample"] > first["next_sample"]  # fresh samples, not repeats
    # the LR schedule continued: the last step ran at the end of the decay
    assert history["train"][-1]["lr"] < history["train"][1]["lr"]
    changed = [
        not torch.equal(first["model"][k], v)
        for k, v in second["model"].items()
        if v.is_floating_point()
    ]
    assert any(changed)


def test_loss_decreases_when_overfitting_a_fixed_batch() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    samples = [encode(sample_rng(0, 0, i), 48, None) for i in range(2)]
    batch = to_batch({k: torch.from_numpy(np.stack([s[k] for s in samples])) for k in samples[0]})
    model = Refiner()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(25):
        loss = refiner_loss(model(batch.rgb, batch.coarse, batch.trimap), batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.7 * losses[0]


def test_checkpoint_shards_round_trip_and_stale_parts_go(tmp_path: Path) -> None:
    model = torch.nn.Linear(300, 300)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(2, 300)).sum().backward()
    opt.step()
    prefix = tmp_path / "ck.pt"
    (tmp_path / "ck.pt.007").write_bytes(b"stale")
    parts = checkpoint.save(
        prefix,
        {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 1},
        shard_mb=0.1,
    )
    assert len(parts) >= 3
    assert not (tmp_path / "ck.pt.007").exists()
    assert all(p.stat().st_size <= 0.1 * 1024 * 1024 for p in parts)
    state = checkpoint.load(prefix)
    torch.testing.assert_close(state["model"]["weight"], model.state_dict()["weight"])
    moment = state["optimizer"]["state"][0]["exp_avg"]
    assert moment.dtype == torch.float32
    torch.testing.assert_close(
        moment, opt.state_dict()["state"][0]["exp_avg"], rtol=1e-2, atol=1e-6
    )


def test_learning_rate_schedule_warms_up_and_decays() -> None:
    args = train.parse_args(["--max-steps", "100", "--lr", "1e-3"])
    lrs = [train.lr_at(args, train.RunState(step=s)) for s in (0, 3, 50, 100)]
    assert lrs[0] < lrs[1] == pytest.approx(1e-3, rel=0.01)
    assert lrs[1] > lrs[2] > lrs[3] == pytest.approx(2e-5, rel=0.01)
