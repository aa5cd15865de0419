"""The weight-free engine on its work crop gives exactly its whole-frame answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Tuple

import numpy as np
import pytest
import torch

from sam2matting.backend.matting.base import MattingInput
from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine

Pads = Tuple[Tuple[int, int], Tuple[int, int]]


def _placed(dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray], pads: Pads) -> MattingInput:
    """The real photo and its tracker-like mask inside a larger frame of real texture (the
    photo mirrored), so most of the frame is out of the engine's reach."""
    rgb, _gt, mask = dev_image
    big = np.pad(rgb, (*pads, (0, 0)), mode="reflect")
    m = np.pad(mask, pads)
    return MattingInput(
        rgb=torch.from_numpy(np.ascontiguousarray(big.transpose(2, 0, 1))).float(),
        mask=torch.from_numpy(m).float(),
    )


@pytest.mark.parametrize(
    "pads",
    [
        ((300, 301), (400, 399)),  # in the middle, odd frame size
        ((0, 330), (0, 420)),  # at the top left corner
        ((311, 0), (405, 0)),  # at the bottom right, odd offsets
    ],
)
def test_cropped_matte_equals_the_whole_frame_matte(
    dev_image: Tuple[np.ndarray, np.ndarray, np.ndarray], pads: Pads
) -> None:
    inp = _placed(dev_image, pads)
    cropped = ClosedFormEngine()
    whole = ClosedFormEngine(replace(cropped.params, crop=False))
    box = cropped._work_box(inp.mask, 2)
    assert box is not None
    h, w = inp.mask.shape
    area = (box[0].stop - box[0].start) * (box[1].stop - box[1].start)
    assert area < 0.8 * h * w  # the crop leaves out part of the frame
    a_crop, a_whole = cropped.run(inp), whole.run(inp)
    assert torch.equal(a_crop, a_whole)
    changed = (a_whole - inp.mask).abs() > 0.01
    assert int(changed.sum()) > 500  # the engine did change the mask: a real comparison


def test_an_empty_mask_gives_an_empty_matte() -> None:
    inp = MattingInput(rgb=torch.rand(3, 200, 300), mask=torch.zeros(200, 300))
    engine = ClosedFormEngine()
    assert engine._work_box(inp.mask, 2) is None
    assert torch.equal(engine.run(inp), torch.zeros(200, 300))
