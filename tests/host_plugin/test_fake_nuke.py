"""The fake is only worth its tests if it behaves like Nuke where the plugin depends on it."""

from __future__ import annotations

import threading

import nuke
import pytest
from nuke import _exr

from . import plates


def test_array_knob_value_quirk_and_animation():
    knob = nuke.XY_Knob("p", "p")
    knob.setValue([3.0, 3.0])
    assert knob.value() == 3.0  # one float when all elements are equal, as in Nuke
    knob.setValue(5.0, 1)
    assert knob.value() == [3.0, 5.0]
    assert knob.value(1) == 5.0
    knob.setValueAt(10.0, 1001, 0)
    knob.setValueAt(20.0, 1011, 0)
    assert knob.getValueAt(1006, 0) == 15.0
    assert knob.getValueAt(1020, 0) == 20.0


def test_nuke_calls_off_the_main_thread_are_caught():
    node = nuke.nodes.NoOp()
    errors = []

    def worker():
        try:
            node["label"].setValue("x")
        except nuke.FakeThreadError as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    recorded = list(nuke._fake.violations())
    nuke._fake.session().violations.clear()  # expected here; the fixture checks the rest
    assert len(errors) == 1
    assert recorded == ["Node.__getitem__ called from thread " + thread.name]


def test_execute_in_main_thread_rules():
    with pytest.raises(nuke.FakeThreadError, match="hangs Nuke"):
        nuke.executeInMainThreadWithResult(lambda: 1)
    nuke._fake.session().violations.clear()
    result = []
    thread = threading.Thread(
        target=lambda: result.append(nuke.executeInMainThreadWithResult(lambda a: a * 2, (21,)))
    )
    thread.start()
    nuke._fake.pump(until=lambda: bool(result))
    thread.join()
    assert result == [42]
    nuke._fake.session().violations.clear()


def test_read_caches_until_reload_and_proxy_scales(tmp_path):
    pattern = plates.write_plate(tmp_path / "p", 1001, 1001)
    read = nuke.nodes.Read(file=pattern, first=1001, last=1001)
    before = read._render(1001)
    (tmp_path / "p" / "plate.1001.exr").write_bytes(
        _exr.encode(
            plates.WIDTH, plates.HEIGHT, {c: [1.0] * (plates.WIDTH * plates.HEIGHT) for c in "RGB"}
        )
    )
    assert read._render(1001).plane("rgba.red") == before.plane("rgba.red")  # stale, as Nuke
    read["reload"].execute()
    assert set(read._render(1001).plane("rgba.red")) == {1.0}
    nuke.root()["proxy"].setValue(True)
    assert (read._render(1001).width, read._render(1001).height) == (
        plates.WIDTH // 2,
        plates.HEIGHT // 2,
    )


def test_codec_matches_openexr_when_available():
    exr = pytest.importorskip(
        "sam2matting.backend.imageio.exr", reason="backend not installed here"
    )
    np = pytest.importorskip("numpy")
    blob = _exr.encode(
        5, 3, {"A": [i / 15 for i in range(15)], "obj1.A": [0.5] * 15}, _exr.FLOAT, _exr.ZIP
    )
    image = exr.read_exr(blob)
    channels = image.channels if hasattr(image, "channels") else image
    assert np.allclose(channels["A"], np.arange(15, dtype=np.float32).reshape(3, 5) / 15)
    ours = _exr.decode(exr.encode_exr({"A": np.ones((3, 5), np.float32)}, compression="zip"))
    assert ours.planes["A"] == [1.0] * 15


def test_unverified_behaviours_are_listed_and_recorded():
    from nuke import _facts

    assert all(len(fact.behaviour) > 30 and not fact.source for fact in _facts.UNVERIFIED.values())
    assert all(fact.source for fact in _facts.DOCUMENTED.values())
    assert nuke._fake.unverified_touched() == []
    with pytest.raises(KeyError, match="UNVERIFIED registry"):
        _facts.touch("something nobody wrote down")
    nuke._fake.set_views(["left", "right"])
    write = nuke.nodes.Write(file="/tmp/none.%V.####.exr")
    write["views"].setValue("left right")
    assert write.views_to_render() == ["left", "right"]
    assert nuke._fake.unverified_touched() == ["write_views_knob"]


def test_tcl_in_file_knobs_and_nuke_filename(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOW", str(tmp_path))
    nuke.scriptSaveAs(str(tmp_path / "comp.nk"))
    read = nuke.nodes.Read(
        file="[file dirname [value root.name]]/$env(SHOW)/[getenv SHOW]/a.####.exr"
    )
    nuke._fake.set_frame(1002)
    expanded = f"{tmp_path}/{tmp_path}/{tmp_path}/a"
    assert nuke.filename(read) == expanded + ".%04d.exr"  # %04d kept, as documented
    assert nuke.filename(read, nuke.REPLACE) == expanded + ".1002.exr"
    nuke.addFilenameFilter(lambda p: p.replace(str(tmp_path), "/mnt"))
    assert nuke.filename(read) == expanded + ".%04d.exr"  # filters are not applied here
    assert nuke.filenameFilter(nuke.filename(read)) == "/mnt//mnt//mnt/a.%04d.exr"
    read["file"].setValue("[no_such_command]/a.exr")
    with pytest.raises(ValueError, match="does not know the TCL command"):
        nuke.filename(read)


def test_gui_expression_is_1_in_the_gui_and_0_on_the_farm():
    read = nuke.nodes.Read()
    read["on_error"].setExpression("$gui")
    assert read["on_error"].value() == "black"  # item 1
    nuke._fake.reset(gui=False)
    read = nuke.nodes.Read()
    read["on_error"].setExpression("$gui")
    assert read["on_error"].value() == "error"  # item 0
    assert read["on_error"].hasExpression()


def test_gizmo_insides_come_from_its_definition_not_the_script(tmp_path):
    def build(_gizmo):
        nuke.nodes.Input(name="Input1")
        nuke.nodes.Output()

    nuke._fake.define_gizmo("Tool", build)
    tool = nuke.nodes.Tool()
    tool.node("Input1")["label"].setValue("edited inside")
    nuke.scriptSaveAs(str(tmp_path / "s.nk"))
    nuke._fake.reset()
    nuke._fake.define_gizmo("Tool", build)
    nuke.scriptOpen(str(tmp_path / "s.nk"))
    tool = nuke.toNode("Tool1")
    assert isinstance(tool, nuke.Gizmo)
    assert tool.node("Input1")["label"].value() == ""  # the edit inside is lost, as in Nuke


def test_execute_renders_every_view_unless_told(tmp_path):
    nuke._fake.set_views(["left", "right"])
    write = nuke.nodes.Write(file=str(tmp_path / "o.%V.####.exr"))
    write["file_type"].setValue("exr")
    nuke.execute(write, 1, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.left.0001.exr", "o.right.0001.exr"]
    assert nuke._fake.unverified_touched() == ["frame_callbacks_per_view"]
    write["file"].setValue(str(tmp_path / "one.####.exr"))
    with pytest.raises(nuke.FakeRenderError, match="several views into one file"):
        nuke.execute(write, 1, 1)
    nuke.execute(write, 1, 1, views=["left"])
    assert (tmp_path / "one.0001.exr").is_file()
