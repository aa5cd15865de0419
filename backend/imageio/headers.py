"""Image sizes from file headers, read before any pixel is decoded.

OpenCV decodes first and checks later (and only against a process-wide limit), so the decoders
here read PNG, JPEG and TIFF headers themselves to refuse oversized images up front.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Optional, Tuple, Union

from sam2matting.protocol.errors import ErrorCode, ProtocolError

_SIGNATURES = (
    (b"\x76\x2f\x31\x01", "exr"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
)
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic ...), not DHT/JPG/DAC.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# JPEG markers without a length field.
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD9)})
_TIFF_WIDTH, _TIFF_HEIGHT = 256, 257
EXR_HEADER_BYTES = 1 << 20  # headers with attributes beyond this are refused


def sniff(head: bytes) -> Optional[str]:
    """The encoding a file's first bytes announce, or None."""
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    return None


def image_size(blob: bytes, kind: str, name: str) -> Tuple[int, int]:
    """(width, height) of a PNG, JPEG or TIFF from its header bytes."""
    readers = {"png": _png_size, "jpeg": _jpeg_size, "tiff": _tiff_size}
    if kind not in readers:
        raise ValueError(f"no header reader for {kind}")
    try:
        size = readers[kind](blob)
    except (struct.error, ValueError, IndexError) as err:
        raise _bad(name, f"cannot read the {kind.upper()} header ({err})") from err
    if size[0] <= 0 or size[1] <= 0:
        raise _bad(name, f"the {kind.upper()} header gives an empty size {size}")
    return size


def exr_size(data: Union[bytes, Path], name: str) -> Tuple[int, int]:
    """(width, height) of an EXR's display window, from its header only."""
    import io

    import OpenEXR

    if isinstance(data, Path):
        from .reading import read_regular_file

        # The header alone, read without blocking on special files (a FIFO would hang open()).
        data = read_regular_file(data, EXR_HEADER_BYTES, "EXR file")
    target = io.BytesIO(data)
    try:
        header = OpenEXR.File(target, separate_channels=True, header_only=True).header()
        (xmin, ymin), (xmax, ymax) = header["displayWindow"]
    except (RuntimeError, ValueError, TypeError, OSError, KeyError) as err:
        raise _bad(name, f"not a readable EXR ({err})") from err
    return int(xmax - xmin + 1), int(ymax - ymin + 1)


def _png_size(blob: bytes) -> Tuple[int, int]:
    if blob[12:16] != b"IHDR":
        raise ValueError("no IHDR chunk")
    width, height = struct.unpack(">II", blob[16:24])
    return int(width), int(height)


def _jpeg_size(blob: bytes) -> Tuple[int, int]:
    pos = 2
    while pos < len(blob):
        if blob[pos] != 0xFF:
            raise ValueError(f"expected a marker at byte {pos}")
        while blob[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = blob[pos]
        pos += 1
        if marker in _STANDALONE_MARKERS:
            continue
        (length,) = struct.unpack(">H", blob[pos : pos + 2])
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", blob[pos + 3 : pos + 7])
            return int(width), int(height)
        pos += length
    raise ValueError("no frame header before the end of the data")


def _tiff_size(blob: bytes) -> Tuple[int, int]:
    order = "<" if blob[:2] == b"II" else ">"
    (version,) = struct.unpack(order + "H", blob[2:4])
    big = version == 43
    if big:
        (offset,) = struct.unpack(order + "Q", blob[8:16])
        (count,) = struct.unpack(order + "Q", blob[offset : offset + 8])
        entry_size, first = 20, offset + 8
    else:
        (offset,) = struct.unpack(order + "I", blob[4:8])
        (count,) = struct.unpack(order + "H", blob[offset : offset + 2])
        entry_size, first = 12, offset + 2
    found = {}
    for i in range(min(int(count), 4096)):
        entry = blob[first + i * entry_size : first + (i + 1) * entry_size]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (_TIFF_WIDTH, _TIFF_HEIGHT):
            found[tag] = _tiff_value(entry, kind, order, big)
    if len(found) < 2:
        raise ValueError("no ImageWidth/ImageLength tags in the first directory")
    return found[_TIFF_WIDTH], found[_TIFF_HEIGHT]


def _tiff_value(entry: bytes, kind: int, order: str, big: bool) -> int:
    value_at = 12 if big else 8
    formats = {3: "H", 4: "I", 16: "Q"}  # SHORT, LONG, LONG8
    if kind not in formats:
        raise ValueError(f"unexpected TIFF field type {kind} for the image size")
    fmt = order + formats[kind]
    (value,) = struct.unpack(fmt, entry[value_at : value_at + struct.calcsize(fmt)])
    return int(value)


def _bad(name: str, why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_IMAGE, f"{name}: {why}", details={"image": name})
