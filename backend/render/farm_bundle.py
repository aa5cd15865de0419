"""An Open Job Description job bundle for one shot: a Track step and a Matte step.

    <bundle>/template.json          the job template (OpenJD 2023-09, no extensions)
    <bundle>/parameter_values.json  this shot's values (AWS Deadline Cloud's bundle format)
    <bundle>/openjd_parameters.json the same values as `openjd run -p file://...` reads them
    <bundle>/<shot file>            a copy of the shot file the job reads

Track has one task per object (sequential tracking, GPU host by default) and stores the priors;
Matte depends on it and has one task per chunk of frames (CPU hosts, in parallel).

The standard library and the (stdlib-only) protocol package only: `farm bundle` runs it, and
the Nuke plugin (which has no numpy or torch) runs `farm bundle` in a subprocess.
`farm_validate.py` checks the result with openjd-model.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sam2matting.protocol.atomic import atomic_write_json

SPEC = "jobtemplate-2023-09"
TEMPLATE = "template.json"
PARAMETER_VALUES = "parameter_values.json"
OPENJD_PARAMETERS = "openjd_parameters.json"  # the same values as `openjd run -p file://` reads
HOSTS = ("gpu", "cpu")
DEVICES = ("auto", "cpu", "cuda")
MODULE = "sam2matting.backend.cli.main"  # what the workers run: `python -m MODULE farm ...`
PLATE = "{{Param.PlateDir}}/{{Param.PlateName}}"
# Every task's environment: no network look-ups, logs as they happen, no library progress bars.
TASK_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}
FRAMES = "{{Param.FirstFrame}}-{{Param.LastFrame}}"


@dataclass(frozen=True)
class BundleSpec:
    """Everything a shot's farm job is made from (paths as the workers see them)."""

    shot_file: Path  # the shot file to copy into the bundle
    shot_id: str
    objects: Tuple[int, ...]
    plate: PurePath  # pattern: plate.####.exr
    frames: Tuple[int, int]
    mattes: PurePath  # output pattern: matte.####.exr
    priors: PurePath  # the job's shared folder for what Track keeps for Matte
    worker_python: str  # the backend environment's python on the workers
    worker_models: str  # the model folder on the workers ("": their own config's)
    chunk_size: int = 10
    track_host: str = "gpu"
    matte_host: str = "cpu"
    device: str = "auto"
    gpu_memory_gib: Optional[int] = None  # Track (and a GPU Matte) needs at least this much
    matte_cpus: Optional[int] = None  # vCPUs each Matte task asks for

    def check(self) -> None:
        """Raises ValueError with the option to fix."""
        if self.chunk_size < 1:
            raise ValueError(f"--chunk-size must be at least 1, not {self.chunk_size}")
        if self.track_host not in HOSTS or self.matte_host not in HOSTS:
            raise ValueError(f"hosts must be one of {', '.join(HOSTS)}")
        if self.device not in DEVICES:
            raise ValueError(f"--device must be one of {', '.join(DEVICES)}")
        if not self.objects:
            raise ValueError("the shot has no prompted object to track")


def write_bundle(spec: BundleSpec, folder: Path) -> Dict[str, Path]:
    """Write the bundle into `folder` (created; files there are replaced). Returns the paths."""
    spec.check()
    folder.mkdir(parents=True, exist_ok=True)
    shot_copy = folder / spec.shot_file.name
    if spec.shot_file.resolve() != shot_copy.resolve():
        shutil.copyfile(spec.shot_file, shot_copy)
    values = parameter_values(spec, shot_copy.resolve())
    files = {
        "template": folder / TEMPLATE,
        "parameter_values": folder / PARAMETER_VALUES,
        "openjd_parameters": folder / OPENJD_PARAMETERS,
        "shot_file": shot_copy,
    }
    _write_json(files["template"], job_template(spec, values))
    listed = [{"name": k, "value": str(v)} for k, v in values.items()]
    _write_json(files["parameter_values"], {"parameterValues": listed})
    _write_json(files["openjd_parameters"], {k: str(v) for k, v in values.items()})
    return files


