"""The backend environment step: GPU -> torch index, probe of a real interpreter, pip plan."""

from __future__ import annotations

import dataclasses
import io
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest

from sam2matting.installer import environment, gpu
from sam2matting.installer.report import Reporter
from sam2matting.installer.runner import Command, DryRunner

REPO = Path(__file__).resolve().parents[2]
PY = Path("/env/bin/python")
BANNER = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
"""


def _request(**kw: Any) -> environment.EnvRequest:
    return dataclasses.replace(environment.EnvRequest(REPO, "0.1.0"), **kw)


def _probe(versions: Dict[str, str], editable: Optional[str] = None) -> environment.EnvProbe:
    requires = ['torch>=2.3; extra == "backend"', 'pytest>=7; extra == "dev"', "pyzmq>=26.2.1"]
    return environment.EnvProbe(
        python=(3, 11, 7),
        versions={environment.normalize(k): v for k, v in versions.items()},
        editable_url=editable,
        requires=requires,
    )


def _purposes(commands: Sequence[Command]) -> List[str]:
    return [c.purpose.split(" ")[1] for c in commands]


def test_parse_nvidia_smi() -> None:
    info = gpu.parse_nvidia_smi(BANNER, "NVIDIA H100 80GB HBM3, 550.54.15\nNVIDIA L4, 550.54.15\n")
    assert info == gpu.GpuInfo(("NVIDIA H100 80GB HBM3", "NVIDIA L4"), "550.54.15", (12, 4))
    assert "CUDA 12.4" in info.describe()
    assert gpu.parse_nvidia_smi("", "") is None


def test_detect_nvidia_uses_the_query_output() -> None:
    answers = {
        "--query-gpu=name,driver_version": "NVIDIA RTX A6000, 535.104.05\n",
        "nvidia-smi": BANNER.replace("12.4", "12.2"),
    }

    def query(argv: Sequence[str]) -> Optional[str]:
        return answers[argv[1]] if len(argv) > 1 else answers["nvidia-smi"]

    info = gpu.detect_nvidia(query)
    assert info is not None
    assert info.cuda == (12, 2)
    assert gpu.detect_nvidia(lambda argv: None) is None


@pytest.mark.parametrize(
    ("cuda", "build"),
    [
        ((13, 1), "cu130"),
        ((12, 4), "cu124"),
        ((12, 5), "cu124"),
        ((12, 0), "cu118"),
        ((11, 4), None),
    ],
)
def test_newest_torch_build_the_driver_runs(cuda: tuple, build: Optional[str]) -> None:
    assert gpu.torch_cuda_build(cuda) == build


def test_torch_index_choice() -> None:
    h100 = gpu.GpuInfo(("NVIDIA H100",), "550.54.15", (12, 4))
    old = gpu.GpuInfo(("Tesla K80",), "470.1", (11, 4))
    resolve = environment.resolve_torch_index
    assert resolve("auto", h100, "linux")[0] == "https://download.pytorch.org/whl/cu124"
    assert resolve("auto", None, "linux")[0] is None
    assert resolve("auto", h100, "darwin")[0] is None
    assert resolve("auto", old, "linux")[0] is None
    assert "older than any torch CUDA build" in resolve("auto", old, "linux")[1]
    assert resolve("cpu", h100, "linux")[0] == "https://download.pytorch.org/whl/cpu"
    assert resolve("cu126", None, "linux")[0] == "https://download.pytorch.org/whl/cu126"
    assert resolve("pypi", h100, "linux")[0] is None
    assert resolve("https://mirror.studio/torch", None, "linux")[0] == "https://mirror.studio/torch"
    with pytest.raises(ValueError, match="--torch-index"):
        resolve("cuda", None, "linux")


def test_plan_for_an_empty_fresh_venv_on_a_gpu_machine() -> None:
    request = _request(
        torch_index="https://download.pytorch.org/whl/cu124", fresh=True, extras=("backend", "dev")
    )
    commands = environment.plan(_probe({"pip": "24.0"}), PY, request)
    assert _purposes(commands) == ["pip", "build", "torch", "sam2", "sam2matting"]
    pip, build, torch, sam2, project = (list(c.argv) for c in commands)
    assert pip == [str(PY), "-m", "pip", "install", "--upgrade", "pip"]
    assert build[-2:] == ["setuptools>=64", "wheel"]
    assert torch[-4:] == [
        "--index-url",
        "https://download.pytorch.org/whl/cu124",
        "torch==2.14.1",
        "torchvision==0.29.1",
    ]
    assert sam2[-2:] == ["--no-build-isolation", "sam2==1.1.0"]
    assert commands[3].env == {"SAM2_BUILD_CUDA": "0"}
    assert project[-3:] == ["--no-build-isolation", "-e", f"{REPO}[backend,dev]"]


def test_offline_plan_uses_only_the_folder() -> None:
    request = _request(offline=Path("/mnt/wheels"), fresh=True, torch_index="https://x/cu124")
    commands = environment.plan(_probe({}), PY, request)
    assert _purposes(commands) == ["build", "torch", "sam2", "sam2matting"]  # no pip upgrade
    for command in commands:
        assert list(command.argv[4:7]) == ["--no-index", "--find-links", "/mnt/wheels"]
        assert "--index-url" not in command.argv


def test_satisfied_environment_needs_nothing() -> None:
    versions = {
        "pip": "24.0",
        "setuptools": "70.1",
        "wheel": "0.43",
        "torch": "2.14.1+cu124",
        "torchvision": "0.29.1",
        "sam2": "1.1.0",
        "sam2matting": "0.1.0",
        "pyzmq": "27.3.0",
    }
    probe = _probe(versions, editable=REPO.as_uri())
    assert environment.plan(probe, PY, _request()) == []
    # --dev later: only the project step runs again (pytest is missing).
    assert _purposes(environment.plan(probe, PY, _request(extras=("backend", "dev")))) == [
        "sam2matting"
    ]
    # A non-editable or foreign install of the project is replaced by this checkout.
    other = _probe(versions, editable="file:///elsewhere")
    assert _purposes(environment.plan(other, PY, _request())) == ["sam2matting"]
    assert _purposes(environment.plan(probe, PY, _request(reinstall_torch=True))) == ["torch"]
    assert (
        "--force-reinstall" in environment.plan(probe, PY, _request(reinstall_torch=True))[0].argv
    )
    old_tools = _probe({**versions, "setuptools": "59.6.0"}, editable=REPO.as_uri())
    assert _purposes(environment.plan(old_tools, PY, _request())) == ["build"]


def test_torch_pins_and_other_specs() -> None:
    probe = _probe({"torch": "2.14.1+cpu"})
    assert environment.satisfied("torch==2.14.1", probe) is True
    assert environment.satisfied("torch==2.13.0", probe) is False
    assert environment.satisfied("torch", probe) is True
    assert environment.satisfied("torchvision", probe) is False
    assert environment.satisfied("torch>=2.3", probe) is None  # pip decides
    spec_probe = _probe({"torch": "2.14.1", "torchvision": "0.29.1"})
    assert (
        _purposes(environment.plan(spec_probe, PY, _request(torch_spec="torch>=2.3"))).count(
            "torch"
        )
        == 1
    )


def test_probe_of_this_interpreter_matches_its_metadata() -> None:
    runner = DryRunner(Reporter(stream=io.StringIO()))
    probe = environment.probe(Path(sys.executable), runner)
    assert probe.python[:2] == sys.version_info[:2]
    for name in ("pip", "pytest", "sam2matting"):
        assert probe.version(name) == metadata.version(name)
    assert probe.requires  # sam2matting's own requirement strings
    # A spec pinned to what is installed needs no torch step (and the probe ran, not pip).
    pinned = _request(torch_spec=f"pytest=={metadata.version('pytest')}")
    assert "torch" not in _purposes(environment.plan(probe, Path(sys.executable), pinned))
    assert runner.commands == []


def test_apply_refuses_an_old_interpreter(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho \'{"python": [3, 8, 10], "versions": {}}\'\n')
    fake.chmod(0o755)
    out = io.StringIO()
    reporter = Reporter(stream=out)
    runner = DryRunner(reporter)
    assert not environment.apply(fake, _request(), runner, reporter)
    assert "Python 3.8.10; the backend needs 3.10 or newer" in reporter.problems[0]
    assert runner.commands == []


def test_dry_run_of_a_missing_env_lists_every_step(tmp_path: Path) -> None:
    reporter = Reporter(stream=io.StringIO())
    runner = DryRunner(reporter)
    missing = tmp_path / "venv" / "bin" / "python"
    assert environment.create_venv(tmp_path / "venv", missing, runner, reporter)
    assert environment.apply(missing, _request(fresh=True), runner, reporter)
    assert [c.purpose.split(" ")[0] for c in runner.commands] == ["creating"] + ["upgrading"] + [
        "installing"
    ] * 4
    assert runner.commands[0].argv == [sys.executable, "-m", "venv", str(tmp_path / "venv")]
    assert not (tmp_path / "venv").exists()


def test_refuses_to_turn_a_foreign_folder_into_a_venv(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("mine")
    reporter = Reporter(stream=io.StringIO())
    assert not environment.create_venv(
        tmp_path / "stuff", tmp_path / "stuff/bin/python", DryRunner(reporter), reporter
    )
    assert "is not a Python environment" in reporter.problems[0]


def test_command_text_is_shell_ready() -> None:
    command = Command(["/a b/python", "-m", "pip", "install", "x>=1"], "x", {"K": "v 1"})
    assert str(command) == "K='v 1' '/a b/python' -m pip install 'x>=1'"
    assert shlex.split(str(command)) == ["K=v 1", "/a b/python", "-m", "pip", "install", "x>=1"]
