"""OpenEXR read and write through the OpenEXR >= 3.4 `OpenEXR.File` API.

Reading always returns float32 planes over the display window (what Nuke calls the format):
pixels outside the data window are 0 and overscan outside the display window is cropped.
Writing is atomic (`atomic.atomic_write_bytes`): the file is encoded in memory, written to a temp
file beside the target and renamed over it.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Dict, List, Mapping, NamedTuple, Optional, Set, Tuple, Union

import numpy as np

from sam2matting.protocol.atomic import atomic_write_bytes
from sam2matting.protocol.errors import ErrorCode, ProtocolError

from .compression import compression_enum, compression_name, supported_compressions

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ExrImage",
    "Window",
    "encode_exr",
    "read_exr",
    "read_exr_metadata",
    "supported_compressions",
    "write_exr",
]

# 2^27 pixels: 16K x 8K. Checked against both windows before any pixel is allocated, so a
# crafted header cannot make the backend allocate gigabytes.
DEFAULT_MAX_PIXELS = 1 << 27
MAX_CHANNELS = 1023  # Nuke's own limit per script
PIXEL_TYPES = ("float", "half")

# Header attributes OpenEXR manages itself; user metadata may not overwrite them.
_RESERVED_ATTRIBUTES = frozenset(
    {
        "channels",
        "compression",
        "dataWindow",
        "displayWindow",
        "lineOrder",
        "pixelAspectRatio",
        "screenWindowCenter",
        "screenWindowWidth",
        "type",
        "tiles",
        "name",
        "chunkCount",
        "version",
    }
)


class Window(NamedTuple):
    """A pixel box with inclusive bounds, as EXR stores data and display windows."""

    xmin: int
    ymin: int
    xmax: int
    ymax: int

    @property
    def width(self) -> int:
        return self.xmax - self.xmin + 1

    @property
    def height(self) -> int:
        return self.ymax - self.ymin + 1

    @classmethod
    def of_size(cls, width: int, height: int) -> Window:
        return cls(0, 0, width - 1, height - 1)

    @classmethod
    def from_header(cls, box: Any) -> Window:
        (xmin, ymin), (xmax, ymax) = box
        return cls(int(xmin), int(ymin), int(xmax), int(ymax))

    def to_header(self) -> Tuple[Tuple[int, int], Tuple[int, int]]:
        return (self.xmin, self.ymin), (self.xmax, self.ymax)


@dataclass
class ExrImage:
    """A decoded EXR: float32 (H, W) planes over the display window, plus its header."""

    channels: Dict[str, np.ndarray]
    display_window: Window
    data_window: Window
    metadata: Dict[str, str]
    pixel_types: Dict[str, str]  # channel -> "half" | "float" | "uint", as stored in the file
    pixel_aspect: float = 1.0
    compression: str = "zip"

    @property
    def width(self) -> int:
        return self.display_window.width

    @property
    def height(self) -> int:
        return self.display_window.height


# ---------------------------------------------------------------- reading


def read_exr(
    source: Union[Path, str, bytes],
    max_pixels: int = DEFAULT_MAX_PIXELS,
    only: Optional[Collection[str]] = None,
) -> ExrImage:
    """Read an EXR file or in-memory EXR bytes.

    Args:
        source: a path, or the bytes of a whole EXR file.
        max_pixels: refuse files whose data or display window holds more pixels than this.
        only: channel names to return (others are skipped); None for all.

    Raises:
        ProtocolError: BAD_IMAGE when the file is missing, corrupt, too large, deep or has
            subsampled channels.
    """
    name = str(source) if not isinstance(source, bytes) else "<EXR bytes>"
    header_file = _open(source, name, header_only=True)
    parts = list(header_file.parts)
    if not parts:
        raise _bad(name, "the file has no image parts")
    _check_header(parts[0].header, name, max_pixels)
    for part in parts[1:]:
        _check_header(part.header, name, max_pixels)
    full = list(_open(source, name, header_only=False).parts)
    # On damaged pixel data the binding prints a warning and returns parts without pixels.
    if len(full) != len(parts) or any(
        len(p.channels) != len(h.header.get("channels", ())) for p, h in zip(full, parts)
    ):
        raise _bad(name, "the pixel data is truncated or corrupt")
    return _assemble(full, name, only)


def read_exr_metadata(source: Union[Path, str, bytes]) -> Dict[str, str]:
    """The string attributes of an EXR's header, without reading pixels."""
    name = str(source) if not isinstance(source, bytes) else "<EXR bytes>"
    header_file = _open(source, name, header_only=True)
    return _string_attributes(header_file.header())


