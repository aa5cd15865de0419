"""Dense structures with exact alpha: wire mesh, chain-link fence, leaves on branches, lace, lines.

What a tracker mask gets wrong and a matte must keep: holes (the gaps of a mesh, between
leaves), thin opaque structure a pixel or two wide (wires, stems, threads), and sub-pixel lines
(kite strings, cables) whose alpha is their coverage. Every generator returns the coverage
(h, w) of an opaque subject, drawn at `ss` times the output resolution and area-averaged, so
alpha is exact; colours come from the caller (`devset.py`).
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import numpy as np

from sam2matting.backend.matting.synthetic import raster, shapes, strands

Size = Tuple[int, int]


def _rotated_lines(size: Size, spacing: float, angle: float, offset: float) -> np.ndarray:
    """Parallel straight lines (k, 2, 2) crossing a (h, w) frame at `angle`, `spacing` apart."""
    h, w = size
    reach = float(np.hypot(h, w))
    direction = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    centre = np.array([w / 2.0, h / 2.0])
    steps = np.arange(-reach / 2.0, reach / 2.0 + spacing, spacing) + offset
    mids = centre[None] + steps[:, None] * normal[None]
    return np.stack([mids - reach * direction, mids + reach * direction], axis=1)


def _region(rng: np.random.Generator, size: Size, ss: int, cover: float) -> np.ndarray:
    """Supersampled 0/1 canvas of a smooth blob covering about `cover` of the frame."""
    h, w = size
    radius = float(np.sqrt(cover * h * w / np.pi))
    dx, dy = rng.uniform(-0.1, 0.1, 2)
    centre = (w * (0.5 + float(dx)), h * (0.5 + float(dy)))
    cov = raster.canvas(size, ss)
    raster.fill_polygons(cov, [shapes.blob(rng, centre, radius, roughness=0.2)], ss, 1)
    return cov


def wire_mesh(rng: np.random.Generator, size: Size, ss: int = 4) -> np.ndarray:
    """A square grid of wires 1-3 px thick, 7-20 px apart, inside a panel with a solid rim."""
    spacing = float(rng.uniform(7.0, 20.0))
    thick = int(rng.integers(ss, 3 * ss + 1))
    angle = float(rng.uniform(0.0, np.pi / 2))
    wires = raster.canvas(size, ss)
    for a in (angle, angle + np.pi / 2):
        lines = _rotated_lines(size, spacing, a, float(rng.uniform(0, spacing)))
        raster.draw_polylines(wires, lines, ss, thick)
    panel = _region(rng, size, ss, float(rng.uniform(0.3, 0.55)))
    rim = _outline(panel, int(rng.integers(2 * ss, 6 * ss)))
    return raster.downsample((wires & panel) | rim, ss)


def _outline(cov: np.ndarray, width: int) -> np.ndarray:
    """The `width`-pixel-thick inner border of a 0/1 canvas (the frame of a panel)."""
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    out: np.ndarray = cov & (1 - cv2.erode(cov, kernel))
    return out


def chain_link(rng: np.random.Generator, size: Size, ss: int = 4) -> np.ndarray:
    """A chain-link fence: zigzag wires woven into diamonds, 1-2 px thick, plus two posts."""
    h, w = size
    pitch = float(rng.uniform(10.0, 26.0))  # diamond width
    thick = int(rng.integers(ss, 2 * ss + 1))
    ys = np.arange(-pitch, h + pitch, pitch / 2.0)
    cov = raster.canvas(size, ss)
    lines = []
    for x in np.arange(-pitch, w + pitch, pitch):
        xs = x + np.where(np.arange(len(ys)) % 2 == 0, 0.0, pitch / 2.0)
        lines.append(np.stack([xs, ys], axis=1))
        lines.append(np.stack([x + pitch - (xs - x), ys], axis=1))
    raster.draw_polylines(cov, np.asarray(lines), ss, thick)
    for _ in range(2):  # posts: solid vertical bars
        x0 = float(rng.uniform(0.05, 0.9)) * w
        bar = np.array(
            [
                [x0, -1.0],
                [x0 + rng.uniform(6, 14), -1.0],
                [x0 + rng.uniform(6, 14), h + 1.0],
                [x0, h + 1.0],
            ]
        )
        raster.fill_polygons(cov, [bar], ss, 1)
    top = float(rng.uniform(0.05, 0.3)) * h  # the fence ends below the top of the frame
    cov[: int(top * ss)] = 0
    return raster.downsample(cov, ss)


def leaves_on_branches(rng: np.random.Generator, size: Size, ss: int = 4) -> np.ndarray:
    """Tapering branches from one trunk with pointed leaves along them, gaps in between."""
    h, w = size
    cov = raster.canvas(size, ss)
    trunk = np.array([[w * rng.uniform(0.3, 0.7), h + 2.0], [w * rng.uniform(0.4, 0.6), h * 0.55]])
    raster.draw_polylines(cov, trunk[None], ss, int(rng.integers(6 * ss, 10 * ss)))
    count = int(rng.integers(5, 10))
    angles = rng.uniform(-np.pi * 0.95, -np.pi * 0.05, count)  # upward fans
    roots = np.repeat(trunk[1:], count, axis=0)
    dirs = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    lengths = rng.uniform(0.25, 0.5, count) * min(h, w)
    branches = strands.grow(rng, roots, dirs, lengths, 0.3, 16)
    for line, width in zip(branches, rng.integers(ss, 4 * ss, count)):
        raster.draw_polylines(cov, line[None], ss, int(width))
        for t in rng.uniform(0.15, 1.0, int(rng.integers(10, 24))):
            raster.fill_polygons(cov, [_leaf(rng, line, float(t))], ss, 1)
    return raster.downsample(cov, ss)


def _leaf(rng: np.random.Generator, line: np.ndarray, t: float) -> np.ndarray:
    """A pointed leaf outline attached to polyline `line` at fraction t of its length."""
    i = min(int(t * (len(line) - 1)), len(line) - 2)
    base = line[i]
    tangent = line[i + 1] - line[i]
    angle = float(np.arctan2(tangent[1], tangent[0])) + float(rng.choice([-1, 1])) * rng.uniform(
        0.5, 1.2
    )
    length = float(rng.uniform(10.0, 28.0))
    width = length * float(rng.uniform(0.25, 0.45))
    s = np.linspace(0.0, 1.0, 24)
    half = width * np.sin(np.pi * s) ** 0.8 / 2.0
    upper = np.stack([s * length, half], 1)
    local = np.concatenate([upper, (upper * [1.0, -1.0])[::-1]])
    c, si = np.cos(angle), np.sin(angle)
    outline: np.ndarray = base + local @ np.array([[c, si], [-si, c]])
    return outline


def lace(rng: np.random.Generator, size: Size, ss: int = 4) -> np.ndarray:
    """A lace panel: a hexagonal pattern of round holes with threads 1-3 px between them."""
    h, w = size
    panel = _region(rng, size, ss, float(rng.uniform(0.35, 0.6)))
    pitch = float(rng.uniform(8.0, 18.0))
    radius = pitch / 2.0 - float(rng.uniform(0.5, 1.5))
    holes = []
    for row, y in enumerate(np.arange(-pitch, h + pitch, pitch * np.sqrt(3) / 2.0)):
        for x in np.arange(-pitch, w + pitch, pitch) + (pitch / 2.0 if row % 2 else 0.0):
            holes.append(shapes.blob(rng, (float(x), float(y)), radius, roughness=0.05, n=24))
    rim = _outline(panel, int(rng.integers(ss, 3 * ss + 1)))  # the hemmed border stays solid
    raster.fill_polygons(panel, holes, ss, 0)
    return raster.downsample(panel | rim, ss)


def thin_lines(rng: np.random.Generator, size: Size, ss: int = 4) -> np.ndarray:
    """A solid body with 2-6 long lines (kite strings, cables) 0.25-2.5 px wide leaving it."""
    h, w = size
    radius = 0.18 * min(h, w)
    centre = (w * float(rng.uniform(0.35, 0.65)), h * float(rng.uniform(0.35, 0.65)))
    outline = shapes.blob(rng, centre, radius, roughness=0.3)
    cov = raster.canvas(size, ss)
    raster.fill_polygons(cov, [outline], ss, 1)
    count = int(rng.integers(2, 7))
    angles = rng.uniform(0.0, 2.0 * np.pi, count)
    roots = np.repeat(np.array([centre]), count, axis=0)
    dirs = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    lines = strands.grow(rng, roots, dirs, np.full(count, 1.5 * max(h, w)), 0.15, 48)
    for line, width in zip(lines, rng.integers(1, 10, count)):
        raster.draw_polylines(cov, line[None], ss, int(width))
    return raster.downsample(cov, ss)


DENSE: Dict[str, Callable[[np.random.Generator, Size, int], np.ndarray]] = {
    "wire_mesh": wire_mesh,
    "chain_link": chain_link,
    "leaves": leaves_on_branches,
    "lace": lace,
    "thin_lines": thin_lines,
}
