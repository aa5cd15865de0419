"""The backend environment: a venv with torch (matched to the GPU), sam2 and this project.

Each package step runs only when the environment does not already satisfy it (a probe reads the
installed versions without importing torch), so a second run is quick and changes nothing.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from . import gpu
from .report import Reporter
from .runner import Command, CommandError, Runner

log = logging.getLogger(__name__)

# The default torch pin: what CI and the documented command install. On the project's build
# machines it resolves to a local copy; a bare "torch" could pull several GB from the internet.
DEFAULT_TORCH_SPEC = "torch==2.14.1 torchvision==0.29.1"
TORCH_SPEC_ENV = "SAM2MATTING_TORCH_SPEC"
TORCH_INDEX_ENV = "SAM2MATTING_TORCH_INDEX"
SAM2_SPEC = "sam2==1.1.0"
# sam2's build and the editable install of this project run without build isolation; PEP 660
# editable installs need setuptools 64.
BUILD_REQUIREMENTS = ("setuptools>=64", "wheel")
MIN_ENV_PYTHON = (3, 10)  # what sam2 1.1.0 and torch 2.14 require

# Runs inside the target interpreter (any Python 3): reports versions without importing them.
PROBE_SCRIPT = r"""
import json, sys
out = {"python": list(sys.version_info[:3]), "executable": sys.executable,
       "versions": {}, "direct_url": None, "requires": []}
try:
    from importlib import metadata
except ImportError:
    metadata = None
if metadata is not None:
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        out["versions"][name] = dist.version
    try:
        dist = metadata.distribution("sam2matting")
        out["direct_url"] = dist.read_text("direct_url.json")
        out["requires"] = dist.requires or []
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def normalize(name: str) -> str:
    """PEP 503 project name normalisation (Torch_Vision -> torch-vision)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class EnvProbe:
    """What one interpreter has installed."""

    python: Tuple[int, ...] = ()
    executable: str = ""
    versions: Mapping[str, str] = field(default_factory=dict)  # normalised name -> version
    editable_url: Optional[str] = None  # file:// URL of an editable sam2matting install
    requires: Sequence[str] = ()  # sam2matting's requirement strings, with extra markers

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EnvProbe:
        editable = None
        if data.get("direct_url"):
            direct = json.loads(data["direct_url"])
            if direct.get("dir_info", {}).get("editable"):
                editable = str(direct.get("url", ""))
        return cls(
            python=tuple(int(v) for v in data.get("python", ())),
            executable=str(data.get("executable", "")),
            versions={normalize(k): str(v) for k, v in data.get("versions", {}).items()},
            editable_url=editable,
            requires=tuple(str(r) for r in data.get("requires", ())),
        )

    def version(self, name: str) -> Optional[str]:
        return self.versions.get(normalize(name))

    def missing_extra_requirements(self, extras: Sequence[str]) -> List[str]:
        """Names required by the given extras of sam2matting that are not installed."""
        missing = []
        for req in self.requires:
            marker = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", req)
            if marker is None or marker.group(1) not in extras:
                continue
            name = re.match(r"[A-Za-z0-9._-]+", req)
            if name and self.version(name.group(0)) is None:
                missing.append(name.group(0))
        return missing


@dataclass(frozen=True)
class EnvRequest:
    """What the environment should contain."""

    source_root: Path
    project_version: str
    torch_spec: str = DEFAULT_TORCH_SPEC
    torch_index: Optional[str] = None  # a pip index URL for torch, None for pip's configured one
    reinstall_torch: bool = False
    extras: Tuple[str, ...] = ("backend",)
    offline: Optional[Path] = None  # wheels folder: pip --no-index --find-links
    fresh: bool = False  # the venv was just created: upgrade pip first (online only)


def resolve_torch_index(
    choice: str, nvidia: Optional[gpu.GpuInfo], system: str
) -> Tuple[Optional[str], str]:
    """The pip index for torch and why, from --torch-index (auto|pypi|cpu|cuXYZ|URL)."""
    choice = (choice or "auto").strip()
    if choice in ("pypi", "default"):
        return None, "pip's configured index (requested)"
    if choice == "cpu" or re.fullmatch(r"cu\d{3}", choice):
        return gpu.PYTORCH_INDEX + choice, f"the PyTorch {choice} build (requested)"
    if choice.startswith(("http://", "https://", "file:")):
        return choice, f"{choice} (requested)"
    if choice != "auto":
        raise ValueError(f"--torch-index: {choice!r} is not auto, pypi, cpu, cuXYZ or a URL")
    if nvidia is None or system == "darwin":
        return (
            None,
            "no NVIDIA GPU found: pip's configured index",
        )
    build = gpu.torch_cuda_build(nvidia.cuda)
    if build is None:
        return (
            None,
            f"the NVIDIA driver {nvidia.driver} is older than any torch CUDA build: CPU only",
        )
    return gpu.PYTORCH_INDEX + build, f"{nvidia.describe()}: the PyTorch {build} build"


def probe(python: Path, runner: Runner) -> EnvProbe:
    """Installed versions in `python`'s environment (fast: nothing heavy is imported)."""
    proc = runner.capture([str(python), "-c", PROBE_SCRIPT], timeout_s=60)
    if proc.returncode != 0:
        raise RuntimeError(f"{python} does not run: {proc.stderr.strip()[-500:]}")
    return EnvProbe.from_json(json.loads(proc.stdout.strip().splitlines()[-1]))


