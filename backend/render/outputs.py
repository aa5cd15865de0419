"""The render's output sequence: what counts as finished (for resume) and how a frame is written.

A frame is **finished** when its output file exists, its header is readable, and its metadata
says it was rendered from this shot (id and content digest), at this shot-file revision, for
exactly these objects. Outputs are written atomically (temp file and rename), so a killed render
never leaves a partial file that could pass for a finished one.

Files are made by the backend's own matte writer (`shots.matte_cache.MatteCache`: `A` plus
`obj<id>.A` channels, the data window around non-zero alpha, `sam2matting/...` metadata) in a
staging folder, then copied atomically to the name the output pattern gives.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from sam2matting.backend.imageio.exr import read_exr, read_exr_metadata
from sam2matting.backend.shots.matte_cache import MatteCache
from sam2matting.protocol.atomic import atomic_write_bytes, clean_stale_temp_files
from sam2matting.protocol.cache_layout import META_PREFIX, object_channel
from sam2matting.protocol.errors import ProtocolError
from sam2matting.protocol.frames import SequencePattern

log = logging.getLogger(__name__)

# Metadata keys (after the `sam2matting/` prefix) that identify where a render output came from.
REVISION_KEY = "revision"
DIGEST_KEY = "shot_digest"
OBJECTS_KEY = "objects"  # written by MatteCache: {"<id>": "<name>", ...}
SHOT_KEY = "shot"


def shot_digest(shot_file_data: Mapping[str, Any]) -> str:
    """sha256 of the shot file's content as canonical JSON (formatting does not matter)."""
    text = json.dumps(shot_file_data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RenderIdentity:
    """What a finished output must have come from."""

    shot_id: str
    revision: int
    digest: str
    objects: Tuple[int, ...]  # sorted object ids

    def metadata(self) -> Dict[str, str]:
        return {REVISION_KEY: str(self.revision), DIGEST_KEY: self.digest}

    def made(self, metadata: Mapping[str, str]) -> bool:
        """Whether an output's `sam2matting/...` metadata names this shot, revision and objects."""
        try:
            objects = tuple(sorted(int(k) for k in json.loads(metadata[META_PREFIX + OBJECTS_KEY])))
        except (KeyError, ValueError, TypeError, AttributeError):
            return False
        return (
            metadata.get(META_PREFIX + SHOT_KEY) == self.shot_id
            and metadata.get(META_PREFIX + REVISION_KEY) == str(self.revision)
            and metadata.get(META_PREFIX + DIGEST_KEY) == self.digest
            and objects == self.objects
        )


class OutputSequence:
    """Writes output frames and tells which are finished."""

    def __init__(
        self,
        pattern: SequencePattern,
        identity: RenderIdentity,
        shot_range: Tuple[int, int],
        staging: Path,
        compression: str = "zip",
    ) -> None:
        self.pattern = pattern
        self.identity = identity
        self._staging = MatteCache(
            staging, identity.shot_id, shot_range[0], shot_range[1], compression=compression
        )
        pattern.folder.mkdir(parents=True, exist_ok=True)
        clean_stale_temp_files(pattern.folder)  # temp files of a render killed mid-write

    def finished(self, frame: int) -> bool:
        path = self.pattern.path(frame)
        if not path.is_file():
            return False
        try:
            metadata = read_exr_metadata(path)
        except ProtocolError as exc:
            log.warning("output %s is unreadable, rendering it again: %s", path, exc)
            return False
        return self.identity.made(metadata)

    def write(
        self,
        frame: int,
        alphas: Mapping[int, np.ndarray],
        names: Mapping[int, str],
        extra: Optional[Mapping[str, str]] = None,
    ) -> Path:
        """Write one frame's output: `A` and `obj<id>.A` for each object, with metadata."""
        metadata = dict(extra or {}, **self.identity.metadata())
        staged = self._staging.write(frame, alphas, names, metadata)
        target = self.pattern.path(frame)
        atomic_write_bytes(target, staged.read_bytes())
        staged.unlink()
        return target


def object_alphas(
    source: Union[Path, bytes], objects: Sequence[int], size: Tuple[int, int]
) -> Dict[int, np.ndarray]:
    """Each object's alpha from a backend matte EXR (a path or its bytes).

    An object the file lacks (the tracker did not find it on that frame) is all zero.
    """
    channels = read_exr(source, only={object_channel(o) for o in objects}).channels
    width, height = size
    return {
        o: channels.get(object_channel(o), np.zeros((height, width), np.float32)) for o in objects
    }
