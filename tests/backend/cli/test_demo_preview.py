"""The demo preview's hard-edge row: found on the hard part of the truth, measured, drawn."""

from __future__ import annotations

import numpy as np

from sam2matting.backend.cli import demo_preview


def _subject(size: int = 200) -> np.ndarray:
    """A hard-edged disc whose right half wears a 12 px soft fringe (hair, blur)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dist = np.hypot(xx - size / 2, yy - size / 2)
    hard = np.clip(60.5 - dist, 0.0, 1.0)
    soft = np.clip((72.0 - dist) / 12.0, 0.0, 1.0)
    return np.where(xx > size / 2, np.maximum(hard, soft), hard).astype(np.float32)


def test_hard_edge_point_avoids_the_soft_part() -> None:
    truth = _subject()
    point = demo_preview.hard_edge_point(truth)
    assert point is not None
    y, x = point
    assert x < 100 - 2  # on the hard (left) half
    assert abs(np.hypot(x - 100, y - 100) - 60) < 2  # on the edge
    assert demo_preview.hard_edge_point(np.clip(_subject() * 0.5, 0, 1)) is None


def test_preview_with_truth_adds_the_zoom_row_and_reports_the_core() -> None:
    truth = _subject()
    plate = np.repeat(truth[..., None], 3, axis=2)
    plain = demo_preview.preview_image([plate], [truth], ["frame 1"])
    zoomed = demo_preview.preview_image([plate], [truth], ["frame 1"], [truth])
    tile = demo_preview.TILE_WIDTH
    assert zoomed.shape[0] == plain.shape[0] + demo_preview.LABEL_HEIGHT + tile
    row = demo_preview.hard_edge_zoom(truth, truth)
    assert row.shape == (demo_preview.LABEL_HEIGHT + tile, tile, 3)
    zoom = row[demo_preview.LABEL_HEIGHT :, :, 0]
    assert set(np.unique(zoom > 0.5)) == {False, True}  # the edge is in view
    # a grey matte: the zoom shows it, and it is no solid core
    grey = demo_preview.hard_edge_zoom(truth * 0.6, truth)
    assert grey[demo_preview.LABEL_HEIGHT :].max() < 0.61


def test_preview_is_8_bit_and_the_zoom_row_is_visible() -> None:
    truth = _subject()
    plate = np.repeat(truth[..., None], 3, axis=2)
    image = demo_preview.preview_image([plate], [truth], ["frame 1"], [truth])
    assert image.dtype == np.uint8
    zoom = image[-demo_preview.TILE_WIDTH :, :-2]
    assert zoom.max() == 255  # the solid core, drawn at full scale like the rows above it