def _pin(requirement: str) -> Optional[Tuple[str, str]]:
    match = re.fullmatch(r"([A-Za-z0-9._-]+)\s*==\s*([A-Za-z0-9.+!_-]+)", requirement.strip())
    return (match.group(1), match.group(2)) if match else None


def satisfied(requirement: str, env: EnvProbe) -> Optional[bool]:
    """True/False for `name` and `name==X` requirements; None when pip has to decide."""
    pin = _pin(requirement)
    if pin is not None:
        installed = env.version(pin[0])
        # A local build label (2.14.1+cu124) satisfies ==2.14.1, as pip's rules say.
        return installed is not None and installed.split("+")[0] == pin[1].split("+")[0]
    if re.fullmatch(r"[A-Za-z0-9._-]+", requirement.strip()):
        return env.version(requirement) is not None
    return None


def _setuptools_ok(env: EnvProbe) -> bool:
    version = env.version("setuptools") or "0"
    major = re.match(r"\d+", version)
    return (
        bool(major)
        and int(major.group(0) if major else 0) >= 64
        and env.version("wheel") is not None
    )


def _project_ok(env: EnvProbe, request: EnvRequest) -> bool:
    return (
        env.editable_url == request.source_root.as_uri()
        and env.version("sam2matting") == request.project_version
        and not env.missing_extra_requirements(request.extras)
    )


def plan(env: EnvProbe, python: Path, request: EnvRequest) -> List[Command]:
    """The pip commands that bring `python`'s environment to `request`, in order."""
    pip = [str(python), "-m", "pip", "install"]
    source = ["--no-index", "--find-links", str(request.offline)] if request.offline else []
    commands: List[Command] = []
    if request.fresh and request.offline is None:
        commands.append(Command([*pip, "--upgrade", "pip"], "upgrading pip"))
    if not _setuptools_ok(env):
        commands.append(Command([*pip, *source, *BUILD_REQUIREMENTS], "installing build tools"))
    torch_reqs = request.torch_spec.split()
    if request.reinstall_torch or not all(satisfied(r, env) for r in torch_reqs):
        index = ["--index-url", request.torch_index] if request.torch_index and not source else []
        force = ["--force-reinstall"] if request.reinstall_torch else []
        commands.append(Command([*pip, *source, *index, *force, *torch_reqs], "installing torch"))
    if not satisfied(SAM2_SPEC, env):
        # sam2's setup.py imports torch, and its CUDA extension is optional: build without it.
        commands.append(
            Command(
                [*pip, *source, "--no-build-isolation", SAM2_SPEC],
                "installing sam2",
                env={"SAM2_BUILD_CUDA": "0"},
            )
        )
    if not _project_ok(env, request):
        target = f"{request.source_root}[{','.join(request.extras)}]"
        commands.append(
            Command(
                [*pip, *source, "--no-build-isolation", "-e", target],
                f"installing sam2matting {request.project_version} from {request.source_root}",
            )
        )
    return commands


def apply(python: Path, request: EnvRequest, runner: Runner, reporter: Reporter) -> bool:
    """Probe, plan and run; True when the environment satisfies the request afterwards."""
    env = EnvProbe() if runner.dry_run and not python.exists() else probe(python, runner)
    if env.python and env.python[:2] < MIN_ENV_PYTHON:
        reporter.problem(
            f"{python} is Python {'.'.join(map(str, env.python))}; the backend needs "
            f"{'.'.join(map(str, MIN_ENV_PYTHON))} or newer",
            fix="pass --python with a newer interpreter, or run the installer with python3.11",
        )
        return False
    commands = plan(env, python, request)
    if not commands:
        reporter.ok(f"torch, sam2 and sam2matting are already installed in {python}")
    for command in commands:
        try:
            runner.run(command)
        except CommandError as exc:
            reporter.problem(str(exc), fix=_fix_for(command, request))
            return False
    return True


def _fix_for(command: Command, request: EnvRequest) -> str:
    if request.offline is not None:
        return (
            f"put the missing wheels into {request.offline} (pip download ... -d DIR), then re-run"
        )
    if command.purpose == "installing torch":
        return "check the network, or choose another build with --torch-index / --torch-spec"
    return "read pip's message above, fix the cause, then re-run the installer"


def create_venv(env_dir: Path, venv_python: Path, runner: Runner, reporter: Reporter) -> bool:
    """Create the venv with this interpreter (stdlib venv); False when it cannot."""
    if sys.version_info[:2] < MIN_ENV_PYTHON:
        reporter.problem(
            f"this is Python {sys.version_info[0]}.{sys.version_info[1]}; the backend needs "
            f"{MIN_ENV_PYTHON[0]}.{MIN_ENV_PYTHON[1]} or newer",
            fix="run the installer with python3.11 (or pass --python /path/to/env/bin/python)",
        )
        return False
    if env_dir.exists() and any(env_dir.iterdir()) and not (env_dir / "pyvenv.cfg").is_file():
        reporter.problem(
            f"{env_dir} exists and is not a Python environment; not touching it",
            fix="choose another folder with --env",
        )
        return False
    try:
        runner.run(Command([sys.executable, "-m", "venv", str(env_dir)], f"creating {env_dir}"))
    except CommandError as exc:
        reporter.problem(
            str(exc), fix="on Debian/Ubuntu: sudo apt install python3-venv; or pass --python"
        )
        return False
    if not runner.dry_run and not venv_python.exists():
        reporter.problem(f"{venv_python} was not created", fix="pass --python")
        return False
    return True
