"""A small pure-Python OpenEXR codec for the fake (Nuke-side test venvs have no numpy/OpenEXR).

Single-part scanline files only; compression NONE, ZIPS (1 line per block) and ZIP (16 lines);
pixel types HALF and FLOAT (UINT read only). Enough to write the plates the fake Write renders
and to read the float mattes the backend writes (ZIP, data window inside the display window).
Rows are returned top row first, as stored; the fake's image model flips them to Nuke's y-up.
"""

from __future__ import annotations

import struct
import zlib
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

MAGIC = 20000630
NONE, RLE, ZIPS, ZIP = 0, 1, 2, 3
LINES_PER_BLOCK = {NONE: 1, ZIPS: 1, ZIP: 16}
UINT, HALF, FLOAT = 0, 1, 2
_SAMPLE = {UINT: ("I", 4), HALF: ("e", 2), FLOAT: ("f", 4)}

Window = Tuple[int, int, int, int]  # xmin, ymin, xmax, ymax (inclusive, y down)


class ExrError(ValueError):
    """The bytes are not an EXR this codec reads."""


class ExrImage:
    """Planes of floats, top row first, covering the data window."""

    def __init__(
        self,
        display: Window,
        data: Window,
        planes: Dict[str, List[float]],
        pixel_aspect: float = 1.0,
        attributes: Optional[Dict[str, bytes]] = None,
        types: Optional[Dict[str, int]] = None,
        compression: int = NONE,
    ) -> None:
        self.display = display
        self.data = data
        self.planes = planes
        self.pixel_aspect = pixel_aspect
        self.attributes = attributes or {}
        self.types = types or {}
        self.compression = compression

    @property
    def width(self) -> int:
        return self.display[2] - self.display[0] + 1

    @property
    def height(self) -> int:
        return self.display[3] - self.display[1] + 1

    def display_plane(self, name: str) -> List[float]:
        """A channel over the whole display window (zero outside the data window), top row first."""
        out = [0.0] * (self.width * self.height)
        plane = self.planes[name]
        dx0, dy0, dx1, dy1 = self.data
        w = dx1 - dx0 + 1
        for row in range(dy0, dy1 + 1):
            y = row - self.display[1]
            if not 0 <= y < self.height:
                continue
            for col in range(dx0, dx1 + 1):
                x = col - self.display[0]
                if 0 <= x < self.width:
                    out[y * self.width + x] = plane[(row - dy0) * w + (col - dx0)]
        return out


# ------------------------------------------------------------------ writing


def encode(
    width: int,
    height: int,
    planes: Mapping[str, Sequence[float]],
    pixel_type: int = HALF,
    compression: int = NONE,
    pixel_aspect: float = 1.0,
    attributes: Optional[Mapping[str, str]] = None,
) -> bytes:
    """The bytes of an EXR holding `planes` (each top row first, width*height samples)."""
    names = sorted(planes)
    header = _header(width, height, names, pixel_type, compression, pixel_aspect, attributes)
    lines = LINES_PER_BLOCK[compression]
    blocks = []
    for y0 in range(0, height, lines):
        raw = bytearray()
        for y in range(y0, min(height, y0 + lines)):
            for name in names:
                row = planes[name][y * width : (y + 1) * width]
                fmt, _size = _SAMPLE[pixel_type]
                raw += struct.pack(f"<{width}{fmt}", *row)
        data = _zip_compress(bytes(raw)) if compression in (ZIP, ZIPS) else bytes(raw)
        if len(data) >= len(raw):
            data = bytes(raw)  # OpenEXR stores a block raw when compression does not help
        blocks.append(struct.pack("<ii", y0, len(data)) + data)
    offset = len(header) + 8 * len(blocks)
    table = bytearray()
    for block in blocks:
        table += struct.pack("<Q", offset)
        offset += len(block)
    return header + bytes(table) + b"".join(blocks)


def _header(
    width: int,
    height: int,
    names: Sequence[str],
    pixel_type: int,
    compression: int,
    pixel_aspect: float,
    attributes: Optional[Mapping[str, str]],
) -> bytes:
    chlist = (
        b"".join(n.encode() + b"\0" + struct.pack("<iB3xii", pixel_type, 0, 1, 1) for n in names)
        + b"\0"
    )
    window = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    attrs = [
        ("channels", "chlist", chlist),
        ("compression", "compression", bytes([compression])),
        ("dataWindow", "box2i", window),
        ("displayWindow", "box2i", window),
        ("lineOrder", "lineOrder", b"\0"),
        ("pixelAspectRatio", "float", struct.pack("<f", pixel_aspect)),
        ("screenWindowCenter", "v2f", struct.pack("<ff", 0.0, 0.0)),
        ("screenWindowWidth", "float", struct.pack("<f", 1.0)),
    ]
    for key, text in sorted((attributes or {}).items()):
        attrs.append((key, "string", text.encode("utf-8")))
    out = bytearray(struct.pack("<ii", MAGIC, 2))
    for name, kind, value in attrs:
        out += name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value))
        out += value
    out += b"\0"
    return bytes(out)


