"""The marked block in ~/.nuke/init.py: one copy, replaced in place, removed exactly."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sam2matting.installer import init_block

USER_TEXT = 'import nuke\nnuke.pluginAddPath("/studio/tools")\n\n# my comment\n'
BLOCK = init_block.render(PurePosixPath("/home/ada/.sam2matting/nuke"), "0.1.0")


def test_block_is_appended_once_and_replaced_in_place() -> None:
    once = init_block.apply(USER_TEXT, BLOCK)
    assert once.startswith(USER_TEXT)
    assert once.count(init_block.START) == 1
    assert init_block.apply(once, BLOCK) == once  # idempotent
    newer = init_block.render(PurePosixPath("/opt/s2m/nuke"), "0.2.0")
    updated = init_block.apply(once + "print('after')\n", newer)
    assert updated.count(init_block.START) == 1
    assert "/opt/s2m/nuke" in updated
    assert "/home/ada/.sam2matting/nuke" not in updated
    assert updated.startswith(USER_TEXT)
    assert updated.endswith("print('after')\n")  # user lines after the block stay after it


def test_remove_restores_the_user_text() -> None:
    assert init_block.remove(init_block.apply(USER_TEXT, BLOCK)) == USER_TEXT
    assert init_block.remove(USER_TEXT) == USER_TEXT
    assert init_block.remove(init_block.apply("", BLOCK)) == ""


def test_duplicate_blocks_collapse_to_one() -> None:
    doubled = USER_TEXT + "\n".join(BLOCK) + "\nx = 1\n" + "\n".join(BLOCK) + "\n"
    fixed = init_block.apply(doubled, BLOCK)
    assert fixed.count(init_block.START) == 1
    assert "x = 1" in fixed
    assert init_block.remove(doubled) == USER_TEXT + "x = 1\n"


def test_windows_line_endings_survive() -> None:
    crlf = USER_TEXT.replace("\n", "\r\n")
    text = init_block.apply(crlf, BLOCK)
    assert "\n" not in text.replace("\r\n", "")
    assert init_block.remove(text) == crlf


@pytest.mark.parametrize(
    "broken", [init_block.START + "\nx = 1\n", "x = 1\n" + init_block.END + "\n"]
)
def test_half_a_block_is_refused(broken: str) -> None:
    with pytest.raises(init_block.BlockError):
        init_block.apply(broken, BLOCK)
    with pytest.raises(init_block.BlockError):
        init_block.remove(broken)
    assert init_block.plugin_path_in(broken) is None


user_lines = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Zl", "Zp", "Cc")), max_size=40).filter(
        lambda line: "sam2matting" not in line
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(lines=user_lines)
def test_any_user_file_round_trips(lines: list) -> None:
    text = "".join(line + "\n" for line in lines)
    installed = init_block.apply(text, BLOCK)
    assert init_block.apply(installed, BLOCK) == installed
    assert init_block.remove(installed) == text
    assert init_block.plugin_path_in(installed) == "/home/ada/.sam2matting/nuke"


def test_write_if_changed_keeps_mode_and_a_backup(tmp_path: Path) -> None:
    path = tmp_path / ".nuke" / "init.py"
    assert init_block.write_if_changed(path, USER_TEXT)
    path.chmod(0o640)
    mtime = path.stat().st_mtime_ns
    assert not init_block.write_if_changed(path, USER_TEXT)
    assert path.stat().st_mtime_ns == mtime
    new = init_block.apply(USER_TEXT, BLOCK)
    assert init_block.write_if_changed(path, new)
    assert init_block.read_text(path) == new
    assert (path.parent / ("init.py" + init_block.BACKUP_SUFFIX)).read_text() == USER_TEXT
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".init-")] == []
