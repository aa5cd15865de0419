"""Install runs in a temporary HOME: idempotency, uninstall, licence, hashes, Nuke modes."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

from sam2matting.backend.cli import exit_codes
from sam2matting.installer import cli, init_block, licence
from sam2matting.installer.nuke_plugin import MARKER
from sam2matting.protocol.connection import read_connection_file

from .conftest import FAKE_NUKES
from .helpers import run_install, tree_snapshot

USER_INIT = 'import nuke\nnuke.pluginAddPath("/studio/tools")  # my own line\n'
NO_ENV = ["--no-env"]


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a terminal: the licence prompt must never be shown (not even under `pytest -s`)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def _models(home: Path) -> Dict[str, bytes]:
    folder = home / ".sam2matting" / "models"
    return {p.name: p.read_bytes() for p in folder.glob("*.pt")} if folder.is_dir() else {}


@pytest.mark.slow  # pip vendors pyzmq for four Pythons (about 10 s on 2 cores)
def test_full_install_is_idempotent_and_uninstall_keeps_user_lines(
    home: Path, fake_nukes: Dict[str, Optional[Path]], offline_with_wheels: Path, source: Path
) -> None:
    init_py = home / ".nuke" / "init.py"
    init_py.parent.mkdir()
    init_py.write_text(USER_INIT)
    argv = [*NO_ENV, "--offline", str(offline_with_wheels), "--models", "tiny,small"]

    code, out = run_install(argv, source)
    assert code == exit_codes.OK, out
    s2m = home / ".sam2matting"
    assert sorted(_models(home)) == ["fake_small.pt", "fake_tiny.pt"]
    plugin = s2m / "nuke"
    assert (plugin / "init.py").read_text() == "# fake host plugin\n"
    assert (plugin / MARKER).is_file()
    for python in FAKE_NUKES.values():
        tag = f"py{python[0]}{python[1]}"
        assert (plugin / "vendor" / tag / "zmq" / "__init__.py").is_file(), tag
    assert list((plugin / "vendor" / "py37").glob("pyzmq-26.2.1.dist-info"))
    common = plugin / "vendor" / "common"
    assert (common / "sam2matting" / "protocol" / "connection.py").is_file()
    assert "Version: 0.1.0" in (common / "sam2matting-0.1.0.dist-info" / "METADATA").read_text()
    text = init_py.read_text()
    assert text.startswith(USER_INIT)
    assert init_block.plugin_path_in(text) == str(plugin)
    conn = s2m / "connection.json"
    assert stat.S_IMODE(conn.stat().st_mode) == 0o600
    assert read_connection_file(conn).port == 0
    assert json.loads((s2m / "config.json").read_text())["backend"] == {}
    state = json.loads((s2m / "install.json").read_text())
    assert state["plugin_dir"] == str(plugin)
    assert state["nuke_pythons"] == ["3.7", "3.9", "3.10", "3.11"]

    before = tree_snapshot(home)
    code, out = run_install(argv, source)
    assert code == exit_codes.OK, out
    assert tree_snapshot(home) == before  # nothing rewritten, not even a timestamp
    assert "vendoring" not in out
    assert "block already up to date" in out

    code, out = run_install(["--uninstall"], source)
    assert code == exit_codes.OK, out
    assert init_py.read_text() == USER_INIT
    assert not plugin.exists()
    assert not (s2m / "install.json").exists()
    assert sorted(_models(home)) == ["fake_small.pt", "fake_tiny.pt"]  # models stay unless asked
    assert conn.is_file()


def test_licence_not_accepted_means_no_heads(home: Path, offline: Path, source: Path) -> None:
    code, out = run_install([*NO_ENV, "--no-nuke", "--offline", str(offline)], source)
    assert code == exit_codes.OK, out
    assert sorted(_models(home)) == ["fake_tiny.pt"]
    assert "licence (CC BY-NC 4.0, non-commercial) was not accepted" in out
    assert licence.ACCEPT_FLAG in out
    assert licence.accepted_on(home / ".sam2matting") is None


def test_accepted_licence_installs_heads_and_is_remembered(
    home: Path, offline: Path, source: Path
) -> None:
    argv = [*NO_ENV, "--no-nuke", "--offline", str(offline)]
    code, out = run_install([*argv, licence.ACCEPT_FLAG], source)
    assert code == exit_codes.OK, out
    assert sorted(_models(home)) == ["fake_heads_tiny.pt", "fake_tiny.pt"]
    assert licence.accepted_on(home / ".sam2matting")
    heads = home / ".sam2matting" / "models" / "fake_heads_tiny.pt"
    digest = hashlib.sha256(heads.read_bytes()).hexdigest()
    assert (
        heads.parent / "fake_heads_tiny.pt.sha256"
    ).read_text() == f"{digest}  fake_heads_tiny.pt\n"
    code, out = run_install(argv, source)  # later runs keep them without asking again
    assert code == exit_codes.OK
    assert "sam2matting-tiny: " in out
    assert "verified" in out


@pytest.mark.parametrize(("answer", "accepted"), [("accept", True), ("yes", False), ("", False)])
def test_prompt_needs_the_word_accept(tmp_path: Path, answer: str, accepted: bool) -> None:
    shown = []
    result = licence.decide(
        False, tmp_path, interactive=True, read=lambda _: answer, show=shown.append
    )
    assert result is accepted
    assert "NonCommercial" in shown[0]
    assert bool(licence.accepted_on(tmp_path)) is accepted
    assert licence.decide(False, tmp_path / "other", interactive=False) is False


def test_hash_mismatch_is_refused_with_a_failing_exit_code(
    home: Path, offline: Path, source: Path
) -> None:
    data = bytearray((offline / "fake_small.pt").read_bytes())
    data[0] ^= 1
    (offline / "fake_small.pt").write_bytes(bytes(data))
    code, out = run_install(
        [*NO_ENV, "--no-nuke", "--offline", str(offline), "--models", "tiny,small"], source
    )
    assert code == exit_codes.FAILURE
    assert sorted(_models(home)) == ["fake_tiny.pt"]  # the good one is still installed
    assert not list((home / ".sam2matting" / "models").glob("*.part"))
    assert "sam2.1-small: refused" in out
    assert "finished with 1 problem" in out


def test_nuke_path_only_leaves_init_py_alone(home: Path, source: Path) -> None:
    code, out = run_install([*NO_ENV, "--no-models", "--nuke-path-only"], source)
    assert code == exit_codes.OK, out
    plugin = home / ".sam2matting" / "nuke"
    assert f'export NUKE_PATH="{plugin}${{NUKE_PATH:+:$NUKE_PATH}}"' in out
    assert f'env.NUKE_PATH.append(r"{plugin}")' in out
    assert not (home / ".nuke").exists()
    assert json.loads((home / ".sam2matting" / "install.json").read_text())["init_py"] is None
    assert (plugin / "vendor" / "common" / "sam2matting" / "protocol" / "__init__.py").is_file()


def test_link_mode_points_nuke_at_the_checkout(home: Path, source: Path) -> None:
    code, out = run_install([*NO_ENV, "--no-models", "--link"], source)
    assert code == exit_codes.OK, out
    text = (home / ".nuke" / "init.py").read_text()
    assert init_block.plugin_path_in(text) == str(source / "host_plugin")
    linked = source / "host_plugin" / "vendor" / "common" / "sam2matting" / "protocol"
    assert linked.is_symlink()
    assert linked.resolve() == (source / "protocol").resolve()
    assert not (home / ".sam2matting" / "nuke").exists()
    code, out = run_install(["--uninstall"], source)
    assert code == exit_codes.OK, out
    assert not (source / "host_plugin" / "vendor" / "common").exists()
    assert (source / "host_plugin" / "init.py").is_file()  # the checkout itself is never deleted
    assert (source / "protocol" / "__init__.py").is_file()
    assert init_block.plugin_path_in((home / ".nuke" / "init.py").read_text()) is None


def test_dry_run_changes_nothing(
    home: Path, fake_nukes: Dict[str, Optional[Path]], offline: Path, source: Path
) -> None:
    (home / ".nuke").mkdir()
    (home / ".nuke" / "init.py").write_text(USER_INIT)
    before = tree_snapshot(home)
    code, out = run_install(
        ["--dry-run", "--env", str(home / "venv"), "--offline", str(offline)], source
    )
    assert code == exit_codes.OK, out
    assert tree_snapshot(home) == before
    assert not (home / "venv").exists()
    assert "would run (creating" in out
    assert "would run (vendoring pyzmq for Python 3.7)" in out
    assert "would update the SAM2Matting block" in out


def test_foreign_plugin_folder_is_not_touched(home: Path, source: Path) -> None:
    mine = home / "my_nuke_stuff"
    mine.mkdir()
    (mine / "gizmo.gizmo").write_text("keep me")
    code, out = run_install([*NO_ENV, "--no-models", "--plugin-dir", str(mine)], source)
    assert code == exit_codes.FAILURE
    assert "not made by the installer" in out
    assert sorted(p.name for p in mine.iterdir()) == ["gizmo.gizmo"]
    assert not (home / ".nuke" / "init.py").exists()


def test_settings_files_keep_user_values(home: Path, source: Path) -> None:
    s2m = home / ".sam2matting"
    s2m.mkdir()
    (s2m / "config.json").write_text(json.dumps({"backend": {"device": "cpu"}, "note": "mine"}))
    conn = s2m / "connection.json"
    key = "0123456789abcdef" * 4  # keys must look random (protocol.connection.key_problem)
    conn.write_text(json.dumps({"key": key, "port": 5555}))
    conn.chmod(0o600)
    models = home / "elsewhere"
    code, out = run_install(
        [*NO_ENV, "--no-nuke", "--no-models", "--models-dir", str(models)], source
    )
    assert code == exit_codes.OK, out
    config = json.loads((s2m / "config.json").read_text())
    assert config["backend"] == {"device": "cpu", "models_dir": str(models)}
    assert config["note"] == "mine"
    assert read_connection_file(conn).key == key  # a running backend's key survives
    conn.chmod(0o644)  # readable by others: replaced with a fresh key
    code, out = run_install([*NO_ENV, "--no-nuke", "--no-models"], source)
    assert "rewritten with a new key" in out
    assert read_connection_file(conn).key != "ab" * 32
    (s2m / "config.json").write_text("{not json")
    code, out = run_install([*NO_ENV, "--no-nuke", "--no-models"], source)
    assert code == exit_codes.FAILURE
    assert (s2m / "config.json").read_text() == "{not json"


def test_uninstall_remove_models_and_purge(home: Path, offline: Path, source: Path) -> None:
    code, _ = run_install([*NO_ENV, "--offline", str(offline), licence.ACCEPT_FLAG], source)
    assert code == exit_codes.OK
    code, out = run_install(["--uninstall", "--purge"], source)
    assert code == exit_codes.OK, out
    assert not (home / ".sam2matting").exists()
    assert (home / ".nuke" / "init.py").read_text() == ""
    assert not list((home / ".nuke").glob("*" + init_block.BACKUP_SUFFIX))


@pytest.mark.parametrize(
    "argv",
    [
        ["--python", "/usr/bin/python3", "--no-env"],
        ["--models", "tiny,huge"],
        ["--remove-env"],
        ["--nuke-python", "2.7"],
        ["--link", "--plugin-dir", "/tmp/x"],
        ["--torch-index", "cuda12"],
    ],
)
def test_bad_command_lines_exit_with_usage(home: Path, argv: list) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == exit_codes.USAGE
