"""EXR compression methods: which this OpenEXR build supports (probed, not assumed) and their names.

Names are OpenEXR's own, lower case: none, rle, zips, zip, piz, pxr24, b44, b44a, dwaa, dwab,
and in newer builds htj2k256, htj2k32, zstd ... ("htj2k" is accepted for htj2k256).
"""

from __future__ import annotations

import functools
import io
import logging
from typing import Any, Dict, List, Tuple

import numpy as np

from sam2matting.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)


def supported_compressions() -> List[str]:
    """Compression names this OpenEXR build writes and reads back, probed once per process."""
    return list(_probe_compressions())


@functools.lru_cache(maxsize=1)
def _probe_compressions() -> Tuple[str, ...]:
    import OpenEXR

    names: List[str] = []
    plane = np.linspace(0.0, 1.0, 16 * 16, dtype=np.float32).reshape(16, 16)
    for name, member in _all_compressions().items():
        try:
            buffer = io.BytesIO()
            header = {"compression": member, "type": OpenEXR.scanlineimage}
            OpenEXR.File(header, {"A": plane}).write(buffer)
            back = OpenEXR.File(io.BytesIO(buffer.getvalue()), separate_channels=True)
            if back.channels()["A"].pixels.shape != plane.shape:
                continue
        except (RuntimeError, ValueError, TypeError) as err:
            log.debug("EXR compression %s unavailable: %s", name, err)
            continue
        names.append(name)
    return tuple(names)


def _all_compressions() -> Dict[str, Any]:
    """Every compression the binding names: 'none', 'zip', 'piz', 'htj2k256', ..."""
    import OpenEXR

    out: Dict[str, Any] = {}
    for member_name, member in OpenEXR.Compression.__members__.items():
        if not member_name.endswith("_COMPRESSION"):
            continue  # NUM_COMPRESSION_METHODS
        short = member_name[: -len("_COMPRESSION")].lower()
        out["none" if short == "no" else short] = member
    return out


def check_compression(name: str) -> str:
    """The canonical name of a supported compression ('HTJ2K' -> 'htj2k256').

    Raises:
        ProtocolError: INVALID_FIELD naming the supported ones.
    """
    return compression_name(compression_enum(name))


def compression_enum(name: str) -> Any:
    key = name.strip().lower()
    supported = _probe_compressions()
    if key == "htj2k" and "htj2k256" in supported:  # the family name, as OpenEXR docs use it
        key = "htj2k256"
    if key not in supported:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD,
            f"EXR compression {name!r} is not supported by this OpenEXR build",
            hint=f"Use one of: {', '.join(supported)} (setting exr_compression).",
            details={"compression": name},
        )
    return _all_compressions()[key]


def compression_name(member: Any) -> str:
    for name, value in _all_compressions().items():
        if value == member:
            return name
    return str(member)
