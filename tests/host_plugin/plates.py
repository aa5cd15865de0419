"""Synthetic plates for the plugin tests: a bright square moving over a dark, textured ground,
written as half-float EXR with the fake's pure-Python codec (no numpy on the Nuke side)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

from nuke import _exr

WIDTH, HEIGHT = 48, 32
FIRST, LAST = 1001, 1060
SQUARE = 10  # side of the moving square, pixels


def square_top_left(frame: int) -> Tuple[int, int]:
    """Top-left pixel (column, row from the top) of the square on `frame`: it moves right one
    pixel a frame, then back (smoothly, so that an optical-flow tracker can follow it)."""
    t = (frame - FIRST) % 48
    return 6 + (t if t < 24 else 48 - t), 11


def pixel(frame: int, x: int, y_top: int) -> Tuple[float, float, float]:
    """RGB at column x, row y_top (from the top) of the plate on `frame`."""
    sx, sy = square_top_left(frame)
    if sx <= x < sx + SQUARE and sy <= y_top < sy + SQUARE:
        return 0.9, 0.8, 0.2
    ground = 0.05 + 0.02 * ((x * 7 + y_top * 3) % 5)  # texture, so frames differ from black
    return ground, ground, ground * 1.5


def planes(frame: int, width: int = WIDTH, height: int = HEIGHT) -> Dict[str, List[float]]:
    out: Dict[str, List[float]] = {"R": [], "G": [], "B": []}
    for y in range(height):
        for x in range(width):
            r, g, b = pixel(frame, x, y)
            out["R"].append(r)
            out["G"].append(g)
            out["B"].append(b)
    return out


def write_plate(
    folder: Path, first: int = FIRST, last: int = LAST, pixel_aspect: float = 1.0
) -> str:
    """plate.####.exr in `folder`; returns the '####' pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame in range(first, last + 1):
        blob = _exr.encode(WIDTH, HEIGHT, planes(frame), _exr.HALF, _exr.ZIPS, pixel_aspect)
        (folder / f"plate.{frame:04d}.exr").write_bytes(blob)
    return str(folder / "plate.####.exr")


def write_mask(path: Path, box_top_left: Tuple[int, int, int, int]) -> None:
    """An EXR whose alpha is 1 inside [x0, y0, x1, y1) (top-left pixel coordinates)."""
    x0, y0, x1, y1 = box_top_left
    alpha = [
        1.0 if (x0 <= x < x1 and y0 <= y < y1) else 0.0 for y in range(HEIGHT) for x in range(WIDTH)
    ]
    zero = [0.0] * (WIDTH * HEIGHT)
    blob = _exr.encode(WIDTH, HEIGHT, {"R": zero, "G": zero, "B": zero, "A": alpha}, _exr.HALF)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)


def read_node(pattern: str, first: int = FIRST, last: int = LAST):
    """A fake Read of the plate, selected (so a new node connects to it)."""
    import nuke

    read = nuke.nodes.Read(file=pattern, first=first, last=last, name="Plate")
    read["selected"].setValue(True)
    return read
