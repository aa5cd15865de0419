"""The one marked block the installer owns in ~/.nuke/init.py, and the studio alternative.

The block adds the plugin folder to Nuke's plugin path. Installing again replaces the block in
place (never a second copy); uninstalling removes exactly its lines. Everything outside the
markers is the user's and is written back byte for byte, line endings included.
"""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path, PurePath
from typing import List, Optional, Tuple

from sam2matting.protocol.atomic import atomic_write_bytes

from .platforms import Platform
from .project import install_command

START = "# >>> sam2matting >>>"
END = "# <<< sam2matting <<<"
BACKUP_SUFFIX = ".sam2matting-backup"


class BlockError(ValueError):
    """init.py has a start marker without its end marker (or the reverse): edit it by hand."""


def python_string(path: PurePath) -> str:
    """A Python literal for a path: r"..." when that is exact, repr() otherwise."""
    text = str(path)
    if '"' not in text and "\n" not in text and not text.endswith("\\"):
        return f'r"{text}"'
    return repr(text)


def render(plugin_dir: PurePath, version: str) -> List[str]:
    """The block's lines (without line endings)."""
    return [
        START,
        f"# Added by the SAM2Matting installer {version}. Remove it with:",
        f"#   {install_command('--uninstall')}",
        "# The installer rewrites everything between these markers; keep your lines outside.",
        "import nuke",
        f"nuke.pluginAddPath({python_string(plugin_dir)})",
        END,
    ]


def find(lines: List[str]) -> Optional[Tuple[int, int]]:
    """(first, last) line index of the first block, or None; BlockError when half a block."""
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not starts and not ends:
        return None
    if not starts or not ends or ends[0] < starts[0]:
        raise BlockError("found one SAM2Matting marker without the other")
    return starts[0], next(e for e in ends if e > starts[0])


def _split(text: str) -> Tuple[List[str], str]:
    newline = "\r\n" if "\r\n" in text else "\n"
    return text.splitlines(), newline


def remove(text: str) -> str:
    """The text without any SAM2Matting block (all of them, should there be several)."""
    lines, newline = _split(text)
    span = find(lines)
    while span is not None:
        del lines[span[0] : span[1] + 1]
        span = find(lines)
    return newline.join(lines) + newline if lines else ""


def apply(text: str, block: List[str]) -> str:
    """The text with `block` in place of the existing block, or appended when there is none."""
    lines, newline = _split(text)
    span = find(lines)
    if span is None:
        lines += block
    else:
        lines[span[0] : span[1] + 1] = block
        rest = remove(newline.join(lines[span[0] + len(block) :]))  # drop duplicate blocks
        lines = lines[: span[0] + len(block)] + _split(rest)[0]
    return newline.join(lines) + newline


def plugin_path_in(text: str) -> Optional[str]:
    """The folder the block adds (None without a block), for doctor and uninstall."""
    lines = text.splitlines()
    try:
        span = find(lines)
    except BlockError:
        return None
    if span is None:
        return None
    for line in lines[span[0] : span[1] + 1]:
        match = re.search(r"pluginAddPath\((r?)(['\"])(.*)\2\)", line)
        if match:
            return match.group(3) if match.group(1) else _unescape(match.group(3))
    return None


def _unescape(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` atomically, keeping a backup of the previous file; False when unchanged."""
    old = path.read_bytes() if path.exists() else None
    new = text.encode("utf-8")
    if old == new:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = None
    if old is not None:
        shutil.copy2(path, path.with_name(path.name + BACKUP_SUFFIX))
        mode = stat.S_IMODE(path.stat().st_mode)  # the user's file keeps its permissions
    atomic_write_bytes(path, new, mode)
    return True


def read_text(path: Path) -> str:
    # newline="" keeps \r\n as it is: the user's line endings survive the round trip.
    if not path.exists():
        return ""
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def nuke_path_lines(plugin_dir: PurePath, platform: Platform) -> List[str]:
    """What a studio adds to its launcher or rez package instead of editing ~/.nuke/init.py."""
    if platform.is_windows:
        shell = [
            "rem Windows (cmd): for this session, then for new sessions",
            f'set "NUKE_PATH={plugin_dir};%NUKE_PATH%"',
            f'setx NUKE_PATH "{plugin_dir};%NUKE_PATH%"',
        ]
    else:
        shell = [
            "# sh/bash/zsh: in the launcher or ~/.profile",
            f'export NUKE_PATH="{plugin_dir}${{NUKE_PATH:+:$NUKE_PATH}}"',
        ]
    return [
        *shell,
        "# rez: in the package's commands()",
        f"env.NUKE_PATH.append({python_string(plugin_dir)})",
    ]
