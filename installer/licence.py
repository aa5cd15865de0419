"""The SAM2Matting heads' non-commercial licence: asked, never assumed, and remembered when given.

Acceptance comes from `--accept-sam2matting-licence` or from typing "accept" at the prompt (only
on a terminal). It is recorded with its date in ~/.sam2matting/licences.json so that later runs
keep the heads up to date without asking again; `--uninstall --remove-models` forgets it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Optional

from sam2matting.protocol.checksums import read_json, write_json_atomic

HEADS_LICENCE = "CC-BY-NC-4.0"
LICENCE_FILE = "licences.json"
LICENCE_URL = "https://creativecommons.org/licenses/by-nc/4.0/"
ACCEPT_FLAG = "--accept-sam2matting-licence"

NOTICE = f"""\
The official SAM2Matting matting heads (FudanCVL/SAM2Matting) are licensed under
Creative Commons Attribution-NonCommercial 4.0 ({LICENCE_URL}):
you may NOT use them, or mattes made with them, for commercial work.
The SAM2.1 trackers (Apache-2.0) and this plugin's own engines are not affected."""


def accepted_on(home: Path) -> Optional[str]:
    """The date the user accepted the heads' licence, or None."""
    entry = read_json(home / LICENCE_FILE).get(HEADS_LICENCE)
    return str(entry.get("accepted")) if isinstance(entry, dict) else None


def record(home: Path, how: str) -> None:
    data = read_json(home / LICENCE_FILE)
    data[HEADS_LICENCE] = {"accepted": time.strftime("%Y-%m-%d %H:%M:%S %z"), "how": how}
    write_json_atomic(home / LICENCE_FILE, data)


def forget(home: Path) -> None:
    data = read_json(home / LICENCE_FILE)
    if data.pop(HEADS_LICENCE, None) is not None:
        write_json_atomic(home / LICENCE_FILE, data)


def ask(read: Callable[[str], str] = input, show: Callable[[str], None] = print) -> bool:
    """Show the notice and read an explicit "accept"; anything else (or end of input) declines."""
    show(NOTICE)
    try:
        answer = read("Type 'accept' to install the SAM2Matting heads, or press Enter to skip: ")
    except EOFError:
        return False
    return answer.strip().lower() == "accept"


def decide(
    flag: bool,
    home: Path,
    interactive: Optional[bool] = None,
    read: Callable[[str], str] = input,
    show: Callable[[str], None] = print,
) -> bool:
    """Whether the heads may be installed; records a new acceptance. Never assumed."""
    if accepted_on(home):
        return True
    if flag:
        record(home, ACCEPT_FLAG)
        return True
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if interactive and ask(read, show):
        record(home, "typed 'accept' at the installer prompt")
        return True
    return False
