"""The guard-frontier benchmark: rules on cached unguarded alphas mean what the engine does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import pytest

from benchmarks import guard_frontier as frontier
from benchmarks import matting_quality as mq
from sam2matting.backend.matting.standalone import ImageMatter
from sam2matting.backend.matting.synthetic.devset import scene_items

SIZE = (72, 72)


@pytest.fixture
def tiny_sets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> List[int]:
    """Every set is two small procedural scenes; returns a list counting engine runs."""
    monkeypatch.setattr(mq, "items_for", lambda set_name, every: scene_items("hard", 1, SIZE))
    monkeypatch.setattr(frontier, "OUT_DIR", tmp_path)
    calls: List[int] = []

    class Counted(ImageMatter):
        def __call__(self, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
            calls.append(1)
            return np.asarray(super().__call__(rgb, mask))

    monkeypatch.setattr("benchmarks.guard_frontier.ImageMatter", Counted)
    return calls


def test_the_shipped_rule_on_cached_alphas_is_the_engine_with_its_guard(
    tiny_sets: List[int], tmp_path: Path
) -> None:
    alphas = frontier.unguarded(1, 5, tmp_path / "cache.npz")
    assert set(alphas) == {f"{s}/{m}" for s, masks in mq.SET_MASKS.items() for m in masks}
    assert frontier.check_cache(alphas, 1, 5) < 1e-6
    # and the check can fail: a rule applied to other alphas is not the engine's
    shifted = {k: [np.clip(a + 0.3, 0, 1) for a in v] for k, v in alphas.items()}
    assert frontier.check_cache(shifted, 1, 5) > 0.05


def test_the_cache_is_reused_for_the_same_code_and_rebuilt_for_other_code(
    tiny_sets: List[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache.npz"
    first = frontier.unguarded(1, 5, cache)
    runs = len(tiny_sets)
    assert runs == sum(len(v) for v in first.values()) > 0

    again = frontier.unguarded(1, 5, cache)
    assert len(tiny_sets) == runs  # read back, not matted again
    for key in first:
        for a, b in zip(first[key], again[key]):
            np.testing.assert_array_equal(a, b)

    monkeypatch.setattr(frontier, "code_hash", lambda: "other code")
    frontier.unguarded(1, 5, cache)
    assert len(tiny_sets) == 2 * runs


def test_guard_off_is_the_engines_alpha_and_relaxing_moves_towards_it(tiny_sets: List[int]) -> None:
    item = scene_items("hard", 1, SIZE)[0]
    rgb, gt = item.arrays()
    mask = (gt > 0.5).astype(np.float32)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.3, mask.shape) * (np.arange(SIZE[1]) < SIZE[1] // 3)  # a third
    alpha = np.clip(mask + noise, 0, 1).astype(np.float32)
    np.testing.assert_array_equal(frontier.RULES["guard 0"](rgb, mask, alpha), alpha)
    shipped = frontier.RULES["shipped"](rgb, mask, alpha)
    soft_off = frontier.RULES["soft: off"](rgb, mask, alpha)
    # where soft texture was found the rule keeps the engine's alpha, elsewhere the shipped one
    soft = frontier._regions(rgb, mask, alpha)["soft"]
    assert soft.any()
    assert (~soft).any()
    np.testing.assert_array_equal(soft_off[soft], alpha[soft])
    np.testing.assert_array_equal(soft_off[~soft], shipped[~soft])


def test_the_benchmark_writes_its_table_and_plot(tiny_sets: List[int], tmp_path: Path) -> None:
    assert frontier.main(["--rules", "shipped,guard 0", "--cache", str(tmp_path / "c.npz")]) == 0
    result = json.loads((tmp_path / "guard_frontier.json").read_text())["results"]
    assert set(result["rules"]) == {"shipped", "guard 0"}
    assert result["cache_check_max_diff"] < 1e-6
    for figures in result["rules"].values():
        assert 0.0 <= figures["soft mean SAD"] < 10.0
    assert (tmp_path / "guard_frontier.png").stat().st_size > 10_000
    with pytest.raises(SystemExit):
        frontier.main(["--rules", "no such rule", "--cache", str(tmp_path / "c.npz")])
