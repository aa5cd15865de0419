"""The procedural development sets: exact alpha, deterministic by name, the structures asked for."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.backend.matting.synthetic import hard_objects, structures
from sam2matting.backend.matting.synthetic.devset import make_scene, scene_items, scene_names

SIZE = (120, 160)


@pytest.mark.parametrize("name", scene_names("dense", 1) + scene_names("hard", 1))
def test_scenes_are_exact_composites_and_deterministic(name: str) -> None:
    scene = make_scene(name, SIZE)
    again = make_scene(name, SIZE)
    assert np.array_equal(scene.image, again.image)
    assert np.array_equal(scene.alpha, again.alpha)
    assert scene.image.shape == (*SIZE, 3)
    assert scene.alpha.shape == SIZE
    assert scene.alpha.min() >= 0.0
    assert scene.alpha.max() <= 1.0
    assert 0.001 < scene.alpha.mean() < 0.9  # something in view, not everything
    assert scene.hard == (not name.startswith("polygons_blur"))


def test_other_names_give_other_scenes_and_bad_names_say_what_exists() -> None:
    assert not np.array_equal(make_scene("lace-0", SIZE).alpha, make_scene("lace-1", SIZE).alpha)
    with pytest.raises(ValueError, match="wire_mesh"):
        make_scene("fog-0", SIZE)
    with pytest.raises(ValueError, match="dense"):
        scene_names("fog", 1)


def test_mesh_and_lace_have_holes_inside_the_object() -> None:
    rng = np.random.default_rng(0)
    for make in (structures.wire_mesh, structures.lace, structures.chain_link):
        alpha = make(rng, (160, 200), 4)
        assert (alpha > 0.99).mean() > 0.02  # opaque structure
        assert (alpha < 0.01).mean() > 0.2
        # holes: the background falls apart into many separate pieces
        pieces, _ = cv2.connectedComponents((alpha < 0.5).astype(np.uint8), connectivity=4)
        assert pieces - 1 >= 10


def test_thin_lines_are_sub_pixel_with_fractional_coverage() -> None:
    alpha = structures.thin_lines(np.random.default_rng(3), (200, 200), 4)
    fractional = (alpha > 0.02) & (alpha < 0.98)
    assert fractional.mean() > 0.002
    # far from the body, a line's coverage across it sums to its width (at most 2.5 px)
    column = alpha[:, 5]
    if column.sum() > 0:
        assert column.sum() < 2.6 * 3


def test_hard_polygons_are_anti_aliased_and_motion_blur_widens_the_edge() -> None:
    rng = np.random.default_rng(1)
    alpha = hard_objects.polygons(rng, (160, 160), 4)
    fractional = (alpha > 0.01) & (alpha < 0.99)
    edge = np.abs(np.diff((alpha > 0.5).astype(int), axis=1)).sum()
    assert fractional.sum() <= 2.5 * edge  # about one pixel across the edge
    fg = np.full((160, 160, 3), 0.5, np.float32)
    blurred, _ = hard_objects.motion_blurred(rng, alpha, fg)
    assert ((blurred > 0.01) & (blurred < 0.99)).sum() > 2 * fractional.sum()
    assert abs(blurred.sum() - alpha.sum()) < 0.02 * alpha.sum()  # coverage is conserved


def test_scene_items_load_the_named_scenes() -> None:
    items = scene_items("hard", 1, SIZE)
    assert [i.name for i in items] == ["polygons-0", "polygons_blur-0"]
    rgb, alpha = items[0].arrays()
    assert np.array_equal(alpha, make_scene("polygons-0", SIZE).alpha)
    assert rgb.shape == (*SIZE, 3)
