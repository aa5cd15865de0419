"""The one atomic-write helper: contents, permissions, no temp file left behind."""

from __future__ import annotations

import json
import os
import stat

import pytest

from sam2matting.protocol import atomic


def test_json_text_and_bytes(tmp_path):
    atomic.atomic_write_json(tmp_path / "a.json", {"b": 1, "a": [2]}, indent=1, sort_keys=True)
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == '{\n "a": [\n  2\n ],\n "b": 1\n}\n'
    atomic.atomic_write_text(tmp_path / "t.txt", "héllo\n")
    assert (tmp_path / "t.txt").read_bytes() == "héllo\n".encode()
    atomic.atomic_write_bytes(tmp_path / "t.txt", b"replaced")
    assert (tmp_path / "t.txt").read_bytes() == b"replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "t.txt"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"a": [2], "b": 1}


@pytest.mark.skipif(os.name != "posix", reason="mode bits are POSIX")
@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_mode_is_exact_whatever_the_umask(tmp_path, mode):
    old = os.umask(0o077)
    try:
        atomic.atomic_write_bytes(tmp_path / "f", b"x", mode=mode)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == mode


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "f.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        atomic.atomic_write_json(target, {"not json": object()})
    assert target.read_text() == "old"
    with pytest.raises(TypeError):
        atomic.atomic_write_bytes(target, "text is not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
