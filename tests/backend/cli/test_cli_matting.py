"""`matte-image` and `eval` end to end: real files written and read back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2matting.backend.cli import exit_codes
from sam2matting.backend.cli.main import main
from sam2matting.backend.imageio.exr import read_exr
from sam2matting.backend.matting import evaluation
from sam2matting.backend.matting.foreground import estimate_foreground
from tests.backend.matting.conftest import disc_scene


@pytest.fixture
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config file, no installed models: the CLI sees a bare machine."""
    monkeypatch.setenv("SAM2MATTING_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("SAM2MATTING_CONFIG", str(tmp_path / "none.json"))
    monkeypatch.setenv("SAM2MATTING_DEVICE", "cpu")
    monkeypatch.setenv("SAM2MATTING_ENGINE", "closed_form")


def _write_scene(folder: Path) -> tuple[Path, Path, np.ndarray]:
    rgb, alpha = disc_scene((72, 96), 24.0, blur=1.0)
    image, mask = folder / "image.png", folder / "mask.png"
    cv2.imwrite(str(image), (rgb[..., ::-1] * 255).round().astype(np.uint8))
    cv2.imwrite(str(mask), ((alpha > 0.5) * 255).astype(np.uint8))
    return image, mask, alpha


@pytest.mark.usefixtures("isolated_config")
def test_matte_image_writes_a_float_exr_of_the_image_size(tmp_path: Path) -> None:
    image, mask, alpha = _write_scene(tmp_path)
    out = tmp_path / "out" / "alpha.exr"
    assert (
        main(
            [
                "matte-image",
                str(image),
                "--mask",
                str(mask),
                "-o",
                str(out),
                "--engine",
                "closed_form",
            ]
        )
        == exit_codes.OK
    )
    exr = read_exr(out)
    assert (exr.width, exr.height) == (96, 72)
    assert set(exr.channels) == {"A"}
    assert exr.pixel_types["A"] == "float"
    a = exr.channels["A"]
    assert np.isfinite(a).all()
    assert a.min() >= 0.0
    assert a.max() <= 1.0
    binary = (alpha > 0.5).astype(np.float32)
    assert np.abs(a - alpha).sum() < 0.6 * np.abs(binary - alpha).sum()


@pytest.mark.usefixtures("isolated_config")
def test_matte_image_premultiplied_and_bad_masks(tmp_path: Path) -> None:
    image, mask, _ = _write_scene(tmp_path)
    out = tmp_path / "rgba.exr"
    assert (
        main(["matte-image", str(image), "--mask", str(mask), "-o", str(out), "--premultiplied"])
        == exit_codes.OK
    )
    exr = read_exr(out)
    assert set(exr.channels) == {"R", "G", "B", "A"}
    # premultiplied: no colour where alpha is 0, and colour never exceeds alpha
    a = exr.channels["A"]
    for c in "RGB":
        assert np.all(exr.channels[c] <= a + 1e-5)
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((10, 10), np.uint8))
    assert (
        main(["matte-image", str(image), "--mask", str(small), "-o", str(out)])
        == exit_codes.FAILURE
    )
    assert (
        main(
            [
                "matte-image",
                str(image),
                "--mask",
                str(mask),
                "-o",
                str(out),
                "--engine",
                "sam2matting-tiny",
            ]
        )
        == exit_codes.SETUP
    )


@pytest.mark.usefixtures("isolated_config")
def test_eval_on_two_images_writes_table_and_contact_sheet(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    code = main(
        [
            "eval",
            str(shared_data / "alphamatting_dev"),
            "--limit",
            "2",
            "--max-side",
            "200",
            "-o",
            str(out),
            "--engine",
            "closed_form",
        ]
    )
    assert code == exit_codes.OK
    printed = capsys.readouterr().out
    assert "GT01" in printed
    assert "GT02" in printed
    assert "engine / mask" in printed
    with (out / "results.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["image"] for r in rows] == ["GT01", "GT02"]
    summary = json.loads((out / "results.json").read_text())
    assert summary["ratio_engine_to_mask"]["sad"] < 1.0
    assert set(summary["mean_engine"]) == {"sad", "mse", "grad", "conn"}
    assert summary["mask_protocol"] == evaluation.MASK_PROTOCOL
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None
    assert sheet.shape[0] > 2 * 160
    assert sheet.shape[1] > 4 * 100


def test_eval_sequence_reports_dtssd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_config: None
) -> None:
    data = tmp_path / "clip"
    (data / "input").mkdir(parents=True)
    (data / "gt").mkdir()
    for i in range(3):
        rgb, alpha = disc_scene((48, 64), 14.0 + i, blur=1.0, seed=i)
        name = f"frame.{1001 + i:04d}.png"
        cv2.imwrite(str(data / "input" / name), (rgb[..., ::-1] * 255).astype(np.uint8))
        cv2.imwrite(str(data / "gt" / name), (alpha * 255).round().astype(np.uint8))
    out = tmp_path / "eval"
    assert main(["eval", str(data), "--sequence", "-o", str(out)]) == exit_codes.OK
    summary = json.loads((out / "results.json").read_text())
    ops = {r["mask_op"] for r in summary["images"]}
    assert len(ops) == 1  # one mask draw for the whole clip
    assert summary["dtssd"]["engine"] >= 0.0
    assert "dtSSD" in capsys.readouterr().out


def test_mask_simulation_is_the_documented_protocol() -> None:
    gt = np.zeros((40, 40), np.float32)
    gt[10:30, 10:30] = 1.0
    gt[10:30, 9] = 0.6
    seen = set()
    for name in ("a", "b", "c", "d", "e", "f", "g", "h"):
        mask, op = evaluation.simulate_mask(gt, evaluation.mask_rng(0, name))
        again, _ = evaluation.simulate_mask(gt, evaluation.mask_rng(0, name))
        assert np.array_equal(mask, again)
        kind, k = op.split()
        seen.add(kind)
        binary = (gt > 0.5).astype(np.uint8)
        kernel = np.ones((2 * int(k) + 1,) * 2, np.uint8)
        expected = cv2.dilate(binary, kernel) if kind == "dilate" else cv2.erode(binary, kernel)
        assert np.array_equal(mask, expected.astype(np.float32))
        assert int(k) in (1, 2, 3)
    assert seen == {"dilate", "erode"}


def test_find_items_pairs_by_name(tmp_path: Path) -> None:
    for sub in ("image", "alpha", "trimap"):
        (tmp_path / sub).mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / "image" / name), np.zeros((4, 4, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "alpha" / "b.png"), np.zeros((4, 4), np.uint8))
    items = evaluation.find_items(tmp_path)
    assert [i.name for i in items] == ["b"]
    with pytest.raises(FileNotFoundError):
        evaluation.find_items(tmp_path / "image")


