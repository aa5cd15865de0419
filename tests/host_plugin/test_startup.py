"""Install shape: tiny init.py / menu.py, vendor folders on sys.path, the protocol from a
checkout, and a clear message when pyzmq is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nuke
from sam2matting_nuke import bootstrap, startup

PLUGIN = Path(__file__).resolve().parent.parent.parent / "host_plugin"


def test_init_and_menu_are_one_call_each():
    for name, call in (("init.py", "startup.init()"), ("menu.py", "startup.menu()")):
        code = [
            line
            for line in (PLUGIN / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        assert code == ["import sam2matting_nuke.startup", "sam2matting_nuke." + call]


def test_init_py_registers_the_render_check_once_and_is_terminal_safe():
    nuke._fake.reset(gui=False)
    source = (PLUGIN / "init.py").read_text()
    for _ in range(2):  # Nuke may source init.py of a folder twice (plugin path listed twice)
        exec(compile(source, "init.py", "exec"), {})
    callbacks = nuke._fake.session().callbacks
    assert len(callbacks["beforeFrameRender"]) == 1
    assert len(callbacks["beforeRender"]) == 1
    assert len(callbacks["onScriptClose"]) == 1
    assert not any(name.startswith(("PySide", "PyQt")) for name in sys.modules)


def test_menu_py_adds_the_toolbar_entry():
    exec(compile((PLUGIN / "menu.py").read_text(), "menu.py", "exec"), {})
    entry = nuke.menu("Nodes").findItem(startup.MENU_PATH)
    assert entry is not None
    assert callable(entry["command"])


def test_vendor_folders_for_each_nuke_python(tmp_path):
    assert bootstrap.vendor_dirs(tmp_path, (3, 7)) == [
        tmp_path / "vendor" / "common",
        tmp_path / "vendor" / "py37",
    ]
    assert bootstrap.vendor_dirs(tmp_path, (3, 11))[1].name == "py311"
    (tmp_path / "vendor" / "common").mkdir(parents=True)
    (tmp_path / "vendor" / "py39").mkdir()
    saved = list(sys.path)
    try:
        added = bootstrap.add_to_path(bootstrap.vendor_dirs(tmp_path, (3, 9)))
        assert sys.path[:2] == [
            str(tmp_path / "vendor" / "common"),
            str(tmp_path / "vendor" / "py39"),
        ]
        assert len(added) == 2
        assert bootstrap.add_to_path(bootstrap.vendor_dirs(tmp_path, (3, 9))) == []
    finally:
        sys.path[:] = saved


def test_pyzmq_problem_names_the_installer_command():
    assert bootstrap.pyzmq_problem() is None  # installed here
    code = (
        "import sys; sys.modules['zmq'] = None; from sam2matting_nuke import bootstrap; "
        "print(bootstrap.pyzmq_problem((3, 7)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=str(PLUGIN), capture_output=True, text=True, check=True
    )
    assert "python3 installer/install.py --nuke-python 3.7" in out.stdout
    assert "rendering from the cache still works" in out.stdout


def test_protocol_from_a_source_checkout_without_site_packages():
    """Nuke without the vendored protocol, run from the checkout: init registers it from there."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(PLUGIN)!r})\n"
        "from sam2matting_nuke import bootstrap\n"
        f"problems = bootstrap.prepare({str(PLUGIN)!r})\n"
        "from sam2matting.protocol.errors import ErrorCode\n"
        "import sam2matting.protocol.connection as c\n"
        "out = {'problems': problems, 'code': ErrorCode.BUSY.value, 'file': c.__file__}\n"
        "print(json.dumps(out))\n"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True
    )
    result = json.loads(run.stdout)
    assert result["code"] == "busy"
    assert result["file"] == str(PLUGIN.parent / "protocol" / "connection.py")
    assert len(result["problems"]) == 1
    assert "pyzmq is not installed" in result["problems"][0]
