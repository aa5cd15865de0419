"""The same job for OpenCue: a pyoutline outline serialised to Cuebot's job spec (XML).

One `track-obj<id>` layer per object (one frame: one task, a GPU when Track runs on GPU
hosts), then a `matte` layer over the job's frames in chunks, depending on every Track layer.
The commands are the OpenJD bundle's (`farm_bundle.task_args`) with the values filled in and
OpenCue's `#FRAME_START#` token as the chunk's first frame.

`cueadmin`/`pycuerun` submit a spec like this to a Cuebot; without one (as in this project's
tests) the spec is as far as it can be checked. pyoutline keeps a session folder per outline;
it is put in the bundle (`opencue/`), not in the user's home.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Dict, Optional

import outline  # type: ignore[import-untyped]  # opencue-pyoutline ships no types
from outline import cuerun
from outline.modules.shell import Shell  # type: ignore[import-untyped]

from sam2matting.backend.render.farm_bundle import TASK_ENVIRONMENT, BundleSpec, task_args

OPENCUE_JOB = "opencue_job.xml"
SERVICE = "sam2matting"


def write_opencue_job(spec: BundleSpec, folder: Path, show: Optional[str] = None) -> Path:
    """Serialise the job for OpenCue into `<folder>/opencue_job.xml`; returns its path."""
    outline.config.set("outline", "session_dir", str(folder.resolve() / "opencue"))
    values = _values(spec, folder)
    first, last = spec.frames
    frames = f"{first}-{last}"
    job = outline.Outline(f"{spec.shot_id}-sam2matting", shot=spec.shot_id, frame_range=frames)
    for key, value in TASK_ENVIRONMENT.items():
        job.set_env(key, value, pre=True)
    matte = Shell(
        "matte",
        command=_command(spec, "matte", values),
        range=frames,
        chunk=spec.chunk_size,
        service=SERVICE,
        **_resources(spec, spec.matte_host, spec.matte_cpus),
    )
    for obj in spec.objects:
        command = _command(spec, "track", dict(values, Object=str(obj)))
        track = Shell(
            f"track-obj{obj}",
            command=command,
            range=str(first),
            chunk=1,
            service=SERVICE,
            **_resources(spec, spec.track_host, None),
        )
        job.add_layer(track)
        matte.depend_all(track)
    job.add_layer(matte)
    options = {"show": show} if show else {}
    launcher = cuerun.OutlineLauncher(job, range=frames, shot=spec.shot_id, pause=False, **options)
    path = folder / OPENCUE_JOB
    path.write_text(launcher.serialize(use_pycuerun=False), encoding="utf-8")
    return path


def _values(spec: BundleSpec, folder: Path) -> Dict[str, str]:
    return {
        "ShotFile": str((folder / spec.shot_file.name).resolve()),
        "Plate": str(spec.plate),
        "Frames": f"{spec.frames[0]}-{spec.frames[1]}",
        "PriorsDir": str(spec.priors),
        "Device": spec.device,
        "ModelsDir": spec.worker_models or "-",
        "Scratch": "",
        "Output": str(spec.mattes),
        "ChunkStart": "#FRAME_START#",
        "ChunkSize": str(spec.chunk_size),
    }


def _command(spec: BundleSpec, step: str, values: Dict[str, str]) -> str:
    """One shell line (Cuebot runs the layer's command through a shell), quoted."""
    return shlex.join([spec.worker_python, *task_args(step, values)])


def _resources(spec: BundleSpec, host: str, cpus: Optional[int]) -> Dict[str, object]:
    found: Dict[str, object] = {"cores": float(cpus)} if cpus else {}
    if host == "gpu":
        found["gpus"] = 1
        found["gpu_memory"] = f"{spec.gpu_memory_gib}g" if spec.gpu_memory_gib else "1g"
    return found
