"""doctor: plain-words OK / MISSING / WRONG / NOTE lines, each problem with its fixing command."""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from sam2matting.backend.cli import exit_codes
from sam2matting.backend.cli import main as backend_cli
from sam2matting.installer import checks, checks_backend, doctor, gpu
from sam2matting.installer.checks import MISSING, NOTE, OK, WRONG, Check, DoctorContext
from sam2matting.installer.state import InstallState
from sam2matting.protocol.connection import ConnectionInfo, new_key, write_connection_file
from sam2matting.protocol.server import ServerEndpoint

from .conftest import FAKE_NUKES
from .helpers import run_install

INSTALL = "installer/install.py"


@pytest.fixture(autouse=True)
def not_in_a_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    """Doctor would take the venv it runs in as the backend env; tests choose it explicitly."""
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def _doctor(*argv: str) -> tuple:
    parser = argparse.ArgumentParser()
    doctor.add_arguments(parser)
    out = io.StringIO()
    code = doctor.run(parser.parse_args(list(argv)), stream=out)
    return code, out.getvalue()


def _by_name(report: dict) -> Dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def test_nothing_installed(home: Path) -> None:
    code, text = _doctor()
    assert code == exit_codes.SETUP
    lines = text.splitlines()
    assert any(line.split()[:2] == ["MISSING", "environment:"] for line in lines)
    assert any(line.split()[:3] == ["MISSING", "connection", "file:"] for line in lines)
    assert any(line.split()[:3] == ["MISSING", "SAM2.1", "tracker:"] for line in lines)
    assert any(line.split()[:3] == ["MISSING", "plugin", "path:"] for line in lines)
    fixes = [line.strip() for line in lines if line.strip().startswith("fix:")]
    assert all(INSTALL in f for f in fixes), fixes
    assert f"{INSTALL} --models tiny" in text
    assert "problem(s) to fix" in lines[-1]


def test_json_after_a_models_only_install(home: Path, offline: Path, source: Path) -> None:
    code, out = run_install(["--no-env", "--no-nuke", "--offline", str(offline)], source)
    assert code == exit_codes.OK, out
    code, text = _doctor("--json")
    report = json.loads(text)
    assert report["exit_code"] == code == exit_codes.SETUP  # still no backend environment
    checks_ = _by_name(report)
    assert checks_["sam2.1-tiny"]["status"] == OK
    assert checks_["sam2.1-small"]["status"] == NOTE
    assert checks_["sam2.1-small"]["fix"].endswith("--models small")
    assert checks_["SAM2Matting heads licence"]["status"] == NOTE
    assert checks_["connection file"]["status"] == OK
    assert checks_["environment"]["status"] == MISSING
    assert checks_["plugin path"]["status"] == NOTE  # installed with --no-nuke: not required
    assert not checks_["plugin path"]["required"]


def test_damaged_model_and_open_connection_file_are_wrong(
    home: Path, offline: Path, source: Path
) -> None:
    run_install(
        ["--no-env", "--no-nuke", "--offline", str(offline), "--models", "tiny,small"], source
    )
    model = home / ".sam2matting" / "models" / "fake_small.pt"
    model.write_bytes(model.read_bytes()[:-1] + b"?")
    conn = home / ".sam2matting" / "connection.json"
    conn.chmod(0o644)
    code, text = _doctor("--json")
    assert code == exit_codes.SETUP
    checks_ = _by_name(json.loads(text))
    assert checks_["sam2.1-small"]["status"] == WRONG
    assert "SHA-256" in checks_["sam2.1-small"]["detail"]
    assert checks_["sam2.1-small"]["fix"].endswith("--models small")
    assert checks_["connection file"]["status"] == WRONG
    assert checks_["connection file"]["fix"] == f"chmod 600 '{conn}'"


