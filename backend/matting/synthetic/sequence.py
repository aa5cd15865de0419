"""A moving shot with exact alpha: a hairy subject with a veil, motion blur, panning background.

Everything random is drawn once at the start (the subject's outline, its hair, its path), so
frames are temporally coherent and a seed gives the same shot. Motion blur averages several
sub-frame renders over a 180-degree shutter, premultiplied, which keeps the composite exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Tuple, Union

import cv2
import numpy as np

from sam2matting.backend.matting.synthetic import augment, perturb, raster, shapes, strands
from sam2matting.backend.matting.synthetic.sample import composite
from sam2matting.backend.matting.synthetic.textures import TexturePool
from sam2matting.backend.matting.synthetic.transparency import smoke

# Frames per cycle of the subject's path: motion speed does not depend on the shot's length.
_PERIOD = 120.0


@dataclass
class Frame:
    """One frame: float32 image/fg/bg (H, W, 3), alpha and the tracker-like mask (H, W)."""

    index: int
    image: np.ndarray
    fg: np.ndarray
    bg: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray


@dataclass
class _Shot:
    """The per-shot constants, in subject-local coordinates (origin at the subject's centre)."""

    size: Tuple[int, int]
    ss: int
    centre: np.ndarray  # (2,) rest position of the subject in the frame
    outline: np.ndarray  # (n, 2)
    hair: strands.Strands  # lines relative to the centre
    veil: np.ndarray  # (H, W) alpha of the semi-transparent part, centred on the frame centre
    fg: np.ndarray  # (H, W, 3) subject texture, centred like `veil`
    veil_fg: np.ndarray  # (3,) colour of the veil
    bg: np.ndarray  # (H + 2m, W + 2m, 3) background larger than the frame, for panning
    margin: int
    amplitude: np.ndarray  # (2,) path amplitude in pixels
    phase: np.ndarray  # (3,) phases of x, y and sway


def _make_shot(rng: np.random.Generator, size: Tuple[int, int], pool: TexturePool) -> _Shot:
    h, w = size
    ss = 4 if h * w <= 640 * 480 else 2  # 1080p at 4x would be 33 Mpx per layer
    centre = np.array([w * 0.5, h * 0.5])
    radius = 0.2 * min(h, w)
    outline = shapes.blob(rng, (float(centre[0]), float(centre[1])), radius, roughness=0.15)
    grown = strands.hair(rng, outline, size, scale=radius)
    grown.lines = grown.lines - centre
    margin = int(0.1 * max(h, w))
    bg = augment.colour(rng, pool.crop(rng, (h + 2 * margin, w + 2 * margin)))
    fg = augment.tint(rng, augment.colour(rng, pool.crop(rng, size)), float(rng.uniform(0.3, 0.7)))
    return _Shot(
        size=size,
        ss=ss,
        centre=centre,
        outline=outline - centre,
        hair=grown,
        veil=_veil(rng, size, ss, centre, radius),
        fg=fg,
        veil_fg=rng.uniform(0.5, 1.0, 3).astype(np.float32),
        bg=bg,
        margin=margin,
        amplitude=np.array([0.15 * w, 0.05 * h]) * rng.uniform(0.7, 1.0, 2),
        phase=rng.uniform(0.0, 2.0 * np.pi, 3),
    )


def _veil(
    rng: np.random.Generator, size: Tuple[int, int], ss: int, centre: np.ndarray, radius: float
) -> np.ndarray:
    """A wisp of smoke beside the subject, as a frame-sized alpha centred like the subject."""
    h, w = size
    side = int(2 * radius)
    patch = smoke(rng, (side, side), ss)
    veil = np.zeros(size, np.float32)
    x0 = int(np.clip(centre[0] + 0.5 * radius, 0, w - side))
    y0 = int(np.clip(centre[1] + 0.2 * radius, 0, h - side))
    veil[y0 : y0 + side, x0 : x0 + side] = patch
    return veil


def _pose(shot: _Shot, t: float) -> Tuple[np.ndarray, float]:
    """Subject offset from rest (2,) and hair sway angle at (fractional) frame time t."""
    cycle = 2.0 * np.pi * t / _PERIOD
    dx = shot.amplitude[0] * np.sin(cycle + shot.phase[0])
    dy = shot.amplitude[1] * np.sin(2.0 * cycle + shot.phase[1])
    sway = 0.25 * np.sin(3.0 * cycle + shot.phase[2])
    return np.array([dx, dy]), float(sway)


def _sway(hair: strands.Strands, angle: float) -> strands.Strands:
    """Bend each strand about its root, more toward the tip (wind, head motion)."""
    rel = hair.lines - hair.lines[:, :1, :]
    along = np.linspace(0.0, 1.0, hair.lines.shape[1])[None, :, None]
    c, s = np.cos(angle * along), np.sin(angle * along)
    x, y = rel[..., :1], rel[..., 1:]
    bent = np.concatenate([c * x - s * y, s * x + c * y], axis=2)
    return strands.Strands(hair.lines[:, :1, :] + bent, hair.thickness, hair.opacity)


def _render_subject(shot: _Shot, offset: np.ndarray, sway: float) -> Tuple[np.ndarray, np.ndarray]:
    """Premultiplied (alpha, alpha*fg) of the subject over its veil at one instant."""
    at = shot.centre + offset
    cov = raster.canvas(shot.size, shot.ss)
    raster.fill_polygons(cov, [shot.outline + at], shot.ss, 1)
    body = raster.downsample(cov, shot.ss)
    moved = _sway(shot.hair, sway)
    moved.lines = moved.lines + at
    alpha = raster.over(strands.render(moved, shot.size, shot.ss, opacity_bins=2), body)
    shift = np.array([[1, 0, offset[0]], [0, 1, offset[1]]], np.float32)
    h, w = shot.size
    fg = cv2.warpAffine(
        shot.fg, shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    veil = cv2.warpAffine(
        shot.veil,
        shift,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    veil = np.clip(veil, 0.0, 1.0) * (1.0 - alpha)  # the part of the veil the subject leaves
    pre = fg * alpha[..., None]
    pre += veil[..., None] * shot.veil_fg
    return alpha + veil, pre


def _shutter_samples(shot: _Shot, i: int, most: int) -> int:
    """Sub-frame renders for frame i: about one per 1.5 px of motion over the shutter."""
    travel = np.linalg.norm(_pose(shot, i + 0.25)[0] - _pose(shot, i - 0.25)[0])
    return int(np.clip(np.ceil(travel / 1.5), 1, most))


def _render_frame(shot: _Shot, i: int, most: int) -> Tuple[np.ndarray, np.ndarray]:
    """Motion-blurred (alpha, fg): average of premultiplied renders over the shutter."""
    alpha_sum = np.zeros(shot.size, np.float32)
    pre_sum = np.zeros((*shot.size, 3), np.float32)
    samples = _shutter_samples(shot, i, most)
    times = i + np.linspace(-0.25, 0.25, samples) if samples > 1 else [float(i)]
    for t in times:
        offset, sway = _pose(shot, float(t))
        a, pre = _render_subject(shot, offset, sway)
        alpha_sum += a
        pre_sum += pre
    alpha = np.clip(alpha_sum / samples, 0.0, 1.0)
    fg = shot.fg.copy()
    seen = alpha > 1e-6
    fg[seen] = pre_sum[seen] / samples / alpha[seen, None]
    return alpha, np.clip(fg, 0.0, 1.0)


def _background(shot: _Shot, i: int) -> np.ndarray:
    """The background panning slowly (camera move), sub-pixel."""
    h, w = shot.size
    m = shot.margin
    pan = 0.9 * m * np.sin(2.0 * np.pi * i / (2.0 * _PERIOD))
    shift = np.array([[1, 0, -m - pan], [0, 1, -m + 0.3 * pan]], np.float32)
    out: np.ndarray = cv2.warpAffine(
        shot.bg, shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return out


def make_sequence(
    rng: np.random.Generator,
    n_frames: int,
    size: Union[int, Tuple[int, int]],
    textures: Optional[TexturePool] = None,
    motion_samples: int = 6,
) -> Iterator[Frame]:
    """Frames 0..n_frames-1 of one shot, each with exact alpha and a jittered tracker mask.

    `size` is (h, w) or an int for a square shot; procedural textures when `textures` is None.
    """
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    side = min(1024, max(256, max(hw) // 2))
    pool = textures or TexturePool.procedural(int(rng.integers(2**31)), 8, side)
    shot = _make_shot(rng, hw, pool)
    coarse = max(1, round(max(hw) / 256))
    for i in range(n_frames):
        alpha, fg = _render_frame(shot, i, max(1, motion_samples))
        bg = augment.degrade(rng, _background(shot, i), blur_prob=0.0)
        # SAM2 predicts masks on a 256-cell grid over the long side, then upsamples.
        mask = perturb.jitter(rng, perturb.lowres((alpha > 0.5).astype(np.float32), coarse))
        yield Frame(index=i, image=composite(alpha, fg, bg), fg=fg, bg=bg, alpha=alpha, mask=mask)
