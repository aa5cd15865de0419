"""Nuke image space <-> the protocol's top-left pixel space. Pure functions; no Nuke.

Nuke: origin at the bottom-left corner of the format, y up. XY_Knob and BBox_Knob values are in
full-resolution pixel units of the format, also in proxy mode (Nuke scales them when it renders),
so prompts are stored exactly as the knobs hold them.

Protocol: continuous pixels of the plate that is sent, origin at the top-left corner of its
top-left pixel, y down. The plate sent is the format's image area (the box x, y, r, t; the whole
format unless the format declares an offset box), cropped at full resolution. Hence

    x_tl = x_nuke - box.x          y_tl = box.t - y_nuke

Pixel aspect, precisely: the knobs hold x in pixel columns, not in display units. On a 2:1
anamorphic 1828x1556 plate the centre is x = 914 although the Viewer draws it 1828 units from the
left edge; the plate is sent unsqueezed, in the same columns. So "applying the pixel aspect"
leaves x alone and sends `pixel_aspect` with the shot (open_shot), which tells the backend the
display shape. `display_to_pixel_x` is the one place that divides by it, for display-space
values (the Viewer's squeezed coordinates), which no knob of this node holds.
"""

from __future__ import annotations

from typing import List, NamedTuple, Sequence, Tuple

Point = Tuple[float, float]


class Format(NamedTuple):
    """A Nuke format: size, image-area box (x, y, r, t) and pixel aspect."""

    width: int
    height: int
    x: int = 0
    y: int = 0
    r: int = -1  # -1: the format's width
    t: int = -1  # -1: the format's height
    pixel_aspect: float = 1.0

    @classmethod
    def full(cls, width: int, height: int, pixel_aspect: float = 1.0) -> Format:
        """A format whose image area is all of it (the usual case)."""
        return cls(width, height, 0, 0, width, height, pixel_aspect)

    @property
    def box(self) -> Tuple[int, int, int, int]:
        """The image area x, y, r, t in Nuke space (what the plugin crops the plate to)."""
        r = self.width if self.r < 0 else self.r
        t = self.height if self.t < 0 else self.t
        return self.x, self.y, r, t

    @property
    def plate_width(self) -> int:
        x, _y, r, _t = self.box
        return r - x

    @property
    def plate_height(self) -> int:
        _x, y, _r, t = self.box
        return t - y


def to_top_left(fmt: Format, point: Sequence[float]) -> Point:
    """A Nuke-space point (XY knob values) as protocol top-left pixel coordinates."""
    x0, _y0, _r, t = fmt.box
    return float(point[0]) - x0, t - float(point[1])


def from_top_left(fmt: Format, point: Sequence[float]) -> Point:
    """The inverse of `to_top_left`: a protocol point back in Nuke space."""
    x0, _y0, _r, t = fmt.box
    return float(point[0]) + x0, t - float(point[1])


def box_to_top_left(fmt: Format, box: Sequence[float]) -> List[float]:
    """A Nuke box (x, y, r, t; BBox_Knob order) as protocol [x0, y0, x1, y1], y swapped.

    A box dragged inside out (r < x or t < y) is normalised rather than refused.
    """
    left, right = sorted((float(box[0]), float(box[2])))
    bottom, top = sorted((float(box[1]), float(box[3])))
    x0, y0 = to_top_left(fmt, (left, top))
    x1, y1 = to_top_left(fmt, (right, bottom))
    return [x0, y0, x1, y1]


def box_from_top_left(fmt: Format, box: Sequence[float]) -> List[float]:
    """The inverse of `box_to_top_left`: [x0, y0, x1, y1] back to Nuke x, y, r, t."""
    left, top = from_top_left(fmt, (box[0], box[1]))
    right, bottom = from_top_left(fmt, (box[2], box[3]))
    return [left, bottom, right, top]


def inside(fmt: Format, point: Sequence[float]) -> bool:
    """True when a Nuke-space point lies on the plate that is sent."""
    x0, y0, r, t = fmt.box
    return x0 <= float(point[0]) <= r and y0 <= float(point[1]) <= t


def display_to_pixel_x(fmt: Format, x_display: float) -> float:
    """A display-space x (squeezed by the pixel aspect) in pixel columns."""
    return x_display / fmt.pixel_aspect
