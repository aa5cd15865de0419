"""Doctor checks for the backend side: environment, torch and GPU, settings, model files, backend.

The environment is inspected by running its own Python (a crash in a broken torch cannot take
doctor down, and `python3 installer/install.py doctor` works without torch itself).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sam2matting.protocol import paths

from . import gpu
from .platforms import Platform
from .project import SOURCE_ROOT, install_command
from .state import InstallState

OK, MISSING, WRONG, NOTE = "OK", "MISSING", "WRONG", "NOTE"

# Runs in the backend environment's Python: imports what the backend imports and says how it went.
DEEP_PROBE = r"""
import json, sys
out = {"python": sys.version.split()[0], "executable": sys.executable}
def version(name):
    try:
        from importlib import metadata
        return metadata.version(name)
    except Exception:
        return None
def attempt(key, fn):
    try:
        fn()
    except BaseException as exc:
        out[key + "_error"] = "%s: %s" % (type(exc).__name__, exc)
def torch_info():
    import torch
    out["torch"] = torch.__version__
    out["torch_cuda"] = torch.version.cuda
    out["cuda_available"] = bool(torch.cuda.is_available())
    if out["cuda_available"]:
        out["gpu"] = torch.cuda.get_device_name(0)
def sam2_info():
    import sam2.build_sam
    out["sam2"] = version("sam2") or "unknown"
def project_info():
    import sam2matting.backend, sam2matting.protocol
    out["sam2matting"] = version("sam2matting") or "unknown"
    out["sam2matting_dir"] = sam2matting.backend.__file__
def zmq_info():
    import zmq
    out["pyzmq"] = zmq.__version__
attempt("torch", torch_info)
attempt("sam2", sam2_info)
attempt("sam2matting", project_info)
attempt("pyzmq", zmq_info)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    status: str  # OK | MISSING | WRONG | NOTE
    detail: str
    fix: Optional[str] = None
    required: bool = True  # a failing required check makes doctor exit non-zero

    def to_json(self) -> Dict[str, Any]:
        return {
            "area": self.area,
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "required": self.required,
        }


@dataclass(frozen=True)
class DoctorContext:
    platform: Platform
    state: InstallState
    home: Path
    python: Optional[Path]  # the backend environment's interpreter, if one was found
    nuke_roots: Tuple[str, ...] = ()
    import_test: bool = True
    source_root: Path = SOURCE_ROOT
    nvidia: Optional[gpu.GpuInfo] = None
    environ: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        python: Optional[Path] = None,
        nuke_roots: Tuple[str, ...] = (),
        import_test: bool = True,
    ) -> DoctorContext:
        platform = Platform.current()
        home = paths.home_dir()
        state = InstallState.load(home)
        return cls(
            platform,
            state,
            home,
            python or _find_env_python(platform, state, home),
            nuke_roots,
            import_test,
            SOURCE_ROOT,
            gpu.detect_nvidia(),
            platform.environ,
        )


def _find_env_python(platform: Platform, state: InstallState, home: Path) -> Optional[Path]:
    """Recorded env, else the venv doctor runs in (`sam2matting doctor`), else the default."""
    candidates = [state.env_python]
    if sys.prefix != sys.base_prefix:
        candidates.append(sys.executable)
    candidates.append(str(platform.venv_python(platform.path(str(home / "venv")))))
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def deep_probe(python: Path) -> Dict[str, Any]:
    try:
        proc = subprocess.run(
            [str(python), "-c", DEEP_PROBE],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    try:
        result: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {
            "error": (proc.stderr or proc.stdout).strip()[-400:] or f"exit code {proc.returncode}"
        }
    return result


# ---------------------------------------------------------------- environment


def environment(ctx: DoctorContext) -> List[Check]:
    area = "backend environment"
    checks = [_gpu_check(ctx, area)]
    if ctx.python is None:
        where = ctx.home / "venv"
        return [
            *checks,
            Check(
                area, "environment", MISSING, f"no backend environment ({where})", install_command()
            ),
        ]
    probe = deep_probe(ctx.python)
    if "error" in probe:
        return [
            *checks,
            Check(
                area,
                "environment",
                WRONG,
                f"{ctx.python} does not run: {probe['error']}",
                install_command(),
            ),
        ]
    checks.append(Check(area, "python", OK, f"Python {probe['python']} at {ctx.python}"))
    checks.append(_torch_check(ctx, probe, area))
    checks.append(_package_check(probe, "sam2", "sam2", area))
    checks.append(_project_check(ctx, probe, area))
    return checks


def _gpu_check(ctx: DoctorContext, area: str) -> Check:
    if ctx.nvidia is None:
        return Check(
            area,
            "GPU",
            NOTE,
            "no NVIDIA GPU or driver found (nvidia-smi): the backend runs on the CPU, slowly",
            required=False,
        )
    return Check(area, "GPU", OK, ctx.nvidia.describe())


def _torch_check(ctx: DoctorContext, probe: Mapping[str, Any], area: str) -> Check:
    if "torch" not in probe:
        return Check(
            area,
            "torch",
            MISSING,
            f"torch does not import: {probe.get('torch_error')}",
            install_command(),
        )
    version = probe["torch"]
    if probe.get("cuda_available"):
        return Check(
            area,
            "torch",
            OK,
            f"torch {version} with CUDA {probe.get('torch_cuda')} on {probe.get('gpu')}",
        )
    if ctx.nvidia is not None:
        why = (
            "a CPU build"
            if not probe.get("torch_cuda")
            else f"built for CUDA {probe['torch_cuda']}, which this driver cannot run"
        )
        return Check(
            area,
            "torch",
            WRONG,
            f"torch {version} is {why}, but this machine has {ctx.nvidia.describe()}",
            install_command("--reinstall-torch"),
        )
    build = f"a CUDA {probe['torch_cuda']} build" if probe.get("torch_cuda") else "a CPU build"
    return Check(area, "torch", OK, f"torch {version} ({build}; no GPU here: runs on the CPU)")


def _package_check(probe: Mapping[str, Any], key: str, label: str, area: str) -> Check:
    if key in probe:
        return Check(area, label, OK, f"{label} {probe[key]} imports")
    return Check(
        area,
        label,
        MISSING,
        f"{label} does not import: {probe.get(key + '_error')}",
        install_command(),
    )


def _project_check(ctx: DoctorContext, probe: Mapping[str, Any], area: str) -> Check:
    check = _package_check(probe, "sam2matting", "sam2matting", area)
    if check.status != OK:
        return check
    where = Path(str(probe.get("sam2matting_dir", ""))).parent.parent
    if (ctx.source_root / "pyproject.toml").is_file() and where != ctx.source_root:
        return Check(
            area,
            "sam2matting",
            NOTE,
            f"{probe['sam2matting']} from {where}, not from this checkout ({ctx.source_root})",
            install_command(),
            required=False,
        )
    return Check(area, "sam2matting", OK, f"sam2matting {probe['sam2matting']} from {where}")
