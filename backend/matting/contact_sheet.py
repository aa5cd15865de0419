"""A contact sheet for an evaluation: per image, the image, the mask, the alpha and the error.

Error is signed: red where the engine's alpha is too high, blue where too low, black where right
(full colour at an error of 0.5 or more). Each row is scaled to one height; a label names the
image and its SAD (engine / mask).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

import numpy as np

from sam2matting.backend.matting.evaluation import Evaluated, ImageResult

ROW_HEIGHT = 160
LABEL_HEIGHT = 22
GAP = 4


def signed_error(alpha: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(H, W, 3) float RGB: red = too much alpha, blue = too little."""
    err = np.clip((alpha.astype(np.float32) - gt.astype(np.float32)) * 2.0, -1.0, 1.0)
    out = np.zeros((*alpha.shape, 3), np.float32)
    out[..., 0] = np.maximum(err, 0.0)
    out[..., 2] = np.maximum(-err, 0.0)
    return out


def _grey(x: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(x, 0.0, 1.0)[..., None], 3, axis=2).astype(np.float32)


def _fit(image: np.ndarray, height: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    width = max(1, round(w * height / h))
    interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, (width, height), interpolation=interp))


def render_row(item: Evaluated, result: ImageResult, height: int = ROW_HEIGHT) -> np.ndarray:
    """One labelled row: image | mask | alpha | error, float RGB in [0, 1]."""
    import cv2

    tiles = [item.rgb, _grey(item.mask), _grey(item.alpha), signed_error(item.alpha, item.gt)]
    fitted = [_fit(t.astype(np.float32), height) for t in tiles]
    spacer = np.ones((height, GAP, 3), np.float32)
    body = np.concatenate([x for t in fitted for x in (t, spacer)][:-1], axis=1)
    label = np.full((LABEL_HEIGHT, body.shape[1], 3), 255, np.uint8)  # putText needs 8-bit
    text = (
        f"{result.name}  SAD {result.engine['sad']:.2f} (mask {result.mask['sad']:.2f}, "
        f"x{result.ratio('sad'):.2f})  Grad x{result.ratio('grad'):.2f}  {result.mask_op}"
    )
    if result.hard:
        text += (
            f"  J {result.hard['j']:.3f}  solid {result.hard['interior']:.3f}  "
            f"width {result.hard['edge_width']:.1f}"
        )
    cv2.putText(
        label,
        text,
        (4, LABEL_HEIGHT - 7),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return np.concatenate([label.astype(np.float32) / 255.0, body], axis=0)


def compose(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Stack rows (padded to one width) with white gaps between them."""
    if not rows:
        raise ValueError("a contact sheet needs at least one row")
    width = max(r.shape[1] for r in rows)
    padded: List[np.ndarray] = []
    for r in rows:
        pad = np.ones((r.shape[0], width - r.shape[1], 3), np.float32)
        padded.append(np.concatenate([r, pad], axis=1))
        padded.append(np.ones((GAP, width, 3), np.float32))
    return np.concatenate(padded[:-1], axis=0)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write float RGB in [0, 1] as an 8-bit PNG, atomically."""
    import cv2

    from sam2matting.protocol.atomic import atomic_write_bytes

    bgr = (np.clip(rgb, 0.0, 1.0)[..., ::-1] * 255.0 + 0.5).astype(np.uint8)
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    atomic_write_bytes(Path(path), buf.tobytes())
