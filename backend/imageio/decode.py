"""Decode plate pixels (EXR, PNG, TIFF, JPEG, raw buffers) into float32 RGB.

Integer images (8/16-bit PNG, TIFF, JPEG, raw uint buffers) become [0, 1] floats and are marked
display-referred; float images (EXR, float TIFF, raw half/float buffers) keep their values.
Size is checked from the file header before decoding, so a crafted header cannot make the backend
allocate gigabytes. Every failure is a ProtocolError(BAD_IMAGE) naming the image and the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.limits import MAX_FILE_BYTES, OVERSCAN_FACTOR

from . import headers
from .exr import DEFAULT_MAX_PIXELS, read_exr

log = logging.getLogger(__name__)

ENCODINGS = ("raw", "exr", "png", "jpeg", "tiff")
# Raw buffers are little-endian, as every platform Nuke runs on is.
RAW_DTYPES: Dict[str, np.dtype] = {
    "uint8": np.dtype("<u1"),
    "uint16": np.dtype("<u2"),
    "float16": np.dtype("<f2"),
    "float32": np.dtype("<f4"),
}
ORIGINS = ("top_left", "bottom_left")
HEADER_PREFIX_BYTES = 1 << 20  # where every supported format's size is found
_CV2_NAMES = {1: ["Y"], 2: ["Y", "A"], 3: ["B", "G", "R"], 4: ["B", "G", "R", "A"]}
_EXR_CHANNELS = frozenset({"R", "G", "B", "A", "Y", "r", "g", "b", "a", "y"})
# Channel-name spellings (after the last '.', lower case) -> role. Nuke says rgba.red, EXR says R.
_ROLES = {
    "r": "R",
    "red": "R",
    "g": "G",
    "green": "G",
    "b": "B",
    "blue": "B",
    "a": "A",
    "alpha": "A",
    "y": "Y",
    "l": "Y",
    "luminance": "Y",
    "gray": "Y",
    "grey": "Y",
}


@dataclass
class DecodedImage:
    """Decoded pixels, top row first."""

    rgb: np.ndarray  # (H, W, 3) float32
    alpha: Optional[np.ndarray]  # (H, W) float32, or None
    display_referred: bool  # True for integer images (already display-encoded)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def decode_image(
    data: Union[bytes, Path],
    encoding: Optional[str] = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    expected: Optional[Tuple[int, int]] = None,
) -> DecodedImage:
    """Decode an EXR, PNG, TIFF or JPEG image from bytes or a file.

    Args:
        data: the image file's bytes, or its path.
        encoding: "exr", "png", "jpeg" or "tiff"; None to tell from the bytes.
        max_pixels: refuse images with more pixels than this.
        expected: (width, height) the image must have (a shot's format). Checked from the
            header before any pixel is decoded, and an EXR's data window may then hold at most
            `OVERSCAN_FACTOR` times those pixels: a small file cannot make the backend allocate
            gigabytes for pixels it would throw away.

    Raises:
        ProtocolError: BAD_IMAGE for unreadable, truncated, unsupported or oversized images;
            FRAME_SIZE_MISMATCH when the header's size differs from `expected`.
    """
    name = str(data) if isinstance(data, Path) else f"<{encoding or 'image'} bytes>"
    kind = _resolve_encoding(data, encoding, name)
    if kind == "exr":
        if expected is not None:
            check_expected_size(name, headers.exr_size(data, name), expected, image=name)
            max_pixels = min(max_pixels, OVERSCAN_FACTOR * expected[0] * expected[1])
        return _decode_exr(data, max_pixels)
    blob = _read_bytes(data, name)
    width, height = headers.image_size(blob, kind, name)
    if expected is not None:
        check_expected_size(name, (width, height), expected, image=name)
    if width * height > max_pixels:
        raise bad_image(name, f"{width}x{height} exceeds the limit of {max_pixels} pixels")
    return _decode_cv2(blob, name, (width, height))


def check_expected_size(
    name: str, size: Tuple[int, int], expected: Tuple[int, int], **details: Any
) -> None:
    """FRAME_SIZE_MISMATCH unless `size` (width, height) is `expected`."""
    if tuple(size) != tuple(expected):
        raise ProtocolError(
            ErrorCode.FRAME_SIZE_MISMATCH,
            f"{name} is {size[0]}x{size[1]}, but the shot is {expected[0]}x{expected[1]}",
            details=dict(
                details, size=f"{size[0]}x{size[1]}", shot_size=f"{expected[0]}x{expected[1]}"
            ),
        )


def image_size(data: Union[bytes, Path], encoding: Optional[str] = None) -> Tuple[int, int]:
    """(width, height) from the header alone, without decoding pixels."""
    name = str(data) if isinstance(data, Path) else f"<{encoding or 'image'} bytes>"
    kind = _resolve_encoding(data, encoding, name)
    if kind == "exr":
        return headers.exr_size(data, name)
    if isinstance(data, Path):
        # PNG and TIFF put the size near the start; JPEG's frame header follows the
        # metadata segments, so read a generous prefix.
        return headers.image_size(_read_bytes(data, name, limit=HEADER_PREFIX_BYTES), kind, name)
    return headers.image_size(data, kind, name)


def decode_raw(
    buf: bytes,
    dtype: str,
    shape: Sequence[int],
    channels: Optional[Sequence[str]] = None,
    origin: str = "top_left",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedImage:
    """Decode an uncompressed pixel buffer described as in the protocol's image descriptor.

    Args:
        buf: the bytes, rows of interleaved channels, little-endian.
        dtype: "uint8", "uint16", "float16" or "float32".
        shape: [height, width] or [height, width, channels].
        channels: channel names (R/G/B/A/Y or Nuke's rgba.red ...); None: by count
            (1 = Y, 2 = Y A, 3 = RGB, 4 = RGBA).
        origin: "top_left", or "bottom_left" when the first row in the buffer is the bottom one.
    """
    name = f"<raw {dtype} buffer>"
    array = _raw_array(buf, dtype, shape, name, max_pixels)
    if origin not in ORIGINS:
        raise bad_image(name, f"origin must be one of {ORIGINS}, not {origin!r}")
    if origin == "bottom_left":
        array = array[::-1]
    names = list(channels) if channels is not None else _default_names(array.shape[2])
    if len(names) != array.shape[2]:
        raise bad_image(name, f"{len(names)} channel names for {array.shape[2]} channels")
    planes = _split_roles(array, names, name)
    integer = array.dtype.kind == "u"
    scale = 1.0 / _integer_max(array.dtype) if integer else 1.0
    return _from_planes(planes, scale, integer, name)


def bad_image(name: str, why: str) -> ProtocolError:
    """The BAD_IMAGE error every decoder raises."""
    return ProtocolError(ErrorCode.BAD_IMAGE, f"{name}: {why}", details={"image": name})


# ---------------------------------------------------------------- helpers


def _resolve_encoding(data: Union[bytes, Path], encoding: Optional[str], name: str) -> str:
    if encoding is not None:
        kind = encoding.lower()
        if kind == "jpg":
            kind = "jpeg"
        if kind == "tif":
            kind = "tiff"
        if kind not in ENCODINGS or kind == "raw":
            raise bad_image(name, f"unsupported encoding {encoding!r}; expected exr/png/jpeg/tiff")
        return kind
    head = _read_bytes(data, name, limit=16)
    sniffed = headers.sniff(head)
    if sniffed is None:
        raise bad_image(name, "not an EXR, PNG, JPEG or TIFF image (unknown file signature)")
    return sniffed


def _read_bytes(data: Union[bytes, Path], name: str, limit: int = -1) -> bytes:
    if isinstance(data, bytes):
        return data if limit < 0 else data[:limit]
    from .reading import read_regular_file

    # Never a blocking open(): a FIFO or device here would hang the calling thread.
    return read_regular_file(data, limit if limit >= 0 else MAX_FILE_BYTES, "image file")


def _decode_exr(data: Union[bytes, Path], max_pixels: int) -> DecodedImage:
    image = read_exr(data, max_pixels=max_pixels, only=_EXR_CHANNELS)
    name = str(data) if isinstance(data, Path) else "<exr bytes>"
    names = list(image.channels)
    if not names:
        raise bad_image(name, "no R, G, B or Y channel in the EXR")
    planes = {role: image.channels[n] for role, n in _roles_by_name(names).items()}
    return _from_planes(planes, 1.0, False, name)


def _decode_cv2(blob: bytes, name: str, size: Tuple[int, int]) -> DecodedImage:
    import cv2

    try:
        array = cv2.imdecode(np.frombuffer(blob, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as err:
        raise bad_image(name, f"decoding failed ({err})") from err
    if array is None:
        raise bad_image(name, "decoding failed (corrupt or unsupported image)")
    if array.ndim == 2:
        array = array[:, :, None]
    if (array.shape[1], array.shape[0]) != size:
        raise bad_image(
            name, f"header says {size[0]}x{size[1]}, pixels are {array.shape[1]}x{array.shape[0]}"
        )
    # OpenCV orders colour channels B, G, R(, A).
    names = _CV2_NAMES.get(array.shape[2])
    if names is None:
        raise bad_image(name, f"{array.shape[2]} channels are not supported")
    integer = array.dtype.kind == "u"
    if not integer and array.dtype.kind != "f":
        raise bad_image(name, f"pixel type {array.dtype} is not supported")
    scale = 1.0 / _integer_max(array.dtype) if integer else 1.0
    return _from_planes(_split_roles(array, names, name), scale, integer, name)


def _raw_array(
    buf: bytes, dtype: str, shape: Sequence[int], name: str, max_pixels: int
) -> np.ndarray:
    if dtype not in RAW_DTYPES:
        raise bad_image(name, f"dtype must be one of {sorted(RAW_DTYPES)}, not {dtype!r}")
    if len(shape) not in (2, 3) or any(int(d) <= 0 for d in shape):
        raise bad_image(
            name, f"shape must be [height, width] or [height, width, channels], not {list(shape)}"
        )
    height, width = int(shape[0]), int(shape[1])
    count = int(shape[2]) if len(shape) == 3 else 1
    if width * height > max_pixels:
        raise bad_image(name, f"{width}x{height} exceeds the limit of {max_pixels} pixels")
    np_dtype = RAW_DTYPES[dtype]
    expected = height * width * count * np_dtype.itemsize
    if len(buf) != expected:
        raise bad_image(
            name,
            f"{len(buf)} bytes, but {dtype} {height}x{width}x{count} needs {expected} bytes",
        )
    return np.frombuffer(buf, dtype=np_dtype).reshape(height, width, count)


def _integer_max(dtype: np.dtype) -> float:
    """The largest value of an unsigned integer type: what 1.0 is in an integer image."""
    return float(2 ** (8 * dtype.itemsize) - 1)


def _default_names(count: int) -> List[str]:
    names = {1: ["Y"], 2: ["Y", "A"], 3: ["R", "G", "B"], 4: ["R", "G", "B", "A"]}.get(count)
    if names is None:
        raise bad_image("<raw buffer>", f"{count} channels need explicit channel names")
    return names


def _roles_by_name(names: Sequence[str]) -> Dict[str, str]:
    """Role (R, G, B, A, Y) -> the channel name that plays it; the first spelling wins."""
    roles: Dict[str, str] = {}
    for channel in names:
        role = _ROLES.get(channel.rsplit(".", 1)[-1].lower())
        if role is not None and role not in roles:
            roles[role] = channel
    return roles


def _split_roles(array: np.ndarray, names: Sequence[str], name: str) -> Dict[str, np.ndarray]:
    index = {channel: i for i, channel in enumerate(names)}
    roles = _roles_by_name(names)
    if not roles:
        raise bad_image(name, f"no red/green/blue or luminance channel among {list(names)}")
    return {role: array[:, :, index[channel]] for role, channel in roles.items()}


def _from_planes(
    planes: Dict[str, np.ndarray], scale: float, integer: bool, name: str
) -> DecodedImage:
    if all(role in planes for role in ("R", "G", "B")):
        order = ["R", "G", "B"]
    elif "Y" in planes:
        order = ["Y", "Y", "Y"]
    else:
        raise bad_image(name, f"needs R, G and B or a luminance channel, has {sorted(planes)}")
    rgb = np.stack([planes[r] for r in order], axis=-1).astype(np.float32, copy=False)
    alpha = planes["A"].astype(np.float32) if "A" in planes else None
    if scale != 1.0:
        rgb *= np.float32(scale)
        if alpha is not None:
            alpha *= np.float32(scale)
    return DecodedImage(rgb=rgb, alpha=alpha, display_referred=integer)
