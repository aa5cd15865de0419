"""End to end, the plate by file path: the real backend (`sam2matting serve`, flow tracker, CPU)
allowed to read the plate's folder gets a bare Read's own files (nothing rendered), and tracks
the same mattes as from the rendered plate; a plate outside its allowed roots is refused with
its typed error and rendered instead, the reason on the status line. Skipped where the backend
cannot be imported (the Nuke-side interpreters), never faked."""

from __future__ import annotations

import shutil

import nuke
import pytest
from sam2matting_nuke import callbacks, plate_files, startup

from . import plates
from .helpers import (
    add_point,
    controller,
    new_node,
    read_image,
    square_centre,
    through_a_node,
    wait,
)
from .real_backend import TRACK_TIMEOUT_S, serve, skip_without_backend

skip_without_backend()

pytestmark = pytest.mark.slow
FIRST, LAST, KEY = 1001, 1012, 1005


def another_node(read):
    """A SAM2Matte made from the menu with `read` selected (and nothing else)."""
    for node in nuke.selectedNodes():
        node["selected"].setValue(False)
    read["selected"].setValue(True)
    made = callbacks.create_node()
    assert made is not None
    return made.node


def prompt_and_track(node):
    nuke._fake.set_frame(KEY)
    add_point(node, "+", *square_centre(KEY))
    add_point(node, "-", 2.5, 2.5)
    nuke._fake.press(node, "track")  # commits the edit, sends plate and prompt, tracks
    wait(node, TRACK_TIMEOUT_S)
    status = node["status"].value()
    assert status.startswith(f"tracked {LAST - FIRST + 1} frames"), status
    return status


def alphas(node):
    cache = controller(node).state().cache_dir
    return {
        f: read_image(f"{cache}/matte/matte.{f}.exr").plane("rgba.alpha")
        for f in range(FIRST, LAST + 1)
    }


def plate_renders():
    return [e for e in nuke._fake.session().executes if "Write" in e["node"]]


def test_the_plate_by_its_files_against_the_real_backend(home, tmp_path):
    with serve(home, tmp_path, "--allowed-root", str(tmp_path / "plate")):
        startup.init()
        by_files, read = new_node(tmp_path, FIRST, LAST)
        status = prompt_and_track(by_files)
        assert status.endswith("; plate read from Plate's files, nothing rendered"), status
        assert plate_renders() == []
        digests = controller(by_files).state().plate_digests
        assert all(plate_files.is_file_identity(d) for d in digests.values())

        rendered = another_node(read)
        through_a_node(rendered, read)  # the same pixels, rendered through a node
        status = prompt_and_track(rendered)
        assert "plate" not in status.partition(";")[2], status
        assert plate_renders() != []

        shutil.copytree(str(tmp_path / "plate"), str(tmp_path / "outside"))
        copy = nuke.nodes.Read(file=str(tmp_path / "outside" / "plate.####.exr"))
        copy["first"].setValue(FIRST)
        copy["last"].setValue(LAST)
        refused = another_node(copy)
        status = prompt_and_track(refused)
        assert "; plate rendered: the backend cannot use Read1's files (" in status, status
        assert "outside the allowed roots" in status, status

    # The tracker saw the same pixels either way: the same mattes, frame for frame.
    want = alphas(by_files)
    assert alphas(rendered) == want
    assert alphas(refused) == want
    for frame in (KEY, LAST):  # and they are the square's
        assert square_iou(want[frame], frame) > 0.5


def square_iou(alpha, frame: int) -> float:
    sx, sy = plates.square_top_left(frame)
    inside = {(x, y) for x in range(sx, sx + plates.SQUARE) for y in range(sy, sy + plates.SQUARE)}
    rows = plates.HEIGHT
    matte = {
        (i % plates.WIDTH, rows - 1 - i // plates.WIDTH) for i, a in enumerate(alpha) if a > 0.5
    }
    return len(inside & matte) / max(1, len(inside | matte))
