"""The farm's Matte step: a chunk of frames finished at native resolution from the stored priors.

Each frame's output is the file `render` writes for the same shot: every object's layer, the
same writer (`render/outputs.py`), the same metadata, so either command sees the other's frames
as finished. Chunks run in parallel on as many workers as the farm gives; a chunk re-run after a
crash skips the frames it finished (outputs are written atomically) and writes the same files.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import numpy as np

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.device import resolve_device
from sam2matting.backend.matting import phases
from sam2matting.backend.matting.base import MattePrior, MattingEngine
from sam2matting.backend.render.farm_job import FarmJob, TaskLog
from sam2matting.backend.render.farm_store import FarmError, TrackKey, TrackManifest
from sam2matting.backend.render.farm_track import plate_errors
from sam2matting.backend.render.outputs import OutputSequence
from sam2matting.backend.server.models import ModelPool
from sam2matting.backend.server.shot import plate_store
from sam2matting.backend.shots.frame_store import FrameStore
from sam2matting.protocol.frames import SequencePattern, from_ranges

log = logging.getLogger(__name__)


@dataclass
class MatteResult:
    tracker: str = "?"
    engine: str = "?"
    written: List[int] = field(default_factory=list)
    finished: List[int] = field(default_factory=list)  # outputs an earlier run wrote
    skipped: Dict[int, str] = field(default_factory=dict)  # frames that cannot be produced


def run_matte(
    job: FarmJob,
    chunk: Tuple[int, int],
    output: SequencePattern,
    config: BackendConfig,
    scratch: Path,
    task_log: Optional[TaskLog] = None,
) -> MatteResult:
    """Write the chunk's outputs that are not finished.

    Raises:
        FarmError: an object's Track has not finished or is from another shot revision or
            other models, a prior is missing, a plate frame cannot be read.
        ProtocolError: the engine cannot run here (missing models), or a bug.
    """
    key, manifests = _tracked(job)
    s = job.shot.settings
    outputs = OutputSequence(
        output, job.shot.identity, (s.first_frame, s.last_frame), scratch / "staging"
    )
    result = MatteResult(key.tracker, key.engine)
    todo = _todo(job, chunk, outputs, manifests, result)
    if task_log is not None:
        task_log.start(todo)
    if not todo:
        return result
    models = ModelPool(config, resolve_device(config.device))
    engine = models.engine(key.engine, next(iter(manifests.values())).engine_params)
    store = plate_store(s, scratch / "plate", config)
    extra = {"tracker": key.tracker, "engine": key.engine}
    with plate_errors(job):
        for frame in todo:
            started = time.monotonic()
            alphas = _matte_frame(job, frame, key, engine, store, models)
            outputs.write(frame, alphas, job.shot.names, extra)
            result.written.append(frame)
            if task_log is not None:
                task_log.frame(frame, time.monotonic() - started)
    return result


def _tracked(job: FarmJob) -> Tuple[TrackKey, Dict[int, TrackManifest]]:
    """Every object's Track manifest, checked to be of this shot revision and one set of models."""
    manifests = {obj: job.priors.read_manifest(obj) for obj in job.shot.objects}
    identity = job.shot.identity
    keys = {m.key for m in manifests.values()}
    options = {json.dumps(m.engine_params, sort_keys=True) for m in manifests.values()}
    for obj, manifest in manifests.items():
        if (manifest.key.digest, manifest.key.revision) != (identity.digest, identity.revision):
            raise FarmError(
                f"object {obj} was tracked from another revision of the shot file "
                f"(revision {manifest.key.revision}, this job's is {identity.revision})",
                "Run the Track step of this job again.",
            )
    if len(keys) > 1 or len(options) > 1:
        used = ", ".join(
            f"object {o}: {m.key.tracker} + {m.key.engine} {m.engine_params}"
            for o, m in sorted(manifests.items())
        )
        raise FarmError(
            f"the objects were tracked with different models ({used})",
            "Give every Track worker the same models (the job's models folder), then run the "
            "Track step again.",
        )
    return keys.pop(), manifests


def _todo(
    job: FarmJob,
    chunk: Tuple[int, int],
    outputs: OutputSequence,
    manifests: Dict[int, TrackManifest],
    result: MatteResult,
) -> List[int]:
    """The chunk's frames still to write; finished and unproducible ones go to `result`."""
    tracked: Set[int] = set.intersection(*(set(from_ranges(m.frames)) for m in manifests.values()))
    todo = []
    for frame in range(chunk[0], chunk[1] + 1):
        if outputs.finished(frame):
            result.finished.append(frame)
        elif frame in tracked:
            todo.append(frame)
        else:
            why = next(
                (m.skipped[frame] for m in manifests.values() if frame in m.skipped),
                "no Track task tracked it (the job's frames changed?)",
            )
            result.skipped[frame] = why
    return todo


def _matte_frame(
    job: FarmJob,
    frame: int,
    key: TrackKey,
    engine: MattingEngine,
    store: FrameStore,
    models: ModelPool,
) -> Dict[int, np.ndarray]:
    """Every object's alpha on one frame (zero where the tracker lost the object)."""
    priors: Dict[int, MattePrior] = {}
    lost: List[int] = []
    for obj in job.shot.objects:
        prior = job.priors.read_prior(obj, frame, key)
        if prior is None:
            lost.append(obj)
        else:
            priors[obj] = prior
    s = job.shot.settings
    alphas: Dict[int, np.ndarray] = {}
    if priors:
        store.put_path(frame, job.plate.path(frame), None)
        rgb = store.rgb(frame - s.first_frame).to(models.device)
        alphas = phases.native_phase(engine, rgb, priors)
    for obj in lost:
        alphas[obj] = np.zeros((s.height, s.width), np.float32)
    return alphas
