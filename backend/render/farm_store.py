"""What a farm job's Track step keeps for its Matte step: one prior per object and frame.

Layout under the job's priors folder (shared by every task of the job):

    obj<id>/prior.<frame>.npz   the engine's tracker-side phase for that object and frame
    obj<id>/track.json          written last by the object's Track task: what it tracked

A prior file holds the tracker's mask at plate resolution (bit-packed: exact and small), the
engine's coarse alpha where it has one (float32: exact), and the key of the shot revision,
tracker, engine and tracking pass that made it; a prior with another key is stale and never
used. Every file is written atomically, so a killed task leaves whole files or none.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch

from sam2matting.backend.matting.base import MattePrior
from sam2matting.protocol.atomic import atomic_write_bytes
from sam2matting.protocol.frames import frame_token

log = logging.getLogger(__name__)

MANIFEST = "track.json"
MANIFEST_FORMAT = "sam2matting-farm-track/1"


class FarmError(Exception):
    """A farm task cannot go on: the message says what is wrong, the hint how to fix it."""

    def __init__(self, message: str, hint: str = "", bad_input: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.bad_input = bad_input  # the shot file or the job's options are wrong, not the run


@dataclass(frozen=True)
class TrackKey:
    """What a prior depends on besides its frame: the shot revision and the models."""

    digest: str  # the shot file's content digest (render/outputs.py)
    revision: int
    tracker: str
    engine: str

    def text(self) -> str:
        return f"{self.digest}:{self.revision}:{self.tracker}:{self.engine}"


@dataclass
class TrackManifest:
    """One object's finished Track task."""

    object_id: int
    key: TrackKey
    frames: List[List[int]]  # tracked frames as [[first, last], ...]
    skipped: Dict[int, str] = field(default_factory=dict)  # wanted frames not tracked -> why
    engine_params: Dict[str, Any] = field(default_factory=dict)  # the engine's checked options

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = MANIFEST_FORMAT
        data["skipped"] = {str(f): why for f, why in sorted(self.skipped.items())}
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrackManifest:
        data = json.loads(text)
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {MANIFEST_FORMAT}")
        return cls(
            object_id=int(data["object_id"]),
            key=TrackKey(**data["key"]),
            frames=[[int(a), int(b)] for a, b in data["frames"]],
            skipped={int(f): str(why) for f, why in data["skipped"].items()},
            engine_params=dict(data.get("engine_params", {})),
        )


class PriorStore:
    """Reads and writes one job's priors and Track manifests."""

    def __init__(self, folder: Path, padding: int) -> None:
        self.folder = folder
        self.padding = padding

    def object_dir(self, obj: int) -> Path:
        return self.folder / f"obj{obj}"

    def prior_path(self, obj: int, frame: int) -> Path:
        return self.object_dir(obj) / f"prior.{frame_token(frame, self.padding)}.npz"

    # ------------------------------------------------------------ priors

    def write_prior(
        self, obj: int, frame: int, prior: Optional[MattePrior], key: TrackKey, start: int
    ) -> Path:
        """Store one prior; None: the tracker lost the object on that frame (alpha 0)."""
        arrays: Dict[str, np.ndarray] = {
            "key": np.array(key.text()),
            "start": np.array(start, np.int64),
        }
        if prior is not None:
            mask = prior.mask.detach().float().cpu().numpy() > 0.5
            arrays["mask_shape"] = np.array(mask.shape, np.int64)
            arrays["mask_bits"] = np.packbits(mask.ravel())
            if prior.coarse is not None:
                arrays["coarse"] = prior.coarse.detach().float().cpu().numpy()
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub
        path = self.prior_path(obj, frame)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())
        return path

    def prior_start(self, obj: int, frame: int, key: TrackKey) -> Optional[int]:
        """The pass start of a stored prior with this key; None when absent, stale or damaged."""
        try:
            with np.load(self.prior_path(obj, frame)) as data:
                if str(data["key"]) != key.text():
                    return None
                return int(data["start"])
        except (OSError, ValueError, KeyError):  # missing, truncated by hand, not an npz
            return None

    def read_prior(self, obj: int, frame: int, key: TrackKey) -> Optional[MattePrior]:
        """The prior of one object on one frame (None: the tracker lost it there).

        Raises:
            FarmError: no prior, a damaged one, or one from another shot revision or models.
        """
        path = self.prior_path(obj, frame)
        try:
            with np.load(path) as data:
                if str(data["key"]) != key.text():
                    raise FarmError(
                        f"{path} was made from another revision of the shot or other models",
                        "Run the Track step of this job again.",
                    )
                if "mask_bits" not in data:
                    return None
                return _prior(data)
        except (OSError, ValueError, KeyError) as exc:
            raise FarmError(
                f"object {obj} has no usable prior for frame {frame} ({path}: {exc})",
                "Run the Track step of this job again (it re-tracks what is missing).",
            ) from exc

    # ------------------------------------------------------------ manifests

    def write_manifest(self, manifest: TrackManifest) -> None:
        path = self.object_dir(manifest.object_id) / MANIFEST
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, manifest.to_json().encode("utf-8"))

    def read_manifest(self, obj: int) -> TrackManifest:
        """The object's Track result.

        Raises:
            FarmError: the object's Track task has not finished (or its manifest is damaged).
        """
        path = self.object_dir(obj) / MANIFEST
        try:
            return TrackManifest.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise FarmError(
                f"object {obj} has not been tracked: {path} does not exist",
                "Run the job's Track step first (the Matte step depends on it).",
            ) from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FarmError(
                f"cannot read {path}: {exc}", "Run the job's Track step for that object again."
            ) from exc

    def clear_manifest(self, obj: int) -> None:
        """A Track task starting over: until it finishes, Matte must not trust old results."""
        (self.object_dir(obj) / MANIFEST).unlink(missing_ok=True)


def _prior(data: Mapping[str, np.ndarray]) -> MattePrior:
    height, width = (int(v) for v in data["mask_shape"])
    bits = np.unpackbits(data["mask_bits"], count=height * width)
    mask = bits.reshape(height, width).astype(np.float32)
    coarse = torch.from_numpy(data["coarse"].astype(np.float32)) if "coarse" in data else None
    return MattePrior(mask=torch.from_numpy(mask), coarse=coarse)
