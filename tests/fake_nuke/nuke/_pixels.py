"""Images inside the fake node graph: float planes named like Nuke channels, rows bottom-up.

Nuke's image space has its origin at the bottom-left, y up; EXR files store the top row first.
`from_exr` / `to_exr_planes` do that flip (and the EXR <-> Nuke channel naming) in one place.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from . import _exr

# EXR channel suffix <-> Nuke channel name within a layer.
_EXR_TO_NUKE = {"R": "red", "G": "green", "B": "blue", "A": "alpha"}
_NUKE_TO_EXR = {v: k for k, v in _EXR_TO_NUKE.items()}


class Image:
    """width x height pixels; planes map Nuke channel names ('rgba.red') to row-major floats."""

    def __init__(
        self,
        width: int,
        height: int,
        pixel_aspect: float = 1.0,
        planes: Optional[Dict[str, List[float]]] = None,
    ) -> None:
        self.width = width
        self.height = height
        self.pixel_aspect = pixel_aspect
        self.planes: Dict[str, List[float]] = planes if planes is not None else {}

    def plane(self, channel: str) -> List[float]:
        """A channel's samples (zeros when the image lacks it)."""
        return self.planes.get(channel) or [0.0] * (self.width * self.height)

    def at(self, channel: str, x: int, y: int) -> float:
        """The sample at pixel column x, row y (y counted from the bottom, as in Nuke)."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            return 0.0
        plane = self.planes.get(channel)
        return plane[y * self.width + x] if plane else 0.0

    def copy(self) -> Image:
        return Image(
            self.width, self.height, self.pixel_aspect, {k: list(v) for k, v in self.planes.items()}
        )


def black(width: int, height: int, pixel_aspect: float = 1.0) -> Image:
    return Image(width, height, pixel_aspect, {})


def nuke_channel(exr_name: str) -> str:
    """'R' -> 'rgba.red'; 'obj1.A' -> 'obj1.alpha'; 'Z' -> 'depth.Z'."""
    layer, _, suffix = exr_name.rpartition(".")
    if not layer:
        if suffix in _EXR_TO_NUKE:
            return "rgba." + _EXR_TO_NUKE[suffix]
        return "depth.Z" if suffix == "Z" else "other." + suffix
    return layer + "." + _EXR_TO_NUKE.get(suffix, suffix)


def exr_channel(nuke_name: str) -> str:
    """'rgba.red' -> 'R'; 'hero.alpha' -> 'hero.A'."""
    layer, _, chan = nuke_name.partition(".")
    short = _NUKE_TO_EXR.get(chan, chan)
    return short if layer == "rgba" else layer + "." + short


def from_exr(image: _exr.ExrImage) -> Image:
    """An EXR (top row first, maybe a smaller data window) as a bottom-up fake image."""
    w, h = image.width, image.height
    planes = {}
    for name in image.planes:
        top_down = image.display_plane(name)
        rows = [top_down[r * w : (r + 1) * w] for r in range(h)]
        planes[nuke_channel(name)] = [v for row in reversed(rows) for v in row]
    return Image(w, h, image.pixel_aspect, planes)


def to_exr_planes(image: Image, channels: Sequence[str]) -> Dict[str, List[float]]:
    """The given Nuke channels as EXR planes, top row first."""
    w, h = image.width, image.height
    out = {}
    for channel in channels:
        plane = image.plane(channel)
        rows = [plane[r * w : (r + 1) * w] for r in range(h)]
        out[exr_channel(channel)] = [v for row in reversed(rows) for v in row]
    return out


# ------------------------------------------------------------------ operations


def crop(image: Image, box: Sequence[float], reformat: bool) -> Image:
    """Nuke's Crop: black outside box (x, y, r, t); with reformat the box becomes the format."""
    x0, y0, x1, y1 = (round(v) for v in box)
    if not reformat:
        out = black(image.width, image.height, image.pixel_aspect)
        for name, plane in image.planes.items():
            out.planes[name] = [
                plane[y * image.width + x] if (x0 <= x < x1 and y0 <= y < y1) else 0.0
                for y in range(image.height)
                for x in range(image.width)
            ]
        return out
    w, h = max(0, x1 - x0), max(0, y1 - y0)
    out = black(w, h, image.pixel_aspect)
    for name in image.planes:
        out.planes[name] = [image.at(name, x + x0, y + y0) for y in range(h) for x in range(w)]
    return out


def translate(image: Image, dx: int, dy: int) -> Image:
    out = black(image.width, image.height, image.pixel_aspect)
    for name in image.planes:
        out.planes[name] = [
            image.at(name, x - dx, y - dy) for y in range(image.height) for x in range(image.width)
        ]
    return out


def copy_channels(b: Image, a: Image, pairs: Sequence[Sequence[str]]) -> Image:
    """Nuke's Copy: B with each `to` channel replaced by A's `from` channel (same pixel coords)."""
    out = b.copy()
    for src, dst in pairs:
        out.planes[dst] = [a.at(src, x, y) for y in range(b.height) for x in range(b.width)]
    return out


def downscale(image: Image, scale: float) -> Image:
    """Proxy mode: nearest-neighbour scaling of the whole image."""
    w, h = max(1, int(image.width * scale)), max(1, int(image.height * scale))
    out = black(w, h, image.pixel_aspect)
    for name in image.planes:
        out.planes[name] = [
            image.at(name, int(x / scale), int(y / scale)) for y in range(h) for x in range(w)
        ]
    return out
