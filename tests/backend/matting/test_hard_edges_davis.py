"""The weight-free engine, as shipped, on the DAVIS dev frames round 5 left a seam or a grey core
on (docs/MATTING.md, "Issue 11, round 6"), given their exact masks: a hard object keeps a solid
core, all of itself, and no straight step the image does not have."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sam2matting.backend.matting import evaluation, object_metrics
from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine
from sam2matting.backend.matting.standalone import ImageMatter

# frame: what round 5's guard did to it (tile artifacts, interior solid)
FRAMES = {
    "car-shadow/00015": "a seam 4-5 px inside the roof's straight edge (1, 0.994)",
    "dance-twirl/00030": "a seam 4-5 px inside the arm's straight edge (1, 0.989)",
    "libby/00045": "a grey band 3-4 px inside the dog's edge (0, 0.981)",
}


@pytest.fixture(scope="module")
def matter() -> ImageMatter:
    return ImageMatter(ClosedFormEngine(), torch.device("cpu"))


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_a_hard_object_given_its_exact_mask_keeps_a_solid_core_and_no_seam(
    shared_data: Path, matter: ImageMatter, name: str
) -> None:
    items = [i for i in evaluation.find_items(shared_data / "davis") if i.name == name]
    assert items, f"{name} not in {shared_data / 'davis'}"
    rgb, gt = items[0].arrays()
    mask, _ = evaluation.make_mask(gt, "exact", np.random.default_rng(0))

    alpha = matter(rgb, mask)

    found = object_metrics.object_metrics(alpha, gt, mask, rgb)
    assert found["tile_artifacts"] == 0, FRAMES[name]
    assert found["interior"] >= 0.99, FRAMES[name]
    assert found["j"] >= 0.97 * found["j_mask"]