def _open(source: Union[Path, str, bytes], name: str, header_only: bool) -> Any:
    import OpenEXR

    if isinstance(source, bytes):
        target: Any = io.BytesIO(source)
    else:
        if not Path(source).is_file():
            raise _bad(name, "file not found")
        target = str(source)
    try:
        return OpenEXR.File(target, separate_channels=True, header_only=header_only)
    except (RuntimeError, ValueError, TypeError, OSError) as err:
        raise _bad(name, f"not a readable EXR ({err})") from err


def _check_header(header: Mapping[str, Any], name: str, max_pixels: int) -> None:
    import OpenEXR

    if header.get("type") in (OpenEXR.deepscanline, OpenEXR.deeptile):
        raise _bad(name, "deep EXR files are not supported; flatten the image first")
    try:
        data = Window.from_header(header["dataWindow"])
        display = Window.from_header(header["displayWindow"])
    except (KeyError, TypeError, ValueError) as err:
        raise _bad(name, f"missing or invalid window attributes ({err})") from err
    for label, window in (("data", data), ("display", display)):
        if window.width <= 0 or window.height <= 0:
            raise _bad(name, f"empty {label} window {tuple(window)}")
        if window.width * window.height > max_pixels:
            raise _bad(
                name,
                f"{label} window {window.width}x{window.height} exceeds the limit of "
                f"{max_pixels} pixels",
            )
    if len(header.get("channels", ())) > MAX_CHANNELS:
        raise _bad(name, f"more than {MAX_CHANNELS} channels")


def _assemble(parts: List[Any], name: str, only: Optional[Collection[str]]) -> ExrImage:
    first = parts[0].header
    display = Window.from_header(first["displayWindow"])
    data = Window.from_header(first["dataWindow"])
    channels: Dict[str, np.ndarray] = {}
    types: Dict[str, str] = {}
    seen: Set[str] = set()
    for part in parts:
        part_data = Window.from_header(part.header["dataWindow"])
        for chan_name, channel in part.channels.items():
            # Later parts of a multi-part file may reuse names ("R"): prefix with the part name.
            key = chan_name if chan_name not in seen else f"{part.name()}.{chan_name}"
            seen.add(key)
            if only is not None and key not in only:
                continue
            pixels = channel.pixels
            if pixels.shape != (part_data.height, part_data.width):
                raise _bad(name, f"channel {chan_name!r} is subsampled, which is not supported")
            channels[key] = _place(pixels, part_data, display)
            types[key] = _type_name(channel)
    return ExrImage(
        channels=channels,
        display_window=display,
        data_window=data,
        metadata=_string_attributes(first),
        pixel_types=types,
        pixel_aspect=float(first.get("pixelAspectRatio", 1.0)),
        compression=compression_name(first.get("compression")),
    )


def _place(pixels: np.ndarray, data: Window, display: Window) -> np.ndarray:
    """Copy the data-window plane into a zeroed display-window plane (crop or pad)."""
    if data == display:
        return np.ascontiguousarray(pixels, dtype=np.float32)
    out = np.zeros((display.height, display.width), dtype=np.float32)
    x0, x1 = max(data.xmin, display.xmin), min(data.xmax, display.xmax)
    y0, y1 = max(data.ymin, display.ymin), min(data.ymax, display.ymax)
    if x0 <= x1 and y0 <= y1:
        dst_y, dst_x = (
            slice(y0 - display.ymin, y1 - display.ymin + 1),
            slice(x0 - display.xmin, x1 - display.xmin + 1),
        )
        src_y, src_x = (
            slice(y0 - data.ymin, y1 - data.ymin + 1),
            slice(x0 - data.xmin, x1 - data.xmin + 1),
        )
        out[dst_y, dst_x] = pixels[src_y, src_x]
    return out


