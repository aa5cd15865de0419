"""`sam2matting matte-image IMAGE --mask MASK -o OUT.exr`: one image, one mask, float alpha out.

The mask is an 8-bit (or 16-bit) PNG of the image's size: above half is the object. The output
is a float EXR of the image's size with the alpha in channel A; with --premultiplied it also holds
R, G, B = alpha x the estimated foreground colour (fringe-free, ready to merge over).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Dict

import numpy as np

from sam2matting.backend.cli import exit_codes

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, help="image to matte (PNG, JPEG, TIFF or EXR)")
    parser.add_argument(
        "--mask",
        type=Path,
        required=True,
        help="8-bit PNG mask of the object, the image's size (white = object)",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="output EXR path")
    parser.add_argument(
        "--engine",
        default="auto",
        help="matting engine: auto, closed_form, refiner, sam2matting-tiny, "
        "sam2matting-base_plus (default: auto, the best weight-free engine)",
    )
    parser.add_argument(
        "--premultiplied",
        action="store_true",
        help="also write R, G, B: alpha x estimated foreground colour",
    )
    parser.add_argument(
        "--max-width",
        type=float,
        default=None,
        help="farthest the unknown band reaches from the mask edge, in pixels",
    )
    add_guard_argument(parser)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: config)")
    parser.add_argument(
        "--compression", default=None, help="EXR compression (default: the backend config's, zip)"
    )


def add_guard_argument(parser: argparse.ArgumentParser) -> None:
    """`--guard S`: every engine's `guard` option (matting/registry.py)."""
    parser.add_argument(
        "--guard",
        type=float,
        default=None,
        help="strength of the do-no-harm guard, 0-2: 1 (default) the matte is never "
        "measurably worse than the mask; 0 the engine's alpha as solved; up to 2 strict "
        "(solid hard objects, hair outside the mask given up)",
    )


def guard_option(args: argparse.Namespace) -> Dict[str, float]:
    return {} if args.guard is None else {"guard": args.guard}


def run(args: argparse.Namespace) -> int:
    from sam2matting.protocol.errors import ProtocolError

    try:
        return _run(args)
    except ProtocolError as exc:
        print(f"error: {exc.message}\n  {exc.hint}", file=sys.stderr)
        return exit_codes.SETUP if exc.code.value in SETUP_CODES else exit_codes.FAILURE
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_codes.FAILURE


SETUP_CODES = ("model_unavailable", "checkpoint_invalid")


def _run(args: argparse.Namespace) -> int:
    from sam2matting.backend.config import BackendConfig
    from sam2matting.backend.device import resolve_device
    from sam2matting.backend.imageio.exr import write_exr
    from sam2matting.backend.matting.evaluation import load_rgb
    from sam2matting.backend.matting.standalone import load_matter

    config = BackendConfig.load()
    rgb = load_rgb(args.image)
    mask = read_mask(args.mask, rgb.shape[:2])
    device = resolve_device(args.device or config.device)
    options = guard_option(args)
    if args.max_width is not None:
        options["max_width"] = args.max_width
    matte = load_matter(args.engine, config, device, options)
    start = time.perf_counter()
    alpha = np.clip(np.nan_to_num(matte(rgb, mask)), 0.0, 1.0).astype(np.float32)
    log.info(
        "matted %s (%dx%d) in %.2f s",
        args.image,
        rgb.shape[1],
        rgb.shape[0],
        time.perf_counter() - start,
    )
    channels = {"A": alpha}
    if args.premultiplied:
        from sam2matting.backend.matting.foreground import estimate_foreground, premultiply

        fg = premultiply(estimate_foreground(rgb, alpha), alpha)
        channels.update({"R": fg[..., 0], "G": fg[..., 1], "B": fg[..., 2]})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_exr(args.output, channels, compression=args.compression or config.exr_compression)
    print(
        f"wrote {args.output} ({rgb.shape[1]}x{rgb.shape[0]}, channels {''.join(sorted(channels))})"
    )
    return exit_codes.OK


def read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 0/1 mask from an image file; must match the image's size."""
    from sam2matting.backend.matting.evaluation import load_alpha

    plane = load_alpha(path)
    if plane.shape != tuple(shape):
        raise ValueError(
            f"mask {path} is {plane.shape[1]}x{plane.shape[0]}, the image is {shape[1]}x{shape[0]}"
        )
    return (plane > 0.5).astype(np.float32)
