"""A shot's plate on disk, read back on demand as the tracker's `FrameSource`.

Frames arrive either inline (bytes from the host, stored under `<shot>/plate/`) or as paths to
the studio's own files (recorded, never copied). Inline frames are stored as sent (raw buffers
too), never re-encoded. `plate/refs.json` indexes both; it is rewritten atomically once per put,
so a restarted backend finds its frames again. Decoded frames are kept in a small LRU so that
host memory stays flat however long the shot is; a propagation has the next few decoded ahead on
a background thread (prefetch.py).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from sam2matting.protocol.atomic import atomic_write_bytes, clean_stale_temp_files
from sam2matting.protocol.cache_layout import PLATE_DIR, plate_file
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import padding, to_ranges
from sam2matting.protocol.limits import MAX_FILE_BYTES

from ..imageio.colour import ColourConverter
from ..imageio.decode import (
    ENCODINGS,
    HEADER_PREFIX_BYTES,
    ORIGINS,
    DecodedImage,
    check_expected_size,
    decode_image,
    decode_raw,
    image_size,
)
from ..imageio.exr import DEFAULT_MAX_PIXELS
from ..imageio.reading import read_allowed, read_regular_file
from .plate_index import FrameEntry, PlateIndex
from .prefetch import Prefetcher
from .undo import FileChanges, roll_back_leftovers

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
        roll_back_leftovers(self.plate_dir)  # a put killed before its commit finished
        self._roots = tuple(Path(r).expanduser().resolve() for r in allowed_roots)
        self._padding = padding(first_frame, last_frame)
        self._cache_frames = cache_frames
        self._lock = threading.Lock()  # guards _entries, _lru, _converters
        self._put_lock = threading.Lock()  # one put at a time: file, index and refs.json agree
        self._index = PlateIndex(self.plate_dir, width, height)
        self._entries: Dict[int, FrameEntry] = self._index.load()
        self._lru: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._prefetch: Prefetcher[torch.Tensor] = Prefetcher()
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
        pixels = self._prefetch.take(frame, entry)  # raises the error decoding it ahead met
        if pixels is None:
            pixels = self._decode(frame, entry)
        with self._lock:
            # Cache only if nobody re-put the frame while it was being decoded.
            if self._cache_frames and self._entries.get(frame) is entry:
                self._lru[frame] = pixels
                while len(self._lru) > self._cache_frames:
                    self._lru.popitem(last=False)
                return pixels.clone()
        return pixels

    def prefetch(self, indices: Sequence[int]) -> None:
        """Decode these frames (0-based, in the order they will be needed) ahead, on a
        background thread (prefetch.py); frames not stored or already decoded are skipped."""
        wanted = []
        with self._lock:
            for index in indices:
                frame = self.first_frame + index
                entry = self._entries.get(frame)
                if entry is not None and self._in_range(frame) and frame not in self._lru:
                    wanted.append((frame, entry, partial(self._decode, frame, entry)))
        self._prefetch.ahead(wanted)

    def cancel_prefetch(self) -> None:
        """Stop decoding ahead and drop what was (a job ended, was cancelled or pre-empted)."""
        self._prefetch.cancel()

    # ------------------------------------------------------------ putting frames

    def put_image(self, frame: int, data: bytes, descriptor: Mapping[str, Any]) -> None:
        """Store inline pixels for `frame`, replacing what was there (`prepare_image`)."""
        self.store([self.prepare_image(frame, data, descriptor)])

    def put_path(
        self,
        frame: int,
        path: Union[Path, str],
        colourspace: Optional[str] = None,
        verify_pixels: bool = False,
    ) -> None:
        """Reference a file the backend reads itself (`prepare_path`)."""
        self.store([self.prepare_path(frame, path, colourspace, verify_pixels)])

    def prepare_image(
        self, frame: int, data: bytes, descriptor: Mapping[str, Any]
    ) -> Tuple[int, FrameEntry, Optional[bytes]]:
        """Check inline pixels for `frame`; what `store` then writes. Changes nothing.

        Every encoding is stored verbatim, raw buffers too (`.raw`, read back bit-exact): no
        re-encoding on the I/O thread. The image is decoded once first, so a bad frame is
        refused now, not mid-track.

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
        return frame, replace(stored, colourspace=colourspace), payload

    def prepare_path(
        self,
        frame: int,
        path: Union[Path, str],
        colourspace: Optional[str] = None,
        verify_pixels: bool = False,
    ) -> Tuple[int, FrameEntry, Optional[bytes]]:
        """Check a file the backend will read itself (allowed, its size); changes nothing.

        The size is checked from the file's header; `verify_pixels` decodes it fully as well
        (slower: a 4K EXR takes a fraction of a second).

        Raises:
            ProtocolError: PATH_NOT_ALLOWED when the resolved path (symlinks followed) is not
                under an allowed root; BAD_IMAGE, FRAME_SIZE_MISMATCH, FRAME_OUT_OF_RANGE.
        """
        self._check_frame(frame)
        # Resolving, checking and reading run on a helper thread with a timeout: the path may
        # be a FIFO, a device or on a mount that stopped answering (reading.py).
        try:
            if verify_pixels:
                resolved, data = read_allowed(path, self._roots)
                decode_image(data, None, self.max_pixels, expected=(self.width, self.height))
            else:
                resolved, head = read_allowed(path, self._roots, HEADER_PREFIX_BYTES, whole=False)
                self._check_size(frame, *image_size(head))
        except ProtocolError as exc:
            if exc.code not in (ErrorCode.BAD_IMAGE, ErrorCode.FRAME_SIZE_MISMATCH):
                raise
            raise _about_frame(exc, frame, Path(path)) from exc
        if colourspace is not None:
            self._converter(colourspace, False)
        return frame, FrameEntry(path=str(resolved), colourspace=colourspace), None

    def store(
        self,
        items: Sequence[Tuple[int, FrameEntry, Optional[bytes]]],
        then: Optional[Callable[[], None]] = None,
    ) -> None:
        """Store prepared frames: all of them, or (on any failure) none.

        Each new file is written atomically, a replaced one keeps an undo backup
        (undo.FileChanges), and one write of refs.json (itself backed up) commits them
        together. `then` runs last, inside the same change (the journal's stale marks for
        replaced frames): if it or anything before fails, every file and refs.json are put
        back. A process killed before the backups were dropped is rolled back when the store
        opens again (`roll_back_leftovers`).
        """
        with self._put_lock:
            with self._lock:
                entries = dict(self._entries)
            changes = FileChanges()
            try:
                for frame, entry, payload in items:
                    if payload is not None and entry.file is not None:
                        changes.touching(self.plate_dir / entry.file)
                        atomic_write_bytes(self.plate_dir / entry.file, payload)
                    entries[frame] = entry
                changes.touching(self._index.path)
                self._index.save(entries)
                if then is not None:
                    then()
            except BaseException:
                changes.rollback()
                raise
            changes.commit()
            with self._lock:
                old = {f: self._entries.get(f) for f, _, _ in items}
                self._entries = entries
                for frame in old:
                    self._lru.pop(frame, None)
                self._prefetch.discard(old)
        for frame, entry, _ in items:
            gone = old[frame]
            if gone is not None and gone.file is not None and gone.file != entries[frame].file:
                (self.plate_dir / gone.file).unlink(missing_ok=True)
            log.debug("stored frame %d: %s", frame, entry)

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

    def release_memory(self) -> None:
        """Drop the decoded frames held in memory (the shot closed or went idle)."""
        self._prefetch.cancel()
        with self._lock:
            self._lru.clear()

    @property
    def warnings(self) -> List[Dict[str, Any]]:
        """What opening the store repaired or set aside (open_shot_reply.warnings)."""
        return list(self._index.warnings)

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
            shape: Sequence[int] = descriptor.get("shape") or ()
            if len(shape) >= 2:  # before any conversion: the bytes were counted, not the size
                self._check_size(frame, int(shape[1]), int(shape[0]))
            decoded = decode_raw(
                data,
                descriptor.get("dtype") or "",
                shape,
                descriptor.get("channels"),
                origin,
                self.max_pixels,
            )
            # Stored as sent: re-encoding a 2K float frame as EXR took ~80% of the put, and
            # the float32 -> half step lost precision. The price is disk (12-16 bytes/pixel).
            entry = FrameEntry(
                file=plate_file(frame, self._padding, "raw"),
                origin=origin,
                encoding="raw",
                dtype=str(descriptor.get("dtype")),
                shape=tuple(int(n) for n in shape),
                channels=None
                if descriptor.get("channels") is None
                else tuple(descriptor["channels"]),
            )
            return decoded, data, entry
        decoded = decode_image(data, encoding, self.max_pixels, expected=(self.width, self.height))
        ext = _EXTENSIONS[encoding]
        entry = FrameEntry(
            file=plate_file(frame, self._padding, ext), origin=origin, encoding=encoding
        )
        return decoded, data, entry

    def _decode(self, frame: int, entry: FrameEntry) -> torch.Tensor:
        source: Union[Path, bytes]
        if entry.path is not None:
            # Checked again (a link may have been swapped since) and read with a timeout.
            resolved, source = read_allowed(entry.path, self._roots)
        else:
            resolved = source = self.plate_dir / str(entry.file)
            if not source.is_file():
                raise _missing(frame, f"its stored file {source} is gone")
        try:
            decoded = self._read_pixels(source, entry)
        except ProtocolError as exc:
            raise _about_frame(exc, frame, resolved) from exc
        rgb = decoded.rgb[::-1] if entry.origin == "bottom_left" else decoded.rgb
        display = self._converter(entry.colourspace, decoded.display_referred)(rgb)
        return torch.from_numpy(np.ascontiguousarray(display.transpose(2, 0, 1)))

    def _read_pixels(self, source: Union[Path, bytes], entry: FrameEntry) -> DecodedImage:
        if entry.encoding != "raw":
            return decode_image(
                source, entry.encoding, self.max_pixels, expected=(self.width, self.height)
            )
        data = source if isinstance(source, bytes) else read_regular_file(source, MAX_FILE_BYTES)
        # Rows as sent: the caller flips bottom_left frames like every other encoding.
        decoded = decode_raw(
            data, entry.dtype or "", entry.shape or (), entry.channels, "top_left", self.max_pixels
        )
        check_expected_size("stored frame", (decoded.width, decoded.height), self.size)
        return decoded

    def _converter(self, colourspace: Optional[str], display_referred: bool) -> ColourConverter:
        name = colourspace or (DISPLAY_DEFAULT if display_referred else self.colourspace)
        with self._lock:
            converter = self._converters.get(name)
        if converter is None:
            converter = ColourConverter(name, self.ocio_config)
            with self._lock:
                self._converters[name] = converter
        return converter

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
        check_expected_size(f"frame {frame}", (width, height), self.size, frame=frame)


def _about_frame(exc: ProtocolError, frame: int, path: Path) -> ProtocolError:
    """A decoding error of bytes read from `path`, naming the file and the frame."""
    message = exc.message
    if message.startswith("<") and ">: " in message:
        message = f"{path}: {message.split('>: ', 1)[1]}"
    details = dict(exc.details, frame=frame, image=str(path))
    return ProtocolError(exc.code, message, hint=exc.hint, details=details)


def _missing(frame: int, why: str = "it was never sent") -> ProtocolError:
    return ProtocolError(
        ErrorCode.FRAME_MISSING,
        f"frame {frame} has no pixels: {why}",
        details={"frame": frame},
    )
