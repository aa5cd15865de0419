"""The farm job with the SAM2Matting heads on a SAM2.1 tracker: the heads' coarse alpha is made
in Track (next to the tracker's features), stored, and finished in Matte; the mattes equal
`render`'s, although Track tracks each object in its own session and `render` both in one.

Real loading (an official-layout SAM2Matting checkpoint, verified by hash, strict load) with
random weights, SAM2.1 tiny at a 64 px input, on the CPU: plumbing and equality, not quality.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from sam2matting.backend import model_files
from sam2matting.backend.cli.main import main
from sam2matting.backend.imageio.exr import read_exr
from sam2matting.backend.tracking import sam2_model
from tests.backend.render.helpers import FIRST, make_shot_file, write_plate
from tests.backend.server.test_server_engines import HEADS, IMAGE_SIZE, heads_file  # noqa: F401
from tests.backend.tracking.conftest import sha256_of

N = 4
LAST = FIRST + N - 1


@pytest.fixture
def models(heads_file, monkeypatch):  # noqa: F811 - the imported fixture
    """The checkpoint's folder and tracker, registered with its true hash (as the server's
    engine tests do), the tracker built at the small test input."""
    bundle = model_files.SAM2MATTING_HEADS[HEADS]
    entry = replace(bundle, size=heads_file.stat().st_size, sha256=sha256_of(heads_file))
    monkeypatch.setitem(model_files.SAM2MATTING_HEADS, HEADS, entry)
    build = functools.partial(sam2_model.build_sam2_video_model, image_size=IMAGE_SIZE)
    monkeypatch.setattr(sam2_model, "build_sam2_video_model", build)
    return heads_file.parent, bundle.tracker


@pytest.mark.slow
def test_heads_coarse_alpha_goes_from_track_to_matte(tmp_path, models, capsys):
    folder, tracker = models
    plate = write_plate(tmp_path / "plate", N)
    shot = make_shot_file(
        tmp_path / "sh.json", N, {1: [FIRST], 2: [FIRST]}, tracker=tracker, engine=HEADS
    )
    common = ["--device", "cpu", "--models-dir", str(folder)]
    assert (
        main(
            [
                "render",
                "--plate",
                plate,
                "--frames",
                f"{FIRST}-{LAST}",
                "--shot",
                str(shot),
                "-o",
                str(tmp_path / "render" / "m.####.exr"),
                *common,
            ]
        )
        == 0
    )
    job = [
        "--shot",
        str(shot),
        "--plate",
        plate,
        "--frames",
        f"{FIRST}-{LAST}",
        "--priors",
        str(tmp_path / "priors"),
        *common,
    ]
    for obj in (1, 2):
        assert main(["farm", "track", *job, "--object", str(obj)]) == 0
    with np.load(tmp_path / "priors" / "obj1" / f"prior.{FIRST}.npz") as prior:
        assert prior["coarse"].shape == (IMAGE_SIZE // 2, IMAGE_SIZE // 2)  # the heads' alpha
    assert main(["farm", "matte", *job, "-o", str(tmp_path / "farm" / "m.####.exr")]) == 0
    assert f"engine {HEADS}): {N} written" in capsys.readouterr().out
    for frame in range(FIRST, LAST + 1):
        ref = read_exr(tmp_path / "render" / f"m.{frame}.exr").channels
        ours = read_exr(tmp_path / "farm" / f"m.{frame}.exr").channels
        assert sorted(ours) == sorted(ref) == ["A", "obj1.A", "obj2.A"]
        for name, values in ref.items():
            assert float(np.abs(ours[name] - values).max()) <= 1e-4, (frame, name)
