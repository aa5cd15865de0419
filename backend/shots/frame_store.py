"""A shot's plate on disk, read back on demand as the tracker's `FrameSource`.

Frames arrive either inline (bytes from the host, stored under `<shot>/plate/`) or as paths to
the studio's own files (recorded, never copied). `plate/refs.json` indexes both; it is rewritten
atomically on every change, so a restarted backend finds its frames again. Decoded frames are
kept in a small LRU so that host memory stays flat however long the shot is.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from sam2matting.protocol.atomic import atomic_write_bytes, clean_stale_temp_files
from sam2matting.protocol.cache_layout import PLATE_DIR, plate_file
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import padding, to_ranges

from ..imageio.colour import ColourConverter
from ..imageio.decode import (
    ENCODINGS,
    ORIGINS,
    DecodedImage,
    decode_image,
    decode_raw,
    image_size,
)
from ..imageio.exr import DEFAULT_MAX_PIXELS, encode_exr
from .plate_index import FrameEntry, PlateIndex

log = logging.getLogger(__name__)

_EXTENSIONS = {"exr": "exr", "png": "png", "jpeg": "jpg", "tiff": "tif"}
# Integer images (PNG, JPEG, 8/16-bit raw) are display-encoded already; unless the host names
# their colourspace, they are taken as sRGB rather than as the shot's (scene-linear) colourspace.
DISPLAY_DEFAULT = "srgb"


class FrameStore:
    """The plate of one shot: frames by number on disk, by 0-based index for the tracker.

    Thread-safe: the server's I/O thread puts frames while the GPU worker reads them.
    Tensors returned by `rgb` are the caller's own (never the cached copy).
    """

    def __init__(
        self,
        root: Union[Path, str],
        first_frame: int,
        last_frame: int,
        width: int,
        height: int,
        *,
        colourspace: str = "scene_linear",
        allowed_roots: Sequence[Union[Path, str]] = (),
        ocio_config: Optional[Union[Path, str]] = None,
        cache_frames: int = 3,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        """Open (or create) the store under `<root>/plate/`.

        Args:
            root: the shot's folder.
            colourspace: the colourspace of float frames sent without one.
            allowed_roots: folders `put_path` may reference (after resolving symlinks).
            cache_frames: decoded frames kept in memory (each 12 bytes per pixel).
        """
        if last_frame < first_frame or width <= 0 or height <= 0 or cache_frames < 0:
            raise ValueError(
                f"bad shot geometry: frames {first_frame}-{last_frame}, {width}x{height}, "
                f"cache_frames={cache_frames}"
            )
        self.first_frame, self.last_frame = first_frame, last_frame
        self.width, self.height = width, height
        self.colourspace = colourspace
        self.ocio_config = ocio_config
        self.max_pixels = max_pixels
        self.plate_dir = Path(root) / PLATE_DIR
        self.plate_dir.mkdir(parents=True, exist_ok=True)
        clean_stale_temp_files(self.plate_dir)
        self._roots = tuple(Path(r).expanduser().resolve() for r in allowed_roots)
        self._padding = padding(first_frame, last_frame)
        self._cache_frames = cache_frames
        self._lock = threading.Lock()  # guards _entries, _lru, _converters
        self._put_lock = threading.Lock()  # one put at a time: file, index and refs.json agree
        self._index = PlateIndex(self.plate_dir, width, height)
        self._entries: Dict[int, FrameEntry] = self._index.load()
        self._lru: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._converters: Dict[str, ColourConverter] = {}

    # ------------------------------------------------------------ FrameSource

    @property
    def num_frames(self) -> int:
        return self.last_frame - self.first_frame + 1

    @property
    def size(self) -> Tuple[int, int]:
        """(width, height) of the plate in pixels."""
        return self.width, self.height

    def rgb(self, index: int) -> torch.Tensor:
        """Frame `first_frame + index` as (3, H, W) float32 in [0, 1], sRGB-encoded, on the CPU.

        Raises:
            ProtocolError: FRAME_OUT_OF_RANGE, FRAME_MISSING (never stored), BAD_IMAGE or
                FRAME_SIZE_MISMATCH (a referenced file changed on disk), PATH_NOT_ALLOWED.
        """
        frame = self.first_frame + index
        self._check_frame(frame)
        with self._lock:
            entry = self._entries.get(frame)
            if entry is None:
                raise _missing(frame)
            cached = self._lru.get(frame)
            if cached is not None:
                self._lru.move_to_end(frame)
                return cached.clone()
        pixels = self._decode(frame, entry)
        with self._lock:
            # Cache only if nobody re-put the frame while it was being decoded.
            if self._cache_frames and self._entries.get(frame) is entry:
                self._lru[frame] = pixels
                while len(self._lru) > self._cache_frames:
                    self._lru.popitem(last=False)
                return pixels.clone()
        return pixels

    # ------------------------------------------------------------ putting frames

    def put_image(self, frame: int, data: bytes, descriptor: Mapping[str, Any]) -> None:
        """Store inline pixels for `frame`, replacing what was there.

        EXR, PNG, JPEG and TIFF bytes are stored verbatim; raw buffers as half-float EXR.
        The image is decoded once first, so a bad frame is refused now, not mid-track.

        Args:
            descriptor: the protocol's image descriptor: encoding, and for raw buffers dtype,
                shape, channels; colourspace (None: sRGB for integer images, else the shot's)
                and origin ("top_left" | "bottom_left").
        """
        self._check_frame(frame)
        decoded, payload, stored = self._prepare(frame, data, descriptor)
        self._check_size(frame, decoded.width, decoded.height)
        colourspace: Optional[str] = descriptor.get("colourspace")
        if colourspace is None and decoded.display_referred:
            colourspace = DISPLAY_DEFAULT  # a stored half EXR would no longer say "integer"
        self._converter(colourspace, decoded.display_referred)  # refuse unknown names now
        self._store(frame, replace(stored, colourspace=colourspace), payload)

    def put_path(
        self,
        frame: int,
        path: Union[Path, str],
        colourspace: Optional[str] = None,
        verify_pixels: bool = False,
    ) -> None:
        """Reference a file the backend reads itself (after checking it is allowed).

        The size is checked from the file's header; `verify_pixels` decodes it fully as well
        (slower: a 4K EXR takes a fraction of a second, and puts run on the server's I/O thread).

        Raises:
            ProtocolError: PATH_NOT_ALLOWED when the resolved path (symlinks followed) is not
                under an allowed root; BAD_IMAGE, FRAME_SIZE_MISMATCH, FRAME_OUT_OF_RANGE.
        """
        self._check_frame(frame)
        resolved = self._allowed(path)
        if verify_pixels:
            decoded = decode_image(resolved, None, self.max_pixels)
            self._check_size(frame, decoded.width, decoded.height)
        else:
            self._check_size(frame, *image_size(resolved))
        if colourspace is not None:
            self._converter(colourspace, False)
        self._store(frame, FrameEntry(path=str(resolved), colourspace=colourspace), None)

    # ------------------------------------------------------------ queries

    def has(self, frame: int) -> bool:
        with self._lock:
            return frame in self._entries and self._in_range(frame)

    def frames(self) -> List[int]:
        """Stored frame numbers inside the shot's range, ascending."""
        with self._lock:
            return sorted(f for f in self._entries if self._in_range(f))

    def missing(self, first: Optional[int] = None, last: Optional[int] = None) -> List[int]:
        """Frames of [first, last] (default: the shot's range, clamped to it) not stored yet."""
        low = self.first_frame if first is None else max(first, self.first_frame)
        high = self.last_frame if last is None else min(last, self.last_frame)
        with self._lock:
            return [f for f in range(low, high + 1) if f not in self._entries]

    def stored_ranges(self) -> List[List[int]]:
        """Stored frames as [[first, last], ...], as the protocol's shot state reports them."""
        return to_ranges(self.frames())

    @property
    def cached_bytes(self) -> int:
        """Bytes of decoded frames held in memory."""
        with self._lock:
            return sum(t.numel() * t.element_size() for t in self._lru.values())

    # ------------------------------------------------------------ internals

    def _prepare(
        self, frame: int, data: bytes, descriptor: Mapping[str, Any]
    ) -> Tuple[DecodedImage, bytes, FrameEntry]:
        """Decode inline pixels once; the bytes to store and their entry (colourspace unset)."""
        encoding = descriptor.get("encoding")
        origin = descriptor.get("origin") or "top_left"
        if encoding not in ENCODINGS or origin not in ORIGINS:
            raise ProtocolError(
                ErrorCode.INVALID_FIELD,
                f"frame {frame}: encoding must be one of {ENCODINGS} and origin one of "
                f"{ORIGINS}, not {encoding!r} and {origin!r}",
                details={"frame": frame},
            )
        if encoding == "raw":
            decoded = decode_raw(
                data, descriptor.get("dtype") or "", descriptor.get("shape") or (),
                descriptor.get("channels"), origin, self.max_pixels,
            )  # fmt: skip
            # Rows are in top-left order now, so the stored EXR needs no origin flag.
            entry = FrameEntry(file=plate_file(frame, self._padding, "exr"), encoding="exr")
            return decoded, _raw_as_exr(decoded), entry
        decoded = decode_image(data, encoding, self.max_pixels)
        ext = _EXTENSIONS[encoding]
        entry = FrameEntry(
            file=plate_file(frame, self._padding, ext), origin=origin, encoding=encoding
        )
        return decoded, data, entry

    def _store(self, frame: int, entry: FrameEntry, payload: Optional[bytes]) -> None:
        with self._put_lock:
            if payload is not None and entry.file is not None:
                atomic_write_bytes(self.plate_dir / entry.file, payload)
            with self._lock:
                old = self._entries.get(frame)
                self._entries[frame] = entry
                self._lru.pop(frame, None)
                snapshot = dict(self._entries)
            self._index.save(snapshot)
        if old is not None and old.file is not None and old.file != entry.file:
            (self.plate_dir / old.file).unlink(missing_ok=True)
        log.debug("stored frame %d: %s", frame, entry)

    def _decode(self, frame: int, entry: FrameEntry) -> torch.Tensor:
        if entry.path is not None:
            source = self._allowed(entry.path)  # again: a link may have been swapped since
        else:
            source = self.plate_dir / str(entry.file)
            if not source.is_file():
                raise _missing(frame, f"its stored file {source} is gone")
        decoded = decode_image(source, entry.encoding, self.max_pixels)
        self._check_size(frame, decoded.width, decoded.height)
        rgb = decoded.rgb[::-1] if entry.origin == "bottom_left" else decoded.rgb
        display = self._converter(entry.colourspace, decoded.display_referred)(rgb)
        return torch.from_numpy(np.ascontiguousarray(display.transpose(2, 0, 1)))

    def _converter(self, colourspace: Optional[str], display_referred: bool) -> ColourConverter:
        name = colourspace or (DISPLAY_DEFAULT if display_referred else self.colourspace)
        with self._lock:
            converter = self._converters.get(name)
        if converter is None:
            converter = ColourConverter(name, self.ocio_config)
            with self._lock:
                self._converters[name] = converter
        return converter

    def _allowed(self, path: Union[Path, str]) -> Path:
        given = Path(path)
        if not given.is_absolute():
            raise ProtocolError(
                ErrorCode.INVALID_FIELD,
                f"plate paths must be absolute, not {str(path)!r}",
                details={"path": str(path)},
            )
        resolved = given.resolve()
        if any(resolved.is_relative_to(root) for root in self._roots):
            return resolved
        roots = ", ".join(str(r) for r in self._roots) or "none configured"
        raise ProtocolError(
            ErrorCode.PATH_NOT_ALLOWED,
            f"{path} (resolved: {resolved}) is outside the allowed roots ({roots})",
            details={"path": str(path), "resolved": str(resolved)},
        )

    def _check_frame(self, frame: int) -> None:
        if not self._in_range(frame):
            raise ProtocolError(
                ErrorCode.FRAME_OUT_OF_RANGE,
                f"frame {frame} is outside the shot's range {self.first_frame}-{self.last_frame}",
                details={"frame": frame, "first": self.first_frame, "last": self.last_frame},
            )

    def _in_range(self, frame: int) -> bool:
        return self.first_frame <= frame <= self.last_frame

    def _check_size(self, frame: int, width: int, height: int) -> None:
        if (width, height) != (self.width, self.height):
            raise ProtocolError(
                ErrorCode.FRAME_SIZE_MISMATCH,
                f"frame {frame} is {width}x{height}, but the shot is {self.width}x{self.height}",
                details={"frame": frame, "size": f"{width}x{height}",
                         "shot_size": f"{self.width}x{self.height}"},
            )  # fmt: skip


def _raw_as_exr(decoded: DecodedImage) -> bytes:
    rgb = decoded.rgb
    planes = {"R": rgb[:, :, 0], "G": rgb[:, :, 1], "B": rgb[:, :, 2]}
    # PIZ: lossless, and for half-float plates both the fastest to write and the smallest of
    # OpenEXR's lossless methods (4K: about half ZIP's time, 60% of its size). Nuke never reads
    # these files, so any method this build supports will do.
    return encode_exr(planes, compression="piz", pixel_type="half")


def _missing(frame: int, why: str = "it was never sent") -> ProtocolError:
    return ProtocolError(
        ErrorCode.FRAME_MISSING,
        f"frame {frame} has no pixels: {why}",
        details={"frame": frame},
    )