def _zip_compress(raw: bytes) -> bytes:
    n = len(raw)
    tmp = bytearray(n)
    half = (n + 1) // 2
    tmp[:half] = raw[0::2]
    tmp[half:] = raw[1::2]
    prev = tmp[0] if n else 0
    for i in range(1, n):
        cur = tmp[i]
        tmp[i] = (cur - prev + 128 + 256) & 0xFF
        prev = cur
    return zlib.compress(bytes(tmp))


# ------------------------------------------------------------------ reading


def decode(blob: bytes) -> ExrImage:
    """Parse EXR bytes (see the module docstring for what is supported)."""
    if len(blob) < 8 or struct.unpack_from("<i", blob, 0)[0] != MAGIC:
        raise ExrError("not an OpenEXR file")
    if struct.unpack_from("<i", blob, 4)[0] & ~0xFF:
        raise ExrError("only single-part scanline EXR files are supported")
    attrs, pos = _read_attributes(blob, 8)
    channels = _parse_chlist(attrs["channels"])
    compression = attrs["compression"][0]
    if compression not in LINES_PER_BLOCK:
        raise ExrError(f"compression {compression} is not supported by the fake")
    data = struct.unpack("<iiii", attrs["dataWindow"])
    display = struct.unpack("<iiii", attrs["displayWindow"])
    aspect = struct.unpack("<f", attrs.get("pixelAspectRatio", struct.pack("<f", 1.0)))[0]
    width, height = data[2] - data[0] + 1, data[3] - data[1] + 1
    lines = LINES_PER_BLOCK[compression]
    count = (height + lines - 1) // lines
    offsets = struct.unpack_from(f"<{count}Q", blob, pos)
    planes: Dict[str, List[float]] = {name: [] for name, _ in channels}
    for offset in offsets:
        y, size = struct.unpack_from("<ii", blob, offset)
        rows = min(lines, data[3] - y + 1)
        expected = rows * width * sum(_SAMPLE[t][1] for _, t in channels)
        chunk = blob[offset + 8 : offset + 8 + size]
        raw = chunk if size == expected else _zip_decompress(chunk, expected)
        _split_rows(raw, rows, width, channels, planes)
    return ExrImage(
        display,
        data,
        planes,
        float(aspect),
        attrs,
        types=dict(channels),
        compression=compression,
    )


def _read_attributes(blob: bytes, pos: int) -> Tuple[Dict[str, bytes], int]:
    attrs: Dict[str, bytes] = {}
    while blob[pos] != 0:
        name, pos = _cstring(blob, pos)
        _kind, pos = _cstring(blob, pos)
        (size,) = struct.unpack_from("<i", blob, pos)
        attrs[name] = blob[pos + 4 : pos + 4 + size]
        pos += 4 + size
    return attrs, pos + 1


def _cstring(blob: bytes, pos: int) -> Tuple[str, int]:
    end = blob.index(b"\0", pos)
    return blob[pos:end].decode("utf-8"), end + 1


def _parse_chlist(value: bytes) -> List[Tuple[str, int]]:
    out = []
    pos = 0
    while value[pos] != 0:
        name, pos = _cstring(value, pos)
        pixel_type, _linear, xs, ys = struct.unpack_from("<iB3xii", value, pos)
        if (xs, ys) != (1, 1):
            raise ExrError("subsampled channels are not supported")
        out.append((name, pixel_type))
        pos += 16
    return out


def _zip_decompress(chunk: bytes, expected: int) -> bytes:
    tmp = bytearray(zlib.decompress(chunk))
    if len(tmp) != expected:
        raise ExrError(f"a ZIP block has {len(tmp)} bytes, expected {expected}")
    for i in range(1, len(tmp)):
        tmp[i] = (tmp[i - 1] + tmp[i] - 128) & 0xFF
    half = (len(tmp) + 1) // 2
    out = bytearray(len(tmp))
    out[0::2] = tmp[:half]
    out[1::2] = tmp[half:]
    return bytes(out)


def _split_rows(
    raw: bytes,
    rows: int,
    width: int,
    channels: Sequence[Tuple[str, int]],
    planes: Dict[str, List[float]],
) -> None:
    pos = 0
    for _row in range(rows):
        for name, pixel_type in channels:
            fmt, size = _SAMPLE[pixel_type]
            planes[name].extend(struct.unpack_from(f"<{width}{fmt}", raw, pos))
            pos += width * size
