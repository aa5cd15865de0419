"""`sam2matting demo` end to end at a tiny size: a real `serve` child process on loopback, the
weight-free tracker and engine, real EXR files, scored against the generated truth."""

from __future__ import annotations

import re

import numpy as np
import psutil
import pytest
import torch

from sam2matting.backend.cli.demo_shot import prompt_from_truth, srgb_to_linear
from sam2matting.backend.cli.main import main
from sam2matting.backend.imageio.colour import ColourConverter
from sam2matting.backend.imageio.exr import read_exr


def serve_children():
    """Child processes of this test process that run the backend."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "serve" in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def test_demo_end_to_end_at_a_tiny_size(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(
        ["demo", "--frames", "3", "--size", "256x144", "--out", str(out), "--device", "cpu"]
    )
    report = capsys.readouterr().out
    assert code == 0, report
    assert not serve_children(), "the backend child process is still running"
    for name in ("plate", "truth", "matte"):
        files = sorted(p.name for p in (out / name).iterdir())
        assert files == [f"{name}.{f}.exr" for f in (1001, 1002, 1003)]
    plate = read_exr(out / "plate" / "plate.1001.exr")
    assert (plate.width, plate.height) == (256, 144)
    assert plate.pixel_types["R"] == "half"
    matte = read_exr(out / "matte" / "matte.1002.exr")
    assert sorted(matte.channels) == ["A", "obj1.A"]
    assert matte.pixel_types["A"] == "float"
    truth = read_exr(out / "truth" / "truth.1002.exr").channels["A"]
    a, b = matte.channels["A"] > 0.5, truth > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.5, "the matte does not cover the subject"
    preview = (out / "preview.png").read_bytes()
    assert preview.startswith(b"\x89PNG")
    sad = re.search(r"SAD per frame \(/1000\): matte ([0-9.]+), hard mask ([0-9.]+)", report)
    dtssd = re.search(r"dtSSD: +matte ([0-9.]+), hard mask ([0-9.]+)", report)
    assert sad, report
    assert dtssd, report
    assert all(np.isfinite(float(v)) for v in (*sad.groups(), *dtssd.groups()))
    assert re.search(r"speed: +[0-9.]+ frames/s", report)
    assert "tracker flow" in report
    assert "frames sent by path" in report


def test_missing_model_exits_3_and_stops_the_backend(tmp_path, capsys):
    code = main(
        [
            "demo",
            "--frames",
            "1",
            "--size",
            "128x96",
            "--out",
            str(tmp_path / "demo"),
            "--tracker",
            "sam2.1-large",
            "--device",
            "cpu",
        ]
    )
    assert code == 3
    assert "sam2.1-large" in capsys.readouterr().err
    assert not serve_children()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_backend_that_cannot_start_is_a_setup_error(tmp_path, capsys):
    code = main(
        [
            "demo",
            "--frames",
            "1",
            "--size",
            "128x96",
            "--out",
            str(tmp_path / "demo"),
            "--device",
            "cuda",
        ]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "exited with code 3" in err
    assert "CUDA" in err
    assert not serve_children()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "big"], "bad size"),
        (["--size", "32x32"], "bad size"),
        (["--frames", "0"], "out of range"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, capsys, args, message):
    assert main(["demo", "--out", str(tmp_path / "demo"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_prompt_is_a_box_around_the_solid_part_and_a_point_inside():
    alpha = np.zeros((60, 80), np.float32)
    alpha[10:30, 20:50] = 1.0
    alpha[30:40, 20:50] = 0.3  # semi-transparent: outside the box
    box, (x, y) = prompt_from_truth(alpha)
    assert box == (20.0, 10.0, 50.0, 30.0)
    assert 20 < x < 50
    assert 10 < y < 30
    assert alpha[int(y), int(x)] == 1.0


def test_linear_plates_convert_back_to_the_generated_values():
    values = np.linspace(0, 1, 1001, dtype=np.float32).reshape(1, -1, 1).repeat(3, axis=2)
    stored = srgb_to_linear(values).astype(np.float16).astype(np.float32)  # a half EXR plate
    back = ColourConverter("scene_linear")(stored)
    assert np.abs(back - values).max() < 2e-3