@pytest.mark.slow  # pip vendors pyzmq for four Pythons (about 10 s on 2 cores)
def test_doctor_after_a_full_install_is_all_ok(
    home: Path,
    fake_nukes: Dict[str, Optional[Path]],
    offline: Path,
    plugin_with_vendor: Path,
    source: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The plugin's needs really import in each Nuke's Python (3.7 to 3.11 interpreters)."""
    missing = [name for name, exe in fake_nukes.items() if exe is None]
    if missing:
        pytest.skip(f"no real interpreter for {', '.join(missing)} on this machine")
    code, out = run_install(["--no-env", "--offline", str(offline)], source)
    assert code == exit_codes.OK, out
    assert "vendoring" not in out  # already there: the session fixture vendored it
    code, text = _doctor("--python", sys.executable)
    assert code == exit_codes.OK, text
    for name, python in FAKE_NUKES.items():
        label = f"Nuke {name[4:]} (Python {python[0]}.{python[1]})"
        line = next(line for line in text.splitlines() if label in line)
        assert line.split()[0] == OK, line
        assert "plugin loads" in line
        assert (
            "imports pyzmq 26.2.1" in line if python == (3, 7) else "imports pyzmq 27.3.0" in line
        )
    assert "Everything required is installed." in text
    # The same code through the backend's command line (without the slow torch probe here).
    code, text = _doctor("--json", "--no-import-test")
    capsys.readouterr()
    assert backend_cli.main(["doctor", "--json", "--no-import-test"]) == code
    assert json.loads(capsys.readouterr().out) == json.loads(text)


@pytest.mark.slow  # pip vendors pyzmq for four Pythons (about 10 s on 2 cores)
def test_broken_vendor_folder_is_caught_by_the_import_test(
    home: Path, fake_nukes: Dict[str, Optional[Path]], plugin_with_vendor: Path, source: Path
) -> None:
    if fake_nukes["Nuke13.2v1"] is None:
        pytest.skip("no Python 3.7 interpreter on this machine")
    run_install(["--no-env", "--no-models"], source)
    # pyzmq's compiled module gone: the files look right, only importing shows the breakage.
    vendor = home / ".sam2matting" / "nuke" / "vendor" / "py37" / "zmq" / "backend" / "cython"
    for ext in vendor.glob("*.so"):
        ext.unlink()
    code, text = _doctor()
    assert code == exit_codes.SETUP
    line = next(line for line in text.splitlines() if "Nuke 13.2v1" in line)
    assert line.split()[0] == WRONG
    assert "cannot import" in line


def test_plugin_registered_through_nuke_path(
    home: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run_install(["--no-env", "--no-models", "--nuke-path-only"], source)
    assert code == exit_codes.OK, out
    _, text = _doctor("--json")
    found = _by_name(json.loads(text))["plugin path"]
    assert found["status"] == MISSING  # the studio has not added the line yet
    assert found["required"]
    plugin = home / ".sam2matting" / "nuke"
    monkeypatch.setenv("NUKE_PATH", f"/studio/tools:{plugin}")
    _, text = _doctor("--json")
    found = _by_name(json.loads(text))["plugin path"]
    assert found["status"] == OK
    assert found["detail"] == f"{plugin} (from NUKE_PATH)"


def _context(tmp_path: Path, probe: dict, nvidia: Optional[gpu.GpuInfo]) -> DoctorContext:
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\necho '{json.dumps(probe)}'\n")
    fake.chmod(0o755)
    return DoctorContext(checks.Platform.current(), InstallState(), tmp_path, fake, nvidia=nvidia)


def test_cpu_torch_on_a_gpu_machine_is_wrong(tmp_path: Path) -> None:
    probe = {
        "python": "3.11.7",
        "torch": "2.14.1+cpu",
        "torch_cuda": None,
        "cuda_available": False,
        "sam2": "1.1.0",
    }
    h100 = gpu.GpuInfo(("NVIDIA H100",), "550.54", (12, 4))
    found = {c.name: c for c in checks.environment(_context(tmp_path, probe, h100))}
    assert found["GPU"].status == OK
    assert found["torch"].status == WRONG
    assert "is a CPU build, but this machine has NVIDIA H100" in found["torch"].detail
    assert str(found["torch"].fix).endswith("--reinstall-torch")
    assert found["sam2matting"].status == MISSING
    no_gpu = {c.name: c for c in checks.environment(_context(tmp_path, probe, None))}
    assert no_gpu["torch"].status == OK
    assert no_gpu["GPU"].status == NOTE


def test_exit_codes() -> None:
    ok = Check("a", "x", OK, "fine")
    optional = Check("a", "y", NOTE, "maybe", required=False)
    down = Check("backend", "backend", NOTE, "not started", required=False)
    assert doctor.exit_code([ok, optional, down], require_backend=False) == exit_codes.OK
    assert doctor.exit_code([ok, down], require_backend=True) == exit_codes.BACKEND_UNREACHABLE
    assert doctor.exit_code([ok, Check("a", "z", WRONG, "bad")], False) == exit_codes.SETUP


# ---------------------------------------------------------------- backend reachability


@pytest.fixture
def backend(home: Path) -> Iterator[ConnectionInfo]:
    """A real protocol endpoint that answers ping_request, as the backend server does."""
    endpoint = ServerEndpoint(ConnectionInfo(key=new_key()))
    info = endpoint.bind()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            msg = endpoint.poll(0.05)
            if msg is not None and msg.msg_type == "ping_request":
                endpoint.send(
                    msg, "ping_reply", {"server_time": 1.0, "uptime_s": 12.0, "jobs_running": 0}
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield info
    finally:
        stop.set()
        thread.join(5)
        endpoint.close()


def test_backend_answers_a_signed_ping(home: Path, backend: ConnectionInfo) -> None:
    write_connection_file(home / ".sam2matting" / "connection.json", backend)
    code, text = _doctor("--json", "--require-backend", "--no-import-test")
    found = _by_name(json.loads(text))["backend"]
    assert found["status"] == OK, found
    assert "answers a signed ping" in found["detail"]
    assert "up 12 s" in found["detail"]
    assert code == exit_codes.SETUP  # the rest of the install is missing, which comes first


def test_backend_with_another_key_is_not_reachable(home: Path, backend: ConnectionInfo) -> None:
    wrong = ConnectionInfo(key=new_key(), port=backend.port)
    write_connection_file(home / ".sam2matting" / "connection.json", wrong)
    status, detail = checks_backend.ping(wrong, timeout_s=1.0)
    assert status == NOTE
    assert "no answer" in detail
    found: List[Check] = checks_backend.backend(
        DoctorContext(checks.Platform.current(), InstallState(), home, None)
    )
    assert found[0].status == NOTE
    assert found[0].fix == "sam2matting serve"
    assert doctor.exit_code(found, require_backend=True) == exit_codes.BACKEND_UNREACHABLE


def test_not_started_backend_is_a_note(home: Path) -> None:
    write_connection_file(home / ".sam2matting" / "connection.json", ConnectionInfo(key=new_key()))
    found = checks_backend.backend(
        DoctorContext(checks.Platform.current(), InstallState(), home, None)
    )
    assert found[0].status == NOTE
    assert "not started yet" in found[0].detail
    assert not found[0].required
