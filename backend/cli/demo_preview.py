"""The demo's preview PNG: for a few frames, the plate, the matte and the plate over a checkerboard.

One column per frame; rows: plate (as the backend sees it, sRGB-encoded), matte (alpha as
grey), and the plate composited over a checkerboard with the matte, which shows at a glance
what the matte keeps of hair, motion blur and the veil. 8-bit PNG: a picture for people, never
a matte (the mattes are the float EXRs).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from sam2matting.protocol.atomic import atomic_write_bytes

TILE_WIDTH = 480
LABEL_HEIGHT = 28
CHECKER_PX = 16  # checker squares, in preview pixels


def pick_frames(frames: Sequence[int], most: int = 4) -> List[int]:
    """Up to `most` frames spread evenly over the shot, first and last included."""
    if len(frames) <= most:
        return list(frames)
    picks = np.linspace(0, len(frames) - 1, most).round().astype(int)
    return [frames[i] for i in sorted(set(picks.tolist()))]


def checkerboard(height: int, width: int, square: int = CHECKER_PX) -> np.ndarray:
    """(H, W, 3) float32 light and dark grey squares."""
    yy, xx = np.mgrid[0:height, 0:width]
    dark = ((yy // square + xx // square) % 2).astype(np.float32)
    grey = 0.8 - 0.3 * dark
    return np.repeat(grey[..., None], 3, axis=2)


def preview_image(
    plates: Sequence[np.ndarray], mattes: Sequence[np.ndarray], labels: Sequence[str]
) -> np.ndarray:
    """The preview as (H, W, 3) uint8 RGB from display-referred plates and float mattes."""
    columns = [_column(p, m, label) for p, m, label in zip(plates, mattes, labels)]
    image: np.ndarray = np.concatenate(columns, axis=1)
    return image


def write_preview(
    path: Path,
    plates: Sequence[np.ndarray],
    mattes: Sequence[np.ndarray],
    labels: Sequence[str],
) -> Tuple[int, int]:
    """Write the preview PNG atomically; returns its (width, height)."""
    import cv2

    image = preview_image(plates, mattes, labels)
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise OSError(f"cannot encode the preview {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data.tobytes())
    return image.shape[1], image.shape[0]


def _column(plate: np.ndarray, matte: np.ndarray, label: str) -> np.ndarray:
    import cv2

    height, width = matte.shape
    tile_h = max(1, round(TILE_WIDTH * height / width))
    size = (TILE_WIDTH, tile_h)
    rgb = cv2.resize(np.clip(plate, 0, 1).astype(np.float32), size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(np.clip(matte, 0, 1).astype(np.float32), size, interpolation=cv2.INTER_AREA)
    over = rgb * alpha[..., None] + checkerboard(tile_h, TILE_WIDTH) * (1 - alpha[..., None])
    tiles = [_label(label), rgb, np.repeat(alpha[..., None], 3, axis=2), over]
    column = np.concatenate(tiles, axis=0)
    column[:, -2:] = 0.0  # a dark gutter between columns
    pixels: np.ndarray = (np.clip(column, 0, 1) * 255 + 0.5).astype(np.uint8)
    return pixels


def _label(text: str) -> np.ndarray:
    """A dark strip with the text, as float RGB (OpenCV draws text on 8-bit images only)."""
    import cv2

    strip = np.full((LABEL_HEIGHT, TILE_WIDTH, 3), 30, np.uint8)
    cv2.putText(strip, text, (8, LABEL_HEIGHT - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                (240, 240, 240), 1, cv2.LINE_AA)  # fmt: skip
    return strip.astype(np.float32) / 255.0
