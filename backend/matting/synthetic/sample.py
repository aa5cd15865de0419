"""One training tile: a procedural subject over a real (or procedural) background, exact alpha."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np

from sam2matting.backend.matting.synthetic import (
    augment,
    perturb,
    raster,
    shapes,
    strands,
    transparency,
)
from sam2matting.backend.matting.synthetic.textures import TexturePool

SUPERSAMPLE = 4
KINDS = ("hair", "fur", "solid", "soft", "transparent")
_KIND_P = (0.32, 0.2, 0.16, 0.16, 0.16)


@dataclass
class Sample:
    """float32 arrays: image/fg/bg (H, W, 3) in [0, 1]; alpha/mask/trimap (H, W).

    image == alpha*fg + (1-alpha)*bg exactly; mask is a perturbed binary tracker mask; trimap
    holds 0 / 0.5 / 1 (background / unknown / foreground).
    """

    image: np.ndarray
    fg: np.ndarray
    bg: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray
    trimap: np.ndarray
    kind: str


def composite(alpha: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """The matting equation."""
    a = alpha[..., None]
    out: np.ndarray = (a * fg + (1.0 - a) * bg).astype(np.float32)
    return out


def layer_over(
    top: Tuple[np.ndarray, np.ndarray], bottom: Tuple[np.ndarray, np.ndarray]
) -> Tuple[np.ndarray, np.ndarray]:
    """Premultiplied 'over' of two (alpha, fg) layers, returned as one (alpha, fg) layer."""
    (a1, f1), (a2, f2) = top, bottom
    alpha = a1 + (1.0 - a1) * a2
    pre = a1[..., None] * f1 + ((1.0 - a1) * a2)[..., None] * f2
    fg = np.where(alpha[..., None] > 1e-6, pre / np.maximum(alpha, 1e-6)[..., None], f1)
    return alpha.astype(np.float32), np.clip(fg, 0.0, 1.0).astype(np.float32)


def _fg_texture(
    rng: np.random.Generator, textures: TexturePool, size: Tuple[int, int], tint: float
) -> np.ndarray:
    fg = augment.colour(rng, textures.crop(rng, size))
    if tint > 0.0:
        fg = augment.tint(rng, fg, tint)
    return augment.degrade(rng, fg, blur_prob=0.1)


def _subject(
    rng: np.random.Generator, kind: str, size: Tuple[int, int], textures: TexturePool
) -> Tuple[np.ndarray, np.ndarray]:
    """The foreground layer (alpha, fg) for one kind of subject."""
    ss = SUPERSAMPLE
    body, outline = shapes.solid_layer(rng, size, ss)
    alpha = body
    tint = 0.0
    if kind in ("hair", "fur"):
        grow = strands.hair if kind == "hair" else strands.fur
        alpha = raster.over(strands.render(grow(rng, outline, size), size, ss), alpha)
        if rng.random() < 0.3:
            alpha = raster.over(strands.render(strands.flyaways(rng, size), size, ss), alpha)
        tint = float(rng.uniform(0.3, 0.9))
    layer = (alpha, _fg_texture(rng, textures, size, tint))
    if kind == "transparent":
        thin = (
            transparency.smoke(rng, size, ss)
            if rng.random() < 0.5
            else transparency.glass(rng, size, ss)
        )
        top = (thin, _fg_texture(rng, textures, size, float(rng.uniform(0.0, 0.8))))
        empty = (np.zeros(size, np.float32), layer[1])
        layer = layer_over(top, layer if rng.random() < 0.5 else empty)
    if kind == "soft" or rng.random() < 0.15:
        layer = _blur(rng, layer)
    return layer


def _blur(
    rng: np.random.Generator, layer: Tuple[np.ndarray, np.ndarray]
) -> Tuple[np.ndarray, np.ndarray]:
    """Defocus or motion blur of the whole foreground layer."""
    if rng.random() < 0.5:
        kernel = raster.gaussian_kernel(float(rng.uniform(0.5, 4.0)))
    else:
        path = raster.motion_path(rng, float(rng.uniform(2.0, 30.0)), float(rng.uniform(0, 0.5)))
        kernel = raster.path_kernel(path)
    return raster.premultiplied_filter(layer[0], layer[1], kernel)


def _trimap(rng: np.random.Generator, alpha: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if rng.random() < 0.8:
        return perturb.trimap_from_mask(mask, int(rng.integers(3, 26)))
    return perturb.trimap_from_alpha(alpha, int(rng.integers(1, 11)))


def make_sample(
    rng: np.random.Generator,
    size: Union[int, Tuple[int, int]],
    textures: Optional[TexturePool] = None,
    kind: Optional[str] = None,
) -> Sample:
    """A random tile of `size` with exact alpha; procedural textures when `textures` is None."""
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    side = int(min(512, max(64, 2 * max(hw))))
    pool = (
        textures
        if textures is not None
        else TexturePool.procedural(int(rng.integers(2**31)), 4, side)
    )
    kind = kind or str(rng.choice(KINDS, p=_KIND_P))
    if kind not in KINDS:
        raise ValueError(f"unknown sample kind {kind!r}; known: {', '.join(KINDS)}")
    for _ in range(8):  # a tile that misses the subject's edge teaches nothing: draw again
        alpha, fg = _subject(rng, kind, hw, pool)
        fractional = float(np.mean((alpha > 0.01) & (alpha < 0.99)))
        if fractional > 0.002:
            break
    bg = augment.degrade(rng, augment.colour(rng, pool.crop(rng, hw)), blur_prob=0.5)
    mask = perturb.tracker_mask(rng, alpha)
    return Sample(
        image=composite(alpha, fg, bg),
        fg=fg,
        bg=bg,
        alpha=alpha,
        mask=mask,
        trimap=_trimap(rng, alpha, mask),
        kind=kind,
    )