def parameter_values(spec: BundleSpec, shot_file: Path) -> Dict[str, Any]:
    """Job parameter name -> this shot's value (the template's defaults are the same)."""
    return {
        "ShotFile": str(shot_file),
        "PlateDir": str(spec.plate.parent),
        "PlateName": spec.plate.name,
        "OutputDir": str(spec.mattes.parent),
        "OutputName": spec.mattes.name,
        "PriorsDir": str(spec.priors),
        "FirstFrame": spec.frames[0],
        "LastFrame": spec.frames[1],
        "ChunkSize": spec.chunk_size,
        "Objects": ",".join(str(o) for o in spec.objects),
        "BackendPython": spec.worker_python,
        "ModelsDir": spec.worker_models or "-",
        "Device": spec.device,
    }


def job_template(spec: BundleSpec, values: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "specificationVersion": SPEC,
        "name": f"SAM2Matting {spec.shot_id} {spec.frames[0]}-{spec.frames[1]}",
        "description": "Track each object (sequential, GPU), then write the float EXR mattes "
        "in parallel chunks. Made by 'sam2matting farm bundle' (docs/FARM.md).",
        "parameterDefinitions": _parameter_definitions(values),
        "jobEnvironments": [_environment()],
        "steps": [_track_step(spec), _matte_step(spec)],
    }


def _parameter_definitions(values: Dict[str, Any]) -> List[Dict[str, Any]]:
    paths = {
        "ShotFile": ("FILE", "IN", "Shot file exported by the SAM2Matte node"),
        "PlateDir": ("DIRECTORY", "IN", "Folder of the plate sequence"),
        "OutputDir": ("DIRECTORY", "OUT", "Folder the mattes are written to"),
        "PriorsDir": ("DIRECTORY", "INOUT", "What Track keeps for Matte (shared by the job)"),
    }
    strings = {
        "PlateName": "Plate file name with the frame number as #### or %04d",
        "OutputName": "Matte file name with the frame number as #### or %04d",
        "Objects": "Object ids to track, comma-separated (one Track task each)",
        "BackendPython": "Python of the SAM2Matting backend environment on the workers",
        "ModelsDir": "Model folder on the workers ('-': their own config's)",
    }
    ints = {
        "FirstFrame": "First frame to write",
        "LastFrame": "Last frame to write",
        "ChunkSize": "Frames per Matte task",
    }
    out: List[Dict[str, Any]] = []
    for name, (kind, flow, text) in paths.items():
        # no defaults: OpenJD takes them relative to the template's folder, never above it
        out.append(
            {
                "name": name,
                "type": "PATH",
                "objectType": kind,
                "dataFlow": flow,
                "description": text,
            }
        )
    for name, text in strings.items():
        out.append(
            {
                "name": name,
                "type": "STRING",
                "minLength": 1,
                "description": text,
                "default": values[name],
            }
        )
    for name, text in ints.items():
        out.append({"name": name, "type": "INT", "description": text, "default": values[name]})
    out[-1]["minValue"] = 1  # ChunkSize
    out.append(
        {
            "name": "Device",
            "type": "STRING",
            "allowedValues": list(DEVICES),
            "default": values["Device"],
            "description": "Device the tasks run on",
        }
    )
    return out


def _environment() -> Dict[str, Any]:
    return {
        "name": "SAM2MattingBackend",
        "description": "Offline, unbuffered logs, no progress bars of libraries",
        "variables": dict(TASK_ENVIRONMENT),
    }


