"""Checks every tracker applies to a Prompt and a frame index before using them."""

from __future__ import annotations

import math
from typing import Tuple

from sam2matting.backend.tracking.base import Prompt
from sam2matting.protocol.errors import ErrorCode, ProtocolError


def check_index(index: int, num_frames: int) -> int:
    if not 0 <= index < num_frames:
        raise ProtocolError(
            ErrorCode.FRAME_OUT_OF_RANGE,
            f"frame index {index} is outside the shot (0..{num_frames - 1})",
            details={"index": index, "num_frames": num_frames},
        )
    return int(index)


def check_prompt(prompt: Prompt, size: Tuple[int, int]) -> None:
    """Reject prompts a tracker cannot use, with a message the artist can act on."""
    if prompt.is_empty():
        raise ProtocolError(ErrorCode.NO_PROMPT, "the prompt has no points, box or mask")
    if prompt.mask is not None:
        _check_mask(prompt, size)
        return
    if len(prompt.points) != len(prompt.labels):
        raise _field(f"{len(prompt.points)} points but {len(prompt.labels)} labels")
    if any(label not in (0, 1) for label in prompt.labels):
        raise _field(f"point labels must be 1 (object) or 0 (background): {prompt.labels}")
    if not all(math.isfinite(v) for point in prompt.points for v in point):
        raise _field("point coordinates must be finite numbers")
    if prompt.clear_old and prompt.box is None and not any(prompt.labels):
        # negative clicks alone only make sense as corrections added to earlier prompts
        raise ProtocolError(ErrorCode.NO_PROMPT, "give at least one positive point or a box")
    if prompt.box is not None:
        _check_box(prompt)


def _check_mask(prompt: Prompt, size: Tuple[int, int]) -> None:
    assert prompt.mask is not None
    width, height = size
    if prompt.points or prompt.box is not None:
        raise _field("a mask prompt cannot be combined with points or a box on the same frame")
    if tuple(prompt.mask.shape) != (height, width):
        raise ProtocolError(
            ErrorCode.FRAME_SIZE_MISMATCH,
            f"mask is {tuple(prompt.mask.shape)} (rows, columns), the plate is {height}x{width}",
        )


def _check_box(prompt: Prompt) -> None:
    assert prompt.box is not None
    x0, y0, x1, y1 = prompt.box
    if not all(math.isfinite(v) for v in prompt.box) or x1 <= x0 or y1 <= y0:
        raise _field(f"box must be finite (x0, y0, x1, y1) with x1 > x0 and y1 > y0: {prompt.box}")
    if not prompt.clear_old:
        raise _field("a box replaces the object's earlier prompts on the frame (clear_old=True)")


def _field(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_FIELD, message)
