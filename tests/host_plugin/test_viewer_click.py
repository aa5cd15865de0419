"""Click to add: a Ctrl+click in the Viewer (a new colour sample) adds a point where it lands
while the node's panel is open with "Ctrl+click in the Viewer adds" set; Qt only in the GUI.

The Qt event filter itself cannot run here (no Qt, no Nuke): these tests drive what it calls,
`ClickAdder.on_sample`, and show that nothing imports Qt outside `install()`."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import nuke
import pytest
from sam2matting_nuke import startup, viewer_click
from sam2matting_nuke.host import NukeHost

from . import plates
from .conftest import REPO
from .helpers import controller, new_node, nuke_xy, wait
from .scripted_backend import ScriptedBackend

W, H = plates.WIDTH, plates.HEIGHT


def sample_at(x_top: float, y_top: float):
    """The colour_sample_bbox a Ctrl+click at a top-left plate position leaves (a point)."""
    x, y = nuke_xy(x_top, y_top)
    bx, by = (x - W / 2.0) / (W / 2.0), (y - H / 2.0) / (W / 2.0)
    return [bx, by, bx, by]


def test_the_sample_is_in_half_widths_from_the_format_centre():
    assert viewer_click.sample_to_pixel([0, 0, 0, 0], 2048, 1080) == (1024.0, 540.0)
    assert viewer_click.sample_to_pixel([-1, 0, -1, 0], 2048, 1080) == (0.0, 540.0)
    assert viewer_click.sample_to_pixel([1, 1080 / 2048, 1, 1080 / 2048], 2048, 1080) == (
        2048.0,
        1080.0,
    )
    assert viewer_click.sample_to_pixel([-0.5, -0.1, -0.3, 0.1], 100, 50) == (30.0, 25.0)


@pytest.fixture
def armed(home, tmp_path):
    with ScriptedBackend(tmp_path / "cache") as backend:
        node, _ = new_node(tmp_path, 1001, 1004)
        nuke._fake.set_frame(1002)
        nuke._fake.artist_sets(node, "click_adds", "+")  # opens the panel, arms it
        yield node, backend


def test_a_ctrl_click_adds_a_point_where_it_lands(armed):
    node, backend = armed
    adder = viewer_click.ClickAdder(NukeHost())
    nuke._fake.viewer_sample(sample_at(12.5, 20.5))
    assert adder.on_sample() == "pos1"
    assert node["use_pos1"].value()
    assert list(node["pos1"].value()) == nuke_xy(12.5, 20.5)
    assert node["status"].value() == "pos1 added where you clicked (12, 12)"
    assert adder.on_sample() is None  # the same sample again: no new click
    nuke._fake.artist_sets(node, "click_adds", "-")
    nuke._fake.viewer_sample(sample_at(40.5, 3.5))
    assert adder.on_sample() == "neg1"
    nuke._fake.press(node, "set_prompt")
    wait(node)
    (sent,) = backend.of_type("add_prompt_request")
    assert sent["content"]["points"] == [[12.5, 20.5], [40.5, 3.5]]  # placed, so both sent
    assert sent["content"]["labels"] == [1, 0]


def test_nothing_is_added_unless_armed_panel_open_and_inside(armed):
    node, backend = armed
    adder = viewer_click.ClickAdder(NukeHost())
    nuke._fake.artist_sets(node, "click_adds", "off")
    nuke._fake.viewer_sample(sample_at(5.5, 5.5))
    assert adder.on_sample() is None
    nuke._fake.artist_sets(node, "click_adds", "+")
    node.hideControlPanel()
    nuke._fake.viewer_sample(sample_at(6.5, 5.5))
    assert adder.on_sample() is None
    node.showControlPanel()
    nuke._fake.viewer_sample([3.0, 0.0, 3.0, 0.0])  # far right of the plate
    assert adder.on_sample() is None
    assert node["status"].value() == "error: (96, 16) is outside the plate: no point added"
    assert not node["use_pos1"].value()
    assert controller(node).state().draft(1) is None
    assert backend.of_type("add_prompt_request") == []


def test_no_viewer_no_point(armed):
    assert viewer_click.ClickAdder(NukeHost()).on_sample() is None


def test_qt_is_imported_by_install_only_and_its_absence_is_harmless():
    """The farm and `nuke -t` import the plugin without a GUI: no Qt there. In the GUI,
    menu() installs the filter, which without a Qt binding only logs."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(REPO / "host_plugin")!r}, {str(REPO / "tests" / "fake_nuke")!r}]
        sys.modules["PySide6"] = None  # as where no Qt binding can be imported
        sys.modules["PySide2"] = None
        from sam2matting_nuke import startup, viewer_click
        startup.init()
        qt = [m for m in sys.modules if m.startswith(("PySide", "shiboken")) and sys.modules[m]]
        assert not qt, qt
        startup.menu()
        assert viewer_click._installed == []
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_menu_installs_it_in_the_gui(monkeypatch):
    calls = []
    monkeypatch.setattr(viewer_click, "install", lambda host: calls.append(host) or False)
    startup.menu()
    assert len(calls) == 1
