"""Stereo, decided: a SAM2Matte node tracks the main view (the first in Project Settings >
Views). The plate it sends is that view's; a render through it of any other view fails with a
message instead of carrying the main view's matte (or black) into the other eye."""

from __future__ import annotations

from pathlib import Path

import nuke
import pytest
from nuke import _exr
from sam2matting_nuke import render_check, startup
from sam2matting_nuke.host import NukeNode

from . import plates
from .helpers import controller, new_node, read_image
from .render_helpers import FIRST, LAST, assert_never_silently_black, fill_cache, make_write
from .render_helpers import outcomes as render

RIGHT_RED = 0.625  # the right eye's plate is flat, so a plate from the wrong view shows


@pytest.fixture
def stereo(home, tmp_path):
    """A left/right script: the plate Read reads <view>/plate.####.exr; the node's cache holds
    every frame of the main (left) view."""
    startup.init()
    nuke._fake.set_views(["left", "right"])
    plates.write_plate(tmp_path / "left", FIRST, LAST)
    flat = {c: [RIGHT_RED] * (plates.WIDTH * plates.HEIGHT) for c in "RGB"}
    (tmp_path / "right").mkdir()
    for frame in range(FIRST, LAST + 1):
        (tmp_path / "right" / f"plate.{frame}.exr").write_bytes(
            _exr.encode(plates.WIDTH, plates.HEIGHT, flat, _exr.HALF)
        )
    node, read = new_node(tmp_path / "unused", FIRST, LAST)
    read["file"].setValue(str(tmp_path / "%V" / "plate.####.exr"))
    fill_cache(node, range(FIRST, LAST + 1))
    node["selected"].setValue(False)
    return node


def test_the_plate_sent_is_the_main_view(stereo, tmp_path):
    pattern = str(tmp_path / "sent" / "plate.####.exr")
    NukeNode(stereo).render("PlateCrop", [1001, 1002], pattern, "rgb")
    assert nuke._fake.session().executes[-1]["views"] == ["left"]
    sent = read_image(tmp_path / "sent" / "plate.1001.exr")
    assert RIGHT_RED not in set(sent.plane("rgba.red"))
    assert max(sent.plane("rgba.red")) == pytest.approx(0.9, abs=1e-3)  # the left plate's square
    # "Main" means the first of nuke.views(): unverified (any fixed choice would be consistent).
    assert "main_view_first" in nuke._fake.unverified_touched()


def test_a_write_of_every_view_fails_before_its_first_frame(stereo, tmp_path):
    write = make_write(stereo, tmp_path / "out")
    write["file"].setValue(str(tmp_path / "out" / "out.%V.####.exr"))
    with pytest.raises(render_check.ViewNotTrackedError) as err:
        nuke.execute(write, FIRST, LAST)
    assert "WriteMatte renders the views left, right through SAM2Matte1" in str(err.value)
    assert "Set WriteMatte's views to left" in str(err.value)
    assert not (tmp_path / "out").exists()
    assert "frame_callbacks_per_view" not in nuke._fake.unverified_touched()


def test_the_main_view_renders_its_true_mattes(stereo, tmp_path):
    write = make_write(stereo, tmp_path / "out")
    write["views"].setValue("left")
    got = render(write, range(FIRST, LAST + 1), tmp_path / "out")
    assert assert_never_silently_black(got, range(FIRST, LAST + 1)) == []


def test_another_view_through_the_node_fails_each_frame(stereo, tmp_path):
    write = make_write(stereo, tmp_path / "out")
    write["views"].setValue("left")
    with pytest.raises(render_check.ViewNotTrackedError) as err:
        nuke.execute(write, FIRST, FIRST, views=["right"])
    assert "computes view 'right' through it" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_a_chained_node_sends_the_main_view_of_the_first_ones_output(stereo, tmp_path):
    second = nuke.nodes.Dot()
    second.setInput(0, stereo)
    stereo["selected"].setValue(False)
    second["selected"].setValue(True)
    from sam2matting_nuke import callbacks

    chained = callbacks.create_node()
    assert chained is not None
    assert chained.input(0) is not None
    pattern = str(tmp_path / "sent" / "plate.####.exr")
    chained.render("PlateCrop", [1001], pattern, "rgb")  # renders through SAM2Matte1: checked
    assert (tmp_path / "sent" / "plate.1001.exr").is_file()


def test_the_farm_command_names_the_main_views_plate(stereo, tmp_path):
    cache = controller(stereo).state().cache_dir
    (Path(cache) / "matte" / "matte.1004.exr").unlink()
    write = make_write(stereo, tmp_path / "out")
    write["views"].setValue("left")
    got = render(write, [1004], tmp_path / "out")
    assert f"--plate {tmp_path}/left/plate.%04d.exr --frames 1004" in str(got[1004])
