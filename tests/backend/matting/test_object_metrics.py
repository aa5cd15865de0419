"""Hard-object measures and the tile-artifact check, on shapes whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from sam2matting.backend.matting import object_metrics as om


def _square(size: int = 64, lo: int = 16, hi: int = 48) -> np.ndarray:
    a = np.zeros((size, size), np.float32)
    a[lo:hi, lo:hi] = 1.0
    return a


def test_j_and_interior() -> None:
    truth = _square()
    assert om.j_index(truth, truth) == 1.0
    assert om.j_index(np.zeros_like(truth), np.zeros_like(truth)) == 1.0
    half = truth.copy()
    half[16:48, 32:48] = 0.4  # half the object below 0.5
    assert om.j_index(half, truth) == pytest.approx(0.5)
    assert om.interior_solid(truth, truth) == 1.0
    # interior: >= 3 px inside a 32 px square is 27 x 27 (distance from the nearest 0 pixel)
    assert om.interior_solid(half, truth) == pytest.approx(0.5, abs=0.08)
    assert np.isnan(om.interior_solid(truth, np.zeros_like(truth)))


def test_edge_width_measures_the_transition() -> None:
    truth = _square(96, 24, 72)
    assert om.edge_width(truth, truth) == pytest.approx(0.0)
    yy, xx = np.mgrid[0:96, 0:96].astype(np.float32)
    # a 10 px linear ramp across every edge: its 10-90 % span is 8 px (7-8 whole pixels)
    depth = np.minimum(np.minimum(xx - 19, 77 - xx), np.minimum(yy - 19, 77 - yy))
    ramp = np.clip(depth / 10.0, 0.0, 1.0).astype(np.float32)
    assert om.edge_width(ramp, truth) == pytest.approx(7.5, abs=0.75)
    assert np.isnan(om.edge_width(truth, np.zeros_like(truth)))


def _texture(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 0.8, (*shape, 3)).astype(np.float32)


def test_tile_artifacts_counts_blocks_without_image_support() -> None:
    rgb = _texture((80, 80))
    alpha = np.zeros((80, 80), np.float32)
    alpha[30:46, 30:46] = 0.5  # a 16 px grey block on textured ground: four sides
    assert om.tile_artifacts(alpha, rgb) == 4
    assert om.tile_artifacts(np.zeros_like(alpha), rgb) == 0


def test_tile_artifacts_ignore_real_edges_and_the_masks_own_edge() -> None:
    rgb = _texture((80, 80))
    alpha = np.zeros((80, 80), np.float32)
    alpha[20:60, 20:60] = 1.0
    edged = rgb.copy()
    edged[20:60, 20:60] += 0.3  # the image has the same square: supported
    assert om.tile_artifacts(alpha, np.clip(edged, 0, 1)) == 0
    assert om.tile_artifacts(alpha, rgb, mask=alpha) == 0  # the mask's own straight edge
    assert om.tile_artifacts(alpha, rgb) >= 4  # unsupported: each side, maybe cut by noise


def test_object_metrics_reports_the_mask_beside_the_engine() -> None:
    truth = _square()
    out = om.object_metrics(truth * 0.97, truth, truth, _texture(truth.shape))
    assert out["j"] == out["j_mask"] == 1.0
    assert out["interior"] == 1.0
    assert out["edge_width_truth"] == 0.0
    assert out["tile_artifacts"] == 0.0


def test_the_truths_own_straight_runs_are_counted_and_not_held_against_the_matte() -> None:
    # lace or a fence has straight runs of its own: a matte that follows them is scored beside
    # its truth, and only what it has beyond the truth's count is an artifact of the engine
    from sam2matting.backend.matting.evaluation import EvalReport, ImageResult

    rgb = _texture((96, 96))
    truth = np.zeros((96, 96), np.float32)
    truth[60:90, 5:35] = 1.0  # an object, whose own edge is the mask's (not counted)
    truth[20:36, 20:36] = 0.5  # and a straight-edged grey patch the image does not show
    follows = om.object_metrics(truth, truth, truth > 0.5, rgb)
    blocky = truth.copy()
    blocky[60:76, 60:76] = 0.5  # and a block of the engine's own
    draws = om.object_metrics(blocky, truth, truth > 0.5, rgb)
    assert follows["tile_artifacts"] == follows["tile_artifacts_truth"] == 4
    assert draws["tile_artifacts"] == 8
    assert draws["tile_artifacts_truth"] == 4

    def result(hard: dict) -> ImageResult:
        zero = {"sad": 1.0, "grad": 1.0}
        return ImageResult("x", 96, 96, 0.1, zero, zero, "exact", hard)

    report = EvalReport("e", "image", 0, [result(follows), result(draws)])
    summary = report.summary()
    assert summary["tile_artifacts"] == 12
    assert summary["tile_artifacts_beyond_truth"] == 4