def task_args(step: str, values: Mapping[str, str]) -> List[str]:
    """The arguments after the backend's python for one step's task (OpenJD and OpenCue).

    `values`: ShotFile, Plate, Frames, PriorsDir, Device, ModelsDir, Scratch, and Object
    (track) or Output, ChunkStart, ChunkSize (matte): format strings or plain values.
    """
    args = [
        "-m",
        MODULE,
        "farm",
        step,
        "--shot",
        values["ShotFile"],
        "--plate",
        values["Plate"],
        "--frames",
        values["Frames"],
        "--priors",
        values["PriorsDir"],
        "--device",
        values["Device"],
        "--models-dir",
        values["ModelsDir"],
    ]
    if values.get("Scratch"):
        args += ["--scratch", values["Scratch"]]
    if step == "track":
        return [*args, "--object", values["Object"]]
    return [
        *args,
        "-o",
        values["Output"],
        "--chunk-start",
        values["ChunkStart"],
        "--chunk-size",
        values["ChunkSize"],
    ]


# What an OpenJD task's arguments name: the job's parameters and the task's own.
OPENJD_VALUES = {
    "ShotFile": "{{Param.ShotFile}}",
    "Plate": PLATE,
    "Frames": FRAMES,
    "PriorsDir": "{{Param.PriorsDir}}",
    "Device": "{{Param.Device}}",
    "ModelsDir": "{{Param.ModelsDir}}",
    "Scratch": "{{Session.WorkingDirectory}}",
    "Object": "{{Task.Param.Object}}",
    "Output": "{{Param.OutputDir}}/{{Param.OutputName}}",
    "ChunkStart": "{{Task.Param.ChunkStart}}",
    "ChunkSize": "{{Param.ChunkSize}}",
}


def _track_step(spec: BundleSpec) -> Dict[str, Any]:
    step: Dict[str, Any] = {
        "name": "Track",
        "description": "One object per task: SAM2 (or flow) tracking through the frames, "
        "keeping the mask and the engine's tracker-side alpha per frame",
        "parameterSpace": {
            "taskParameterDefinitions": [
                {"name": "Object", "type": "INT", "range": "{{Param.Objects}}"},
            ]
        },
        "script": {
            "actions": {
                "onRun": {
                    "command": "{{Param.BackendPython}}",
                    "args": task_args("track", OPENJD_VALUES),
                }
            }
        },
    }
    _host_requirements(step, spec.track_host, spec.gpu_memory_gib, None)
    return step


def _matte_step(spec: BundleSpec) -> Dict[str, Any]:
    step: Dict[str, Any] = {
        "name": "Matte",
        "description": "One chunk of frames per task, in parallel: the native-resolution "
        "stage and the float EXR with every object's layer",
        "dependencies": [{"dependsOn": "Track"}],
        "parameterSpace": {
            "taskParameterDefinitions": [
                {"name": "ChunkStart", "type": "INT", "range": f"{FRAMES}:{{{{Param.ChunkSize}}}}"},
            ]
        },
        "script": {
            "actions": {
                "onRun": {
                    "command": "{{Param.BackendPython}}",
                    "args": task_args("matte", OPENJD_VALUES),
                }
            }
        },
    }
    _host_requirements(step, spec.matte_host, spec.gpu_memory_gib, spec.matte_cpus)
    return step


def _host_requirements(
    step: Dict[str, Any], host: str, gpu_memory_gib: Optional[int], cpus: Optional[int]
) -> None:
    """Deadline Cloud's standard worker capabilities (amount.worker.*)."""
    amounts: List[Dict[str, Any]] = []
    if host == "gpu":
        amounts.append({"name": "amount.worker.gpu", "min": 1})
        if gpu_memory_gib:
            amounts.append({"name": "amount.worker.gpu.memory", "min": gpu_memory_gib * 1024})
    if cpus:
        amounts.append({"name": "amount.worker.vcpu", "min": cpus})
    if amounts:
        step["hostRequirements"] = {"amounts": amounts}


def _write_json(path: Path, data: Any) -> None:
    """Atomically: a bundle being re-exported is never half-written."""
    atomic_write_json(path, data)


def worker_python(env: str, windows: bool = False) -> str:
    """The python of a virtual environment folder as the workers see it."""
    if windows:
        return env.rstrip("\\/") + "\\Scripts\\python.exe"
    return env.rstrip("/") + "/bin/python"
