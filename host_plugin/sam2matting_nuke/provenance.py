"""Where pixels came from: a digest of the pixels in an EXR file, with the standard library only.

The node renders its plate and mask prompts to EXR (Zip, 1 scanline). Hashing the whole file
would see Nuke's metadata (node hash, time) change on every render of the same pixels, so the
digest covers what the OpenEXR file layout defines as the pixels: the channel list, the data
window and each scanline block in order of y, uncompressed (zlib for the Zip codecs) so that
the encoder's byte choices do not matter either (a block the codec could not shrink is stored
raw, as the format allows; its size tells which). Files in other layouts (tiled, multi-part, or
codecs other than none/RLE/Zip) are digested from their chunk bytes as stored, which only
changes when the pixels or the codec change.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path
from typing import Dict, Tuple, Union

_MAGIC = 20000630
_LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}
_ZIP = (2, 3)
_TILED, _MULTIPART = 0x200, 0x1000


class DigestError(ValueError):
    """The file is not an EXR this module can read."""


def exr_digest(path: Union[str, Path]) -> str:
    """A hex digest of an EXR's pixels (see the module docstring)."""
    data = Path(path).read_bytes()
    if len(data) < 8 or struct.unpack_from("<i", data, 0)[0] != _MAGIC:
        raise DigestError(f"{path} is not an OpenEXR file")
    flags = struct.unpack_from("<i", data, 4)[0]
    attrs, end = _header(data, 8)
    digest = hashlib.sha256()
    digest.update(attrs.get("channels", b""))
    digest.update(attrs.get("dataWindow", b""))
    if flags & (_TILED | _MULTIPART):
        digest.update(data[end:])
        return digest.hexdigest()
    compression = attrs.get("compression", b"\0")[0]
    xmin, ymin, xmax, ymax = _window(attrs)
    lines = _LINES_PER_CHUNK.get(compression, 1)
    row_bytes = (xmax - xmin + 1) * _sample_bytes(attrs.get("channels", b""))
    chunks = -(-(ymax - ymin + 1) // lines)
    pos = end + 8 * chunks  # the offset table is skipped: it depends on the header's size
    blocks = []
    for _ in range(chunks):
        y, size = struct.unpack_from("<ii", data, pos)
        block = data[pos + 8 : pos + 8 + size]
        raw_size = row_bytes * min(lines, ymax - y + 1)
        if compression in _ZIP and size < raw_size:
            block = zlib.decompress(block)
        blocks.append((y, block))
        pos += 8 + size
    for y, block in sorted(blocks):
        digest.update(struct.pack("<ii", y, len(block)))
        digest.update(block)
    return digest.hexdigest()


def _header(data: bytes, pos: int) -> Tuple[Dict[str, bytes], int]:
    attrs: Dict[str, bytes] = {}
    while data[pos] != 0:
        name, pos = _cstring(data, pos)
        _kind, pos = _cstring(data, pos)
        (size,) = struct.unpack_from("<i", data, pos)
        attrs[name] = data[pos + 4 : pos + 4 + size]
        pos += 4 + size
    return attrs, pos + 1


def _cstring(data: bytes, pos: int) -> Tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode("ascii", "replace"), end + 1


def _window(attrs: Dict[str, bytes]) -> Tuple[int, int, int, int]:
    window = attrs.get("dataWindow")
    if window is None or len(window) != 16:
        raise DigestError("the EXR header has no dataWindow")
    xmin, ymin, xmax, ymax = struct.unpack("<iiii", window)
    return xmin, ymin, xmax, ymax


def _sample_bytes(chlist: bytes) -> int:
    """Bytes of one pixel over every channel: UINT and FLOAT 4, HALF 2 (the chlist attribute:
    name, NUL, pixel type, pLinear, 3 reserved bytes, x and y sampling; a NUL ends it)."""
    total, pos = 0, 0
    while pos < len(chlist) and chlist[pos] != 0:
        pos = chlist.index(b"\0", pos) + 1
        (pixel_type,) = struct.unpack_from("<i", chlist, pos)
        total += 2 if pixel_type == 1 else 4
        pos += 16
    return total
