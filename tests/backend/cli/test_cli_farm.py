"""The farm job end to end: the bundle run by OpenJD's own runtime (`openjd run`, every step)
writes the same EXRs as `sam2matting render` on one machine; a Matte task killed mid-way and
re-run gives the same files; tasks fail loudly on missing plates, models and bad prompts.

The demo shot of the render tests: two textured discs (two objects), the flow tracker and the
closed-form engine, 6 frames of 160x96 (real EXR plates and outputs, real subprocesses).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sam2matting.backend.cli.main import main
from sam2matting.backend.imageio.exr import read_exr
from tests.backend.render.helpers import FIRST, make_shot_file, write_plate

N = 6
LAST = FIRST + N - 1
CHUNK = 4
TOLERANCE = 1e-4  # the bound; the files come out identical


@pytest.fixture
def shot(tmp_path):
    plate = write_plate(tmp_path / "plate", N)
    shot_file = make_shot_file(
        tmp_path / "sh010.sam2shot.json", N, {1: [FIRST], 2: [FIRST + 2]}, engine="closed_form"
    )
    return plate, shot_file


def job_args(tmp_path, plate, shot_file, frames=f"{FIRST}-{LAST}"):
    return [
        "--shot",
        str(shot_file),
        "--plate",
        plate,
        "--frames",
        frames,
        "--priors",
        str(tmp_path / "priors"),
        "--device",
        "cpu",
        "--scratch",
        str(tmp_path / "scratch"),
    ]


def track(tmp_path, plate, shot_file, obj, **kw):
    args = job_args(tmp_path, plate, shot_file, **kw)
    return main(["farm", "track", *args, "--object", str(obj)])


def matte(tmp_path, plate, shot_file, *extra, out="farm/matte.####.exr"):
    args = job_args(tmp_path, plate, shot_file)
    return main(["farm", "matte", *args, "-o", str(tmp_path / out), *extra])


def render(plate, shot_file, out, *extra):
    """`sam2matting render` of the whole test range: its exit code."""
    args = ["--plate", plate, "--frames", f"{FIRST}-{LAST}", "--shot", str(shot_file)]
    return main(["render", *args, "-o", str(out), *extra])


def render_reference(tmp_path, plate, shot_file):
    out = tmp_path / "render" / "matte.####.exr"
    work = ["--work-dir", str(tmp_path / "work"), "--device", "cpu"]
    assert render(plate, shot_file, out, *work) == 0


def max_difference(tmp_path, folder, frames=range(FIRST, LAST + 1)):
    """Worst |farm - render| over every channel of every frame (channels must agree)."""
    worst = 0.0
    for frame in frames:
        ours = read_exr(tmp_path / folder / f"matte.{frame}.exr")
        ref = read_exr(tmp_path / "render" / f"matte.{frame}.exr")
        assert sorted(ours.channels) == sorted(ref.channels) == ["A", "obj1.A", "obj2.A"]
        assert (ours.width, ours.height) == (ref.width, ref.height)
        for name, values in ref.channels.items():
            worst = max(worst, float(np.abs(ours.channels[name] - values).max()))
        meta = {k: v for k, v in ours.metadata.items() if k.startswith("sam2matting/")}
        assert meta == {k: v for k, v in ref.metadata.items() if k.startswith("sam2matting/")}
    return worst


def openjd(tmp_path, *args):
    """`openjd run` of the bundle, as a farm's worker runs it (a real subprocess)."""
    job = tmp_path / "job"
    command = [
        str(Path(sys.executable).with_name("openjd")),
        "run",
        str(job / "template.json"),
        "-p",
        f"file://{job / 'openjd_parameters.json'}",
        *args,
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


@pytest.mark.slow
def test_openjd_job_writes_what_render_writes_and_survives_a_killed_matte(tmp_path, shot):
    plate, shot_file = shot
    render_reference(tmp_path, plate, shot_file)
    assert (
        main(
            [
                "farm",
                "bundle",
                "--shot",
                str(shot_file),
                "--plate",
                plate,
                "--frames",
                f"{FIRST}-{LAST}",
                "--mattes",
                str(tmp_path / "farm" / "matte.####.exr"),
                "-o",
                str(tmp_path / "job"),
                "--chunk-size",
                str(CHUNK),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    # every step, as a farm would: two Track tasks, then two Matte chunks
    proc = openjd(tmp_path, "--step", "Matte", "--run-dependencies")
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log
    assert "farm track: object 1 with tracker flow, engine closed_form" in log
    assert f"farm track: object 2 with tracker flow, engine closed_form: {N} priors stored" in log
    chunk_done = f"frames {FIRST}-{FIRST + CHUNK - 1} (tracker flow, engine closed_form): 4 written"
    assert chunk_done in log
    assert "openjd_progress: 100.0" in log
    assert max_difference(tmp_path, "farm") <= TOLERANCE
    # render sees the farm's frames as its own finished ones
    assert render(plate, shot_file, tmp_path / "farm" / "matte.####.exr") == 0

    # a Matte task killed mid-way, then re-run: the same files
    chunk = range(FIRST, FIRST + CHUNK)
    for frame in chunk:
        (tmp_path / "farm" / f"matte.{frame}.exr").unlink()
    task = ("--step", "Matte", "--no-run-dependencies", "--task-param", f"ChunkStart={FIRST}")
    proc = openjd(tmp_path, *task)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if f"frame {FIRST}: written" in line:
            os.killpg(proc.pid, signal.SIGKILL)  # the task and its session, mid-chunk
            break
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode != 0, "".join(seen)
    written = [f for f in chunk if (tmp_path / "farm" / f"matte.{f}.exr").exists()]
    assert FIRST in written, written
    assert len(written) < CHUNK, written
    proc = openjd(tmp_path, *task)
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log
    assert f"already finished ({FIRST}" in log
    assert max_difference(tmp_path, "farm") <= TOLERANCE


@pytest.mark.slow
def test_track_resumes_and_matte_chunks_write_the_render_files(tmp_path, shot, capsys):
    plate, shot_file = shot
    render_reference(tmp_path, plate, shot_file)
    assert matte(tmp_path, plate, shot_file) == 1  # nothing tracked yet
    err = capsys.readouterr().err
    assert "object 1 has not been tracked" in err
    assert "hint: Run the job's Track step" in err
    for obj in (1, 2):
        assert track(tmp_path, plate, shot_file, obj) == 0
    priors = sorted((tmp_path / "priors" / "obj2").glob("prior.*.npz"))
    assert len(priors) == N
    stamps = [p.stat().st_mtime_ns for p in priors]
    capsys.readouterr()
    assert track(tmp_path, plate, shot_file, 2) == 0  # a re-run keeps the finished passes
    assert f"0 priors stored (none), {N} kept from an earlier run" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in priors] == stamps
    assert matte(tmp_path, plate, shot_file, "--chunk-start", str(FIRST + 4)) == 0
    assert sorted(p.name for p in (tmp_path / "farm").glob("*.exr")) == [
        f"matte.{FIRST + 4}.exr",
        f"matte.{FIRST + 5}.exr",
    ]
    assert matte(tmp_path, plate, shot_file) == 0
    out = capsys.readouterr().out
    assert f"4 written ({FIRST}-{FIRST + 3}), 2 already finished" in out
    assert max_difference(tmp_path, "farm") <= TOLERANCE
    assert not list((tmp_path / "scratch").iterdir()), "task scratch folders are removed"


def test_a_missing_plate_frame_is_listed_and_the_rest_written(tmp_path, capsys):
    missing = FIRST + 4
    plate = write_plate(tmp_path / "plate", N, skip=[missing])
    shot_file = make_shot_file(tmp_path / "shot.json", N, {1: [FIRST]}, engine="closed_form")
    assert track(tmp_path, plate, shot_file, 1) == 0
    captured = capsys.readouterr()
    assert f"{missing}: the plate frame is missing or unreadable" in captured.err
    assert matte(tmp_path, plate, shot_file) == 4
    captured = capsys.readouterr()
    assert "2 frame(s) not produced" in captured.err
    assert f"{missing}: the plate frame is missing or unreadable" in captured.err
    assert f"{missing + 1}: no prompt of object 1 is reachable" in captured.err
    written = sorted(int(p.name.split(".")[1]) for p in (tmp_path / "farm").glob("*.exr"))
    assert written == list(range(FIRST, missing))


def test_a_missing_prompted_plate_frame_fails_the_track_task(tmp_path, capsys):
    plate = write_plate(tmp_path / "plate", N, skip=[FIRST])
    shot_file = make_shot_file(tmp_path / "shot.json", N, {1: [FIRST]})
    assert track(tmp_path, plate, shot_file, 1) == 1
    err = capsys.readouterr().err
    assert f"prompted frame {FIRST} is missing or unreadable" in err
    assert f"plate.{FIRST}.exr" in err
    assert "hint: Restore the plate frames" in err


def test_a_damaged_plate_frame_names_the_file(tmp_path, shot, capsys):
    plate, shot_file = shot
    (tmp_path / "plate" / f"plate.{FIRST + 3}.exr").write_bytes(b"not an exr")
    assert track(tmp_path, plate, shot_file, 1) == 1
    err = capsys.readouterr().err
    assert "the plate cannot be read" in err
    assert f"plate.{FIRST + 3}.exr" in err


def test_missing_models_fail_with_the_setup_exit_code(tmp_path, capsys):
    plate = write_plate(tmp_path / "plate", N)
    shot_file = make_shot_file(tmp_path / "shot.json", N, {1: [FIRST]}, tracker="sam2.1-tiny")
    assert track(tmp_path, plate, shot_file, 1) == 3
    err = capsys.readouterr().err
    assert "sam2.1-tiny is unavailable" in err


def test_bad_prompts_and_unknown_objects_are_usage_errors(tmp_path, shot, capsys):
    plate, shot_file = shot
    assert track(tmp_path, plate, shot_file, 7) == 2
    assert "has no prompted object 7" in capsys.readouterr().err
    data = json.loads(shot_file.read_text())
    data["prompts"][0].update(box=None, points=[[10.0, 10.0]], labels=[0])  # background only
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert track(tmp_path, plate, bad, data["prompts"][0]["object_id"]) == 2
    err = capsys.readouterr().err
    assert "a prompt in the shot file cannot be used" in err
    assert "hint: Fix the prompt on the SAM2Matte node" in err


def test_priors_of_another_shot_revision_are_refused(tmp_path, shot, capsys):
    plate, shot_file = shot
    for obj in (1, 2):
        assert track(tmp_path, plate, shot_file, obj) == 0
    time.sleep(0.01)
    revised = make_shot_file(
        tmp_path / "sh010_v2.json", N, {1: [FIRST, LAST], 2: [FIRST + 2]}, engine="closed_form"
    )
    assert matte(tmp_path, plate, revised) == 1
    assert "another revision of the shot file" in capsys.readouterr().err
