"""`sam2matting farm bundle`: the OpenJD job it writes (checked by openjd-model), its options,
its refusals, its OpenCue twin, and that it runs without numpy or torch (the Nuke plugin runs
it in a subprocess)."""

from __future__ import annotations

import argparse
import ast
import json
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from sam2matting.backend.cli.main import main
from sam2matting.backend.render import farm_bundle
from sam2matting.backend.render.farm_validate import task_counts
from tests.backend.render.helpers import FIRST, make_shot_file
from tests.conftest import REPO_ROOT

N = 6
LAST = FIRST + N - 1


@pytest.fixture
def shot_file(tmp_path):
    return make_shot_file(tmp_path / "sh010.sam2shot.json", N, {1: [FIRST], 2: [FIRST + 2]})


def bundle(tmp_path, shot_file, *extra, frames=f"{FIRST}-{LAST}"):
    return main(
        [
            "farm",
            "bundle",
            "--shot",
            str(shot_file),
            "--plate",
            str(tmp_path / "plate.####.exr"),
            "--frames",
            frames,
            "--mattes",
            str(tmp_path / "out" / "matte.####.exr"),
            "-o",
            str(tmp_path / "job"),
            *extra,
        ]
    )


def template(tmp_path):
    return json.loads((tmp_path / "job" / "template.json").read_text())


def values(tmp_path):
    return json.loads((tmp_path / "job" / "openjd_parameters.json").read_text())


def step(tmp_path, name):
    return next(s for s in template(tmp_path)["steps"] if s["name"] == name)


def test_bundle_is_a_valid_job_with_a_task_per_object_and_per_chunk(tmp_path, shot_file, capsys):
    assert bundle(tmp_path, shot_file, "--chunk-size", "4") == 0
    job = tmp_path / "job"
    assert sorted(p.name for p in job.iterdir()) == [
        "openjd_parameters.json",
        "parameter_values.json",
        "sh010.sam2shot.json",
        "template.json",
    ]
    assert (job / "sh010.sam2shot.json").read_bytes() == shot_file.read_bytes()
    assert task_counts(job / "template.json", values(tmp_path)) == {"Track": 2, "Matte": 2}
    assert step(tmp_path, "Matte")["dependencies"] == [{"dependsOn": "Track"}]
    deadline = json.loads((job / "parameter_values.json").read_text())["parameterValues"]
    assert {v["name"]: v["value"] for v in deadline} == values(tmp_path)
    v = values(tmp_path)
    assert (v["Objects"], v["FirstFrame"], v["LastFrame"]) == ("1,2", str(FIRST), str(LAST))
    assert v["PlateDir"] == str(tmp_path)
    assert v["PlateName"] == "plate.####.exr"
    assert v["PriorsDir"] == str(job / "priors")  # default: inside the bundle
    assert v["BackendPython"] == sys.executable  # default: this environment
    out = capsys.readouterr().out
    assert "Track 2 task(s) on cpu hosts, then Matte 2 task(s) of 4 frames" in out  # flow: cpu
    # another chunk size: the same template, more tasks
    assert task_counts(job / "template.json", dict(v, ChunkSize="1")) == {"Track": 2, "Matte": 6}


def test_host_requirements_and_worker_environment(tmp_path, shot_file):
    assert (
        bundle(
            tmp_path,
            shot_file,
            "--track-host",
            "gpu",
            "--gpu-memory",
            "12",
            "--matte-cpus",
            "4",
            "--worker-env",
            "/opt/sam2/venv",
            "--worker-models",
            "/mnt/models",
            "--device",
            "cuda",
        )
        == 0
    )
    track = step(tmp_path, "Track")["hostRequirements"]["amounts"]
    assert {"name": "amount.worker.gpu", "min": 1} in track
    assert {"name": "amount.worker.gpu.memory", "min": 12 * 1024} in track
    assert step(tmp_path, "Matte")["hostRequirements"]["amounts"] == [
        {"name": "amount.worker.vcpu", "min": 4}
    ]
    v = values(tmp_path)
    assert (v["BackendPython"], v["ModelsDir"], v["Device"]) == (
        "/opt/sam2/venv/bin/python",
        "/mnt/models",
        "cuda",
    )
    run = step(tmp_path, "Track")["script"]["actions"]["onRun"]
    assert run["command"] == "{{Param.BackendPython}}"
    assert run["args"][:4] == ["-m", "sam2matting.backend.cli.main", "farm", "track"]
    assert (
        bundle(
            tmp_path,
            shot_file,
            "--worker-env",
            "D:\\sam2\\venv",
            "--worker-os",
            "windows",
            "--matte-host",
            "gpu",
        )
        == 0
    )
    assert values(tmp_path)["BackendPython"] == "D:\\sam2\\venv\\Scripts\\python.exe"
    matte = step(tmp_path, "Matte")["hostRequirements"]["amounts"]
    assert matte == [{"name": "amount.worker.gpu", "min": 1}]


