"""Mask prompts as files: 8-bit grey PNG, 255 inside the object, at plate resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from sam2matting.protocol.atomic import atomic_write_bytes
from sam2matting.protocol.errors import ErrorCode, ProtocolError


def encode_mask(mask: np.ndarray) -> bytes:
    """A boolean (H, W) mask as PNG bytes."""
    import cv2

    pixels = np.where(np.asarray(mask, dtype=bool), 255, 0).astype(np.uint8)
    ok, png = cv2.imencode(".png", pixels)
    if not ok:
        raise RuntimeError("PNG encoding of a mask prompt failed")
    return bytes(png.tobytes())


def decode_mask(png: bytes, size: Optional[Tuple[int, int]] = None) -> Optional[np.ndarray]:
    """PNG bytes as a boolean (H, W) mask; None if unreadable or not `size` (width, height)."""
    import cv2

    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None or (size is not None and image.shape != (size[1], size[0])):
        return None
    mask: np.ndarray = image > 127
    return mask


def write_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, encode_mask(mask))


def read_mask(path: Path) -> np.ndarray:
    """The mask stored at `path`.

    Raises:
        ProtocolError: BAD_IMAGE when the file is missing or unreadable.
    """
    try:
        mask = decode_mask(path.read_bytes())
    except OSError:
        mask = None
    if mask is None:
        raise ProtocolError(
            ErrorCode.BAD_IMAGE,
            f"mask prompt {path} is missing or unreadable",
            hint="Give the mask prompt again.",
            details={"path": str(path)},
        )
    return mask