def _type_name(channel: Any) -> str:
    import OpenEXR

    pixel_type = channel.type()
    if pixel_type == OpenEXR.HALF:
        return "half"
    if pixel_type == OpenEXR.UINT:
        return "uint"
    return "float"


def _string_attributes(header: Mapping[str, Any]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for key, value in header.items():
        if key in _RESERVED_ATTRIBUTES:
            continue
        if isinstance(value, bytes):
            out[key] = value.decode("utf-8", "replace")
        elif isinstance(value, str):
            out[key] = value
    return out


def _bad(name: str, why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_IMAGE, f"{name}: {why}", details={"image": name})


# ---------------------------------------------------------------- writing


def write_exr(
    path: Union[Path, str],
    channels: Mapping[str, np.ndarray],
    *,
    compression: str = "zip",
    pixel_type: str = "float",
    metadata: Optional[Mapping[str, str]] = None,
    data_window: Optional[Window] = None,
    display_window: Optional[Window] = None,
) -> None:
    """Write planes to an EXR file atomically (see `encode_exr` for the arguments).

    Raises:
        ProtocolError: DISK_FULL when the disk is full (no partial file is left behind);
            INVALID_FIELD for a compression this OpenEXR build cannot write.
        OSError: other write failures, naming `path`.
    """
    data = encode_exr(
        channels,
        compression=compression,
        pixel_type=pixel_type,
        metadata=metadata,
        data_window=data_window,
        display_window=display_window,
    )
    atomic_write_bytes(path, data)


def encode_exr(
    channels: Mapping[str, np.ndarray],
    *,
    compression: str = "zip",
    pixel_type: str = "float",
    metadata: Optional[Mapping[str, str]] = None,
    data_window: Optional[Window] = None,
    display_window: Optional[Window] = None,
) -> bytes:
    """Encode (H, W) planes as the bytes of a single-part scanline EXR file.

    Args:
        channels: name -> (H, W) array; uint32 arrays stay UINT, everything else becomes
            `pixel_type` ("float" = 32-bit, "half" = 16-bit).
        compression: one of `supported_compressions()`.
        metadata: extra string attributes (not the standard EXR ones).
        data_window: where the planes sit; default (0, 0) to (W-1, H-1).
        display_window: the image's format; default the data window.
    """
    import OpenEXR

    planes = _planes(channels, pixel_type)
    height, width = next(iter(planes.values())).shape
    data = data_window or Window.of_size(width, height)
    if (data.width, data.height) != (width, height):
        raise ValueError(f"data window {tuple(data)} does not match planes of {width}x{height}")
    header: Dict[str, Any] = {
        "compression": compression_enum(compression),
        "type": OpenEXR.scanlineimage,
        "dataWindow": data.to_header(),
        "displayWindow": (display_window or data).to_header(),
    }
    header.update(_metadata_attributes(metadata or {}))
    buffer = io.BytesIO()
    OpenEXR.File(header, planes).write(buffer)
    return buffer.getvalue()


def _planes(channels: Mapping[str, np.ndarray], pixel_type: str) -> Dict[str, np.ndarray]:
    if pixel_type not in PIXEL_TYPES:
        raise ValueError(f"pixel_type must be one of {PIXEL_TYPES}, not {pixel_type!r}")
    if not channels:
        raise ValueError("an EXR needs at least one channel")
    dtype = np.float32 if pixel_type == "float" else np.float16
    planes: Dict[str, np.ndarray] = {}
    shape: Optional[Tuple[int, ...]] = None
    for name, array in channels.items():
        if not name:
            raise ValueError("channel names must not be empty")
        if array.ndim != 2 or (shape is not None and array.shape != shape):
            raise ValueError(f"channel {name!r}: expected one (H, W) shape, got {array.shape}")
        shape = array.shape
        target = np.uint32 if array.dtype == np.uint32 else dtype
        planes[name] = np.ascontiguousarray(array, dtype=target)
    return planes


def _metadata_attributes(metadata: Mapping[str, str]) -> Dict[str, str]:
    for key, value in metadata.items():
        if key in _RESERVED_ATTRIBUTES or not key:
            raise ValueError(f"metadata key {key!r} is reserved by OpenEXR")
        if not isinstance(value, str):
            raise TypeError(f"metadata {key!r}: values must be strings, not {type(value).__name__}")
    return dict(metadata)
