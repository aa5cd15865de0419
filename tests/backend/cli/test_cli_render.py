"""`sam2matting render` end to end: a real backend on a loopback socket, real EXR plates and
outputs, the flow tracker and the weight-free engine, on a small two-disc shot with known alpha."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from sam2matting.backend.cli.main import main
from sam2matting.backend.imageio.exr import read_exr
from sam2matting.backend.matting.closed_form_engine import ClosedFormEngine
from tests.backend.render.helpers import FIRST, H, W, iou, make_shot_file, truth, write_plate

N = 6
LAST = FIRST + N - 1


@pytest.fixture
def shot(tmp_path):
    plate = write_plate(tmp_path / "plate", N)
    shot_file = make_shot_file(tmp_path / "sh010.sam2shot.json", N, {1: [FIRST], 2: [FIRST]})
    return plate, shot_file


def render(tmp_path, plate, shot_file, *extra, out="out/matte.####.exr", frames=f"{FIRST}-{LAST}"):
    return main(
        [
            "render",
            "--plate",
            plate,
            "--frames",
            frames,
            "--shot",
            str(shot_file),
            "-o",
            str(tmp_path / out),
            "--work-dir",
            str(tmp_path / "work"),
            "--device",
            "cpu",
            *extra,
        ]
    )


def mtimes(tmp_path, frames, name="matte"):
    return {f: (tmp_path / "out" / f"{name}.{f}.exr").stat().st_mtime_ns for f in frames}


def test_render_writes_every_frame_close_to_the_truth(tmp_path, shot, capsys):
    assert render(tmp_path, *shot) == 0
    for i in range(N):
        image = read_exr(tmp_path / "out" / f"matte.{FIRST + i}.exr")
        assert (image.width, image.height) == (W, H)
        assert sorted(image.channels) == ["A", "obj1.A", "obj2.A"]
        assert image.pixel_types["A"] == "float"
        for obj in (1, 2):
            assert iou(image.channels[f"obj{obj}.A"], truth(obj, i)) > 0.9, (obj, FIRST + i)
        combined = np.maximum(image.channels["obj1.A"], image.channels["obj2.A"])
        np.testing.assert_array_equal(image.channels["A"], combined)
        assert image.metadata["sam2matting/shot"] == "sh010"
        assert image.metadata["sam2matting/tracker"] == "flow"
    assert f"{N} frames written, 0 already finished, 0 not produced" in capsys.readouterr().out
    assert not list((tmp_path / "work").iterdir()), "the scratch folder is removed"


def test_killed_render_resumes_without_rewriting_finished_frames(tmp_path, shot, capsys):
    assert render(tmp_path, *shot) == 0
    done = range(FIRST, FIRST + 3)
    before = mtimes(tmp_path, done)
    # What a render killed after three frames leaves: those frames, and a temp file of the
    # fourth (old enough to be a left-over, not a write in progress).
    for f in range(FIRST + 3, LAST + 1):
        (tmp_path / "out" / f"matte.{f}.exr").unlink()
    stale = tmp_path / "out" / f".matte.{FIRST + 3}.exr.0123456789ab.tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 600, time.time() - 600))
    capsys.readouterr()
    assert render(tmp_path, *shot) == 0
    assert mtimes(tmp_path, done) == before
    for f in range(FIRST + 3, LAST + 1):
        assert (tmp_path / "out" / f"matte.{f}.exr").is_file()
    assert not stale.exists()
    assert "3 frames written, 3 already finished" in capsys.readouterr().out
    # Everything finished: the backend is not even started.
    assert render(tmp_path, *shot) == 0
    assert f"all {N} frames of" in capsys.readouterr().out


def test_new_shot_revision_renders_again(tmp_path, shot):
    plate, shot_file = shot
    assert render(tmp_path, plate, shot_file) == 0
    before = mtimes(tmp_path, range(FIRST, LAST + 1))
    revised = make_shot_file(tmp_path / "sh010_v2.json", N, {1: [FIRST, LAST], 2: [FIRST]})
    assert (
        json.loads(revised.read_text())["revision"] > json.loads(shot_file.read_text())["revision"]
    )
    assert render(tmp_path, plate, revised) == 0
    after = mtimes(tmp_path, range(FIRST, LAST + 1))
    assert all(after[f] != before[f] for f in before)
    meta = read_exr(tmp_path / "out" / f"matte.{FIRST}.exr").metadata
    assert meta["sam2matting/revision"] == str(json.loads(revised.read_text())["revision"])


def test_object_split_writes_only_that_object(tmp_path, shot):
    assert render(tmp_path, *shot, "--object", "2", out="out/disc2.%04d.exr") == 0
    for i in range(N):
        image = read_exr(tmp_path / "out" / f"disc2.{FIRST + i}.exr")
        assert sorted(image.channels) == ["A", "obj2.A"]
        np.testing.assert_array_equal(image.channels["A"], image.channels["obj2.A"])
        assert iou(image.channels["A"], truth(2, i)) > 0.9
        assert json.loads(image.metadata["sam2matting/objects"]) == {"2": "disc2"}
    # The whole-shot render of the same frames is a different output: not finished.
    assert not (tmp_path / "out" / f"matte.{FIRST}.exr").exists()


def test_missing_plate_frame_is_listed_and_the_rest_produced(tmp_path, capsys):
    missing = FIRST + 3
    plate = write_plate(tmp_path / "plate", N, skip=[missing])
    shot_file = make_shot_file(tmp_path / "shot.json", N, {1: [FIRST]})
    assert render(tmp_path, plate, shot_file) == 4
    err = capsys.readouterr().err
    assert f"{missing}: the plate frame is missing or unreadable" in err
    assert f"{missing + 1}-{LAST}: no prompt of object 1 is reachable" in err
    produced = sorted(int(p.name.split(".")[1]) for p in (tmp_path / "out").glob("matte.*.exr"))
    assert produced == list(range(FIRST, missing))


def test_a_prompt_beyond_the_gap_reaches_the_far_side(tmp_path, capsys):
    missing = FIRST + 2
    plate = write_plate(tmp_path / "plate", N, skip=[missing])
    shot_file = make_shot_file(tmp_path / "shot.json", N, {1: [FIRST, LAST]})
    assert render(tmp_path, plate, shot_file) == 4
    err = capsys.readouterr().err
    assert "1 frame not produced" in err
    assert f"{missing}: the plate frame is missing" in err
    for i in [0, 1, 3, 4, 5]:
        alpha = read_exr(tmp_path / "out" / f"matte.{FIRST + i}.exr").channels["A"]
        assert iou(alpha, truth(1, i)) > 0.9


def test_unreadable_plate_header_is_refused_when_sent(tmp_path, capsys):
    plate = write_plate(tmp_path / "plate", N)
    bad = tmp_path / "plate" / f"plate.{LAST}.exr"
    bad.write_bytes(bad.read_bytes()[:300])
    shot_file = make_shot_file(tmp_path / "shot.json", N, {1: [FIRST]})
    assert render(tmp_path, plate, shot_file) == 4
    assert f"{LAST}: unreadable plate" in capsys.readouterr().err
    assert (tmp_path / "out" / f"matte.{LAST - 1}.exr").is_file()


def test_corrupt_pixels_found_while_tracking_are_planned_around(tmp_path, capsys):
    # The header is intact (so the frame is accepted by path) but the pixels are cut short:
    # the backend fails on it mid-track, and the render re-plans from the prompt beyond it.
    bad_frame = FIRST + 3
    plate = write_plate(tmp_path / "plate", N)
    bad = tmp_path / "plate" / f"plate.{bad_frame}.exr"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    shot_file = make_shot_file(tmp_path / "shot.json", N, {1: [FIRST, LAST]})
    assert render(tmp_path, plate, shot_file) == 4
    err = capsys.readouterr().err
    assert "1 frame not produced" in err
    assert f"{bad_frame}: unreadable plate" in err
    assert "truncated or corrupt" in err
    for i in [0, 1, 2, 4, 5]:
        alpha = read_exr(tmp_path / "out" / f"matte.{FIRST + i}.exr").channels["A"]
        assert iou(alpha, truth(1, i)) > 0.9, FIRST + i


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plate", "{tmp}/plate/plate.exr"], "has no frame number"),
        (["-o", "{tmp}/out/matte.##.#.exr"], "2 frame numbers"),
        (["--frames", "1000-1003"], "outside the shot's range 1001-1006"),
        (["--frames", "1003-1001"], "ends before it starts"),
        (["--object", "9"], "no prompted object 9"),
        (["--shot", "{tmp}/nope.json"], "cannot use the shot file"),
        (["-o", "{tmp}/plate/plate.%04d.exr"], "names the plate's files"),
    ],
)
def test_usage_errors_exit_2_with_a_hint(tmp_path, shot, capsys, args, message):
    plate, shot_file = shot
    given = {
        "--plate": plate,
        "--frames": f"{FIRST}-{LAST}",
        "--shot": str(shot_file),
        "-o": str(tmp_path / "out" / "matte.####.exr"),
    }
    given.update(zip(args[::2], (a.format(tmp=tmp_path) for a in args[1::2])))
    argv = ["render"] + [x for pair in given.items() for x in pair]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "hint:" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.exr"))


def test_missing_model_is_a_setup_error(tmp_path, shot, capsys):
    plate, shot_file = shot
    code = render(
        tmp_path,
        plate,
        shot_file,
        "--tracker",
        "sam2.1-large",
        "--models-dir",
        str(tmp_path / "no-models"),
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "sam2.1-large" in err
    assert "not written" in err


@pytest.mark.slow
def test_render_killed_mid_run_resumes(tmp_path, capsys):
    """SIGKILL a real render process part-way, then run the same command again."""
    count = 12
    plate = write_plate(tmp_path / "plate", count)
    shot_file = make_shot_file(tmp_path / "shot.json", count, {1: [FIRST]})
    out = tmp_path / "out"
    argv = [
        "render",
        "--plate",
        plate,
        "--frames",
        f"{FIRST}-{FIRST + count - 1}",
        "--shot",
        str(shot_file),
        "-o",
        str(out / "matte.####.exr"),
        "--work-dir",
        str(tmp_path / "work"),
        "--device",
        "cpu",
    ]
    command = [sys.executable, "-m", "sam2matting.backend.cli.main", *argv]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while len(list(out.glob("matte.*.exr"))) < 2:
            assert process.poll() is None, "the render ended before it could be killed"
            assert time.monotonic() < deadline, "no output within 240 s"
            time.sleep(0.02)
        process.kill()  # SIGKILL: no cleanup of any kind
    finally:
        process.kill()
        process.wait(30)
    written = sorted(out.glob("matte.*.exr"))
    assert 2 <= len(written) < count
    for path in written:  # every file a killed render left is whole
        assert read_exr(path).channels["A"].shape == (H, W)
    before = {p.name: p.stat().st_mtime_ns for p in written}
    left_behind = list((tmp_path / "work").iterdir())
    assert len(left_behind) == 1  # the killed render's scratch folder
    capsys.readouterr()
    assert main(argv) == 0
    assert {p.name: p.stat().st_mtime_ns for p in written} == before
    assert len(list(out.glob("matte.*.exr"))) == count
    assert f"{count - len(written)} frames written, {len(written)} already finished" in (
        capsys.readouterr().out
    )
    # Too young to be removed yet: another render of this host may still be using it.
    assert left_behind[0].exists()


def test_stale_scratch_of_dead_renders_is_removed(tmp_path):
    from sam2matting.backend.render.in_process import remove_stale_scratch, scratch_folder

    with scratch_folder(tmp_path) as mine:
        name = mine.name
        dead = tmp_path / name.replace(f"-{os.getpid()}-", "-999999999-")
        dead.mkdir()
        other_host = tmp_path / "sam2matting-render-elsewhere-999999999-abc"
        other_host.mkdir()
        old = time.time() - 7200
        for folder in (mine, dead, other_host):
            os.utime(folder, (old, old))
        assert remove_stale_scratch(tmp_path) == [dead]
        assert mine.exists()
        assert other_host.exists()
    assert not mine.exists()


def test_shot_file_options_reach_the_engine(tmp_path, monkeypatch, capsys):
    """params.engine of the shot file -> open_shot's engine_params -> the engine's create."""
    seen = []
    create = ClosedFormEngine.create.__func__

    def spy(cls, name, config, device, options):
        seen.append(dict(options))
        return create(cls, name, config, device, options)

    monkeypatch.setattr(ClosedFormEngine, "create", classmethod(spy))
    plate = write_plate(tmp_path / "plate", 2)
    shot_file = make_shot_file(
        tmp_path / "sh010.sam2shot.json",
        2,
        {1: [FIRST]},
        engine="closed_form",
        params={"engine": {"max_width": 8}, "tracker": {"preset": "fast"}},
    )
    assert render(tmp_path, plate, shot_file, frames=f"{FIRST}-{FIRST + 1}") == 0
    assert seen == [{"max_width": 8}]
    # --engine naming another choice starts from that engine's defaults, not this one's options
    assert (
        render(
            tmp_path,
            plate,
            shot_file,
            "--engine",
            "auto",
            out="o2/m.####.exr",
            frames=f"{FIRST}-{FIRST + 1}",
        )
        == 0
    )
    assert seen == [{"max_width": 8}, {}]


def test_a_bad_option_in_the_shot_file_is_a_usage_error(tmp_path, capsys):
    plate = write_plate(tmp_path / "plate", 2)
    shot_file = make_shot_file(
        tmp_path / "sh010.sam2shot.json",
        2,
        {1: [FIRST]},
        engine="closed_form",
        params={"engine": {"max_width": 1000}},
    )
    assert render(tmp_path, plate, shot_file, frames=f"{FIRST}-{FIRST + 1}") == 2
    err = capsys.readouterr().err
    assert "engine_params.max_width" in err
    assert "4..128" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.exr"))