@pytest.mark.parametrize(
    ("extra", "frames", "message"),
    [
        (["--chunk-size", "0"], f"{FIRST}-{LAST}", "--chunk-size must be at least 1"),
        ([], f"{FIRST}-{LAST + 5}", "outside the shot's range"),
        (["--mattes", "PLATE"], f"{FIRST}-{LAST}", "the matte pattern names the plate's files"),
    ],
)
def test_bad_options_are_refused_with_a_hint(tmp_path, shot_file, capsys, extra, frames, message):
    extra = [str(tmp_path / "plate.####.exr") if e == "PLATE" else e for e in extra]
    assert bundle(tmp_path, shot_file, *extra, frames=frames) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "job" / "template.json").exists()


def test_a_shot_file_without_prompts_is_refused(tmp_path, capsys):
    empty = make_shot_file(tmp_path / "empty.json", N, {})
    assert bundle(tmp_path, empty) == 2
    err = capsys.readouterr().err
    assert "has no prompts" in err
    assert "hint: Place points or a box" in err


def test_the_bundle_writer_needs_only_the_standard_library_and_the_protocol():
    tree = ast.parse((REPO_ROOT / "backend" / "render" / "farm_bundle.py").read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    ours = {m for m in modules if m.startswith("sam2matting.")}
    assert ours <= {"sam2matting.protocol.atomic"}  # stdlib-only itself (tests/test_structure.py)
    modules = {m.split(".")[0] for m in modules - ours}
    assert modules
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}


def test_farm_bundle_never_imports_numpy_or_torch(tmp_path, shot_file):
    args = [
        "farm",
        "bundle",
        "--shot",
        str(shot_file),
        "--plate",
        str(tmp_path / "p.####.exr"),
        "--frames",
        f"{FIRST}-{LAST}",
        "--mattes",
        str(tmp_path / "m.####.exr"),
        "-o",
        str(tmp_path / "job"),
    ]
    code = (
        "import sys; from sam2matting.backend.cli.main import main; rc = main(sys.argv[1:]); "
        "heavy = {'numpy', 'torch', 'cv2'} & set(sys.modules); "
        "assert not heavy, heavy; sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "job" / "template.json").is_file()


def _openjd_command(tmp_path, step_name, task):
    """The task's command line with the job's values filled in, as a farm would run it."""
    v = dict(values(tmp_path), **task)
    run = step(tmp_path, step_name)["script"]["actions"]["onRun"]

    def fill(text):
        return re.sub(r"\{\{(?:Task\.)?Param\.(\w+)\}\}", lambda m: str(v[m.group(1)]), text)

    args = [fill(a) for a in [run["command"], *run["args"]]]
    return [a for a in args if a != "{{Session.WorkingDirectory}}" and a != "--scratch"]


def test_opencue_job_has_the_same_steps_and_commands(tmp_path, shot_file, monkeypatch):
    pytest.importorskip("outline", reason="opencue-pyoutline is in the dev extra")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # pyoutline must not write there
    assert (
        bundle(
            tmp_path,
            shot_file,
            "--opencue",
            "--opencue-show",
            "demo",
            "--chunk-size",
            "4",
            "--track-host",
            "gpu",
            "--gpu-memory",
            "8",
        )
        == 0
    )
    spec = ET.parse(tmp_path / "job" / "opencue_job.xml").getroot()
    assert spec.findtext("show") == "demo"
    assert spec.findtext("shot") == "sh010"
    layers = {layer.get("name"): layer for layer in spec.iter("layer")}
    assert list(layers) == ["track-obj1", "track-obj2", "matte"]
    for obj in (1, 2):
        layer = layers[f"track-obj{obj}"]
        assert (layer.findtext("range"), layer.findtext("chunk")) == (str(FIRST), "1")
        assert (layer.findtext("gpus"), layer.findtext("gpu_memory")) == ("1", "8g")
        expected = _openjd_command(tmp_path, "Track", {"Object": obj})
        assert shlex.split(layer.findtext("cmd")) == expected
    matte = layers["matte"]
    assert (matte.findtext("range"), matte.findtext("chunk")) == (f"{FIRST}-{LAST}", "4")
    expected = _openjd_command(tmp_path, "Matte", {"ChunkStart": "#FRAME_START#"})
    assert shlex.split(matte.findtext("cmd")) == expected
    depends = {(d.findtext("deplayer"), d.findtext("onlayer")) for d in spec.iter("depend")}
    assert depends == {("matte", "track-obj1"), ("matte", "track-obj2")}
    env = {k.get("name"): k.text for k in spec.find("job/env")}
    assert env == farm_bundle.TASK_ENVIRONMENT
    assert not (tmp_path / "home").exists()


def test_every_farm_step_and_option_is_documented():
    from tests.backend.cli.test_cli_docs import command_parser, section

    text = section("farm")
    steps = next(
        a for a in command_parser("farm")._actions if isinstance(a, argparse._SubParsersAction)
    )
    assert sorted(steps.choices) == ["bundle", "matte", "track"]
    for name, parser in steps.choices.items():
        assert f"usage: sam2matting farm {name}" in text
        for action in parser._actions:
            for option in action.option_strings:
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (name, option)
