"""Connection files: owner-only, refused when others can read them, clear errors."""

from __future__ import annotations

import json
import os
import stat

import pytest

from sam2matting.protocol.connection import (
    ConnectionInfo,
    new_key,
    read_connection_file,
    write_connection_file,
)
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.version import PROTOCOL_VERSION


def test_written_owner_only_and_read_back(tmp_path):
    info = ConnectionInfo(new_key(), port=5555)
    path = write_connection_file(tmp_path / "sub" / "connection.json", info)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_connection_file(path) == info
    assert json.loads(path.read_text())["protocol_version"] == PROTOCOL_VERSION
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".connection-")]


@pytest.mark.skipif(os.name != "posix", reason="mode bits are POSIX")
def test_world_readable_file_is_refused_with_fix(tmp_path):
    path = write_connection_file(tmp_path / "c.json", ConnectionInfo(new_key()))
    path.chmod(0o644)
    with pytest.raises(ProtocolError) as err:
        read_connection_file(path)
    assert "chmod 600" in err.value.hint


def test_missing_file_says_how_to_start_the_backend(tmp_path):
    with pytest.raises(ProtocolError) as err:
        read_connection_file(tmp_path / "nope.json")
    assert err.value.code is ErrorCode.BACKEND_UNREACHABLE
    assert "sam2matting serve" in err.value.hint


@pytest.mark.parametrize(
    "data", [{"ip": "127.0.0.1"}, {"key": "short"}, {"key": "k" * 64, "signature_scheme": "md5"}]
)
def test_bad_contents_are_refused(tmp_path, data):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    with pytest.raises(ProtocolError):
        read_connection_file(path)


def test_default_bind_is_loopback():
    assert ConnectionInfo(new_key()).ip == "127.0.0.1"
    assert len(new_key()) == 64
