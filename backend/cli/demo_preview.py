"""The demo's preview PNG: for a few frames, the plate, the matte and the plate over a checkerboard.

One column per frame; rows: plate (as the backend sees it, sRGB-encoded), matte (alpha as
grey), and the plate composited over a checkerboard with the matte, which shows at a glance
what the matte keeps of hair, motion blur and the veil. Given the truth, a fourth row zooms
(x4, nearest neighbour) into the matte where the generated object's edge is hard - no hair,
no blur within `HARD_CLEARANCE` px - and the label gives the solid fraction of the object's
core there and the edge's 10-90 % width: a hard edge should be a pixel or two wide against a
solid core. 8-bit PNG: a picture for people, never a matte (the mattes are the float EXRs).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from sam2matting.protocol.atomic import atomic_write_bytes

TILE_WIDTH = 480
LABEL_HEIGHT = 28
CHECKER_PX = 16  # checker squares, in preview pixels
ZOOM = 4  # the hard-edge row's magnification
HARD_CLEARANCE = 8  # plate pixels around the zoomed edge point free of fractional truth


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
    plates: Sequence[np.ndarray],
    mattes: Sequence[np.ndarray],
    labels: Sequence[str],
    truths: Optional[Sequence[np.ndarray]] = None,
) -> np.ndarray:
    """The preview as (H, W, 3) uint8 RGB from display-referred plates and float mattes
    (with the truth, plus the hard-edge zoom row)."""
    columns = [_column(p, m, label) for p, m, label in zip(plates, mattes, labels)]
    if truths is not None:
        columns = [
            np.concatenate([c, _to_8bit(hard_edge_zoom(m, t))], axis=0)
            for c, m, t in zip(columns, mattes, truths)
        ]
    image: np.ndarray = np.concatenate(columns, axis=1)
    return image


def write_preview(
    path: Path,
    plates: Sequence[np.ndarray],
    mattes: Sequence[np.ndarray],
    labels: Sequence[str],
    truths: Optional[Sequence[np.ndarray]] = None,
) -> Tuple[int, int]:
    """Write the preview PNG atomically; returns its (width, height)."""
    import cv2

    image = preview_image(plates, mattes, labels, truths)
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
    return _to_8bit(column)


def _to_8bit(rows: np.ndarray) -> np.ndarray:
    """Float RGB rows of one column as 8-bit, with the dark gutter between columns."""
    rows = rows.copy()
    rows[:, -2:] = 0.0
    pixels: np.ndarray = (np.clip(rows, 0, 1) * 255 + 0.5).astype(np.uint8)
    return pixels


def hard_edge_point(truth: np.ndarray) -> Optional[Tuple[int, int]]:
    """(y, x) on the truth's 0.5 edge with no fractional truth within HARD_CLEARANCE px,
    nearest the object's centre (the body rather than strand tips); None if there is none."""
    import cv2

    inside = (truth > 0.5).astype(np.uint8)
    edge = cv2.morphologyEx(inside, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    fractional = (truth > 0.02) & (truth < 0.98)
    # an anti-aliased edge is fractional for a pixel: anything fractional beyond that is soft
    rim = cv2.dilate(edge.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    size = 2 * HARD_CLEARANCE + 1
    soft_near = cv2.dilate((fractional & ~rim).astype(np.uint8), np.ones((size, size), np.uint8))
    ys, xs = np.nonzero(edge & (soft_near == 0))
    if not len(ys):
        return None
    cy, cx = np.argwhere(inside).mean(axis=0)
    i = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
    return int(ys[i]), int(xs[i])


def hard_edge_zoom(matte: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The zoom row: a label and the matte around a hard edge point, x ZOOM, float RGB."""
    import cv2

    from sam2matting.backend.matting import object_metrics

    side = TILE_WIDTH // ZOOM
    point = hard_edge_point(truth)
    tile = np.zeros((side * ZOOM, TILE_WIDTH, 3), np.float32)
    if point is None:
        return np.concatenate([_label("no hard edge in the truth"), tile], axis=0)
    y, x = point
    half = side // 2
    pad = ((half, half), (half, half))
    crop_m = np.pad(matte, pad)[y : y + side, x : x + side]
    crop_t = np.pad(truth, pad)[y : y + side, x : x + side]
    zoom = cv2.resize(
        np.clip(crop_m, 0, 1).astype(np.float32),
        None,
        fx=ZOOM,
        fy=ZOOM,
        interpolation=cv2.INTER_NEAREST,
    )
    tile[: zoom.shape[0], : zoom.shape[1]] = zoom[..., None]
    solid = object_metrics.interior_solid(crop_m, crop_t)
    width = object_metrics.edge_width(crop_m, crop_t, reach=6.0)
    text = f"hard edge x{ZOOM}: core solid {solid:.0%}, edge {width:.1f} px"
    return np.concatenate([_label(text), tile], axis=0)


def _label(text: str) -> np.ndarray:
    """A dark strip with the text, as float RGB (OpenCV draws text on 8-bit images only)."""
    import cv2

    strip = np.full((LABEL_HEIGHT, TILE_WIDTH, 3), 30, np.uint8)
    cv2.putText(
        strip,
        text,
        (8, LABEL_HEIGHT - 9),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.55,
        (240, 240, 240),
        1,
        cv2.LINE_AA,
    )
    return strip.astype(np.float32) / 255.0