def test_foreground_estimation_removes_the_background_fringe() -> None:
    rgb, alpha = disc_scene((80, 80), 24.0, blur=3.0)  # orange disc over blue, soft edge
    fg = estimate_foreground(rgb, alpha)
    assert fg.shape == rgb.shape
    assert np.isfinite(fg).all()
    soft = (alpha > 0.05) & (alpha < 0.95)
    orange = np.array([0.9, 0.6, 0.2], np.float32)
    raw_error = np.abs(rgb[soft] - orange).mean()
    assert np.abs(fg[soft] - orange).mean() < 0.25 * raw_error
    hard = (alpha <= 0.001) | (alpha >= 0.999)
    assert np.array_equal(fg[hard], rgb[hard])  # untouched where alpha is 0 or 1


@pytest.mark.usefixtures("isolated_config")
def test_eval_synthetic_set_with_exact_masks_reports_hard_object_measures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    code = main(
        [
            "eval",
            "--synthetic",
            "hard",
            "--per-kind",
            "1",
            "--mask",
            "exact",
            "--worst",
            "1",
            "-o",
            str(out),
            "--engine",
            "closed_form",
        ]
    )
    assert code == exit_codes.OK
    printed = capsys.readouterr().out
    assert "polygons-0" in printed
    assert "polygons_blur-0" in printed
    assert "worst SAD ratio" in printed
    assert "min J/J mask" in printed
    with (out / "results.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["mask_op"] for r in rows} == {"exact"}
    for r in rows:
        assert float(r["j_mask"]) == 1.0  # the exact mask is the truth at 0.5
        assert 0.9 < float(r["j"]) <= 1.0
        assert float(r["tile_artifacts"]) >= 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["mask_mode"] == "exact"
    assert summary["summary"]["min_j_ratio"] > 0.9
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None
    assert sheet.shape[0] < 2 * 160  # --worst 1: one row


@pytest.mark.usefixtures("isolated_config")
def test_eval_needs_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval"]) == exit_codes.FAILURE
    assert "FOLDER or --synthetic" in capsys.readouterr().err
    assert main(["eval", "--synthetic", "hard", "--mask", "shrink:2"]) == exit_codes.FAILURE
    assert "mask mode" in capsys.readouterr().err


def test_mask_modes() -> None:
    gt = np.zeros((40, 40), np.float32)
    gt[10:30, 10:30] = 1.0
    rng = evaluation.mask_rng(0, "x")
    exact, op = evaluation.make_mask(gt, "exact", rng)
    assert op == "exact"
    assert np.array_equal(exact, gt)
    grown, op = evaluation.make_mask(gt, "dilate:2", rng)
    assert op == "dilate 2"
    assert grown.sum() == 24 * 24
    shrunk, op = evaluation.make_mask(gt, "erode:1", rng)
    assert op == "erode 1"
    assert shrunk.sum() == 18 * 18
    tracker, op = evaluation.make_mask(gt, "tracker", evaluation.mask_rng(0, "x"))
    again, _ = evaluation.simulate_mask(gt, evaluation.mask_rng(0, "x"))
    assert np.array_equal(tracker, again)
    for bad in ("dilate", "dilate:0", "grow:2"):
        with pytest.raises(ValueError, match="mask mode"):
            evaluation.make_mask(gt, bad, rng)


def test_find_items_reads_a_davis_layout_one_mask_draw_per_clip(tmp_path: Path) -> None:
    for clip in ("bike", "car"):
        for sub, ext in (("JPEGImages", ".jpg"), ("Annotations", ".png")):
            folder = tmp_path / sub / "480p" / clip
            folder.mkdir(parents=True)
            for i in range(4):
                cv2.imwrite(str(folder / f"{i:05d}{ext}"), np.zeros((8, 8, 3), np.uint8))
    items = evaluation.find_items(tmp_path, every=2)
    assert [i.name for i in items] == ["bike/00000", "bike/00002", "car/00000", "car/00002"]
    assert {i.clip for i in items} == {"bike", "car"}
    assert items[0].alpha == tmp_path / "Annotations" / "480p" / "bike" / "00000.png"
