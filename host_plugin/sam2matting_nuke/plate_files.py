"""The plate by file path: when input 1 is a bare Read, the backend reads the Read's own files.

Rendering the plate through a temporary Write (`nuke.execute`) shows Nuke's modal progress
meter in the GUI (Python dev guide, `nuke.execute`). When input 1 is a Read reached through Dots
only, the Read's files are the plate, and a backend that shares this machine's filesystem can
read them itself: nothing is rendered. `resolve` (main thread) decides whether that holds, and
says why not otherwise; the node then renders as before and shows the reason.

The files are the ones Nuke reads: `nuke.filename(read)` (TCL expanded, %04d kept) with each
frame put in and the studio's filename filters applied, checked against
`nuke.filename(read, nuke.REPLACE)` at the current frame. What the backend is told about the
pixels: with `raw` on, the node's **plate colourspace** (the rendered plate would carry the same
values under the same name); otherwise the Read's own colourspace, which the backend converts or
refuses (a typed error: the node renders then).

Provenance for plate frames sent by path is the file itself: `identity` is a digest of the path,
its size and modification time, and the colourspace it was sent as (`file:` prefix, so it is
never compared with a pixel digest of a rendered frame). Standard library only; no `nuke`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Dict, NamedTuple, Optional, Sequence, Union

if TYPE_CHECKING:
    from .coords import Format
    from .host import NukeHost, NukeNode

FILE_IDENTITY = "file:"
IDENTITY_HEX = 16
# What the backend decodes from a path (backend/imageio/decode.py: EXR, PNG, JPEG, TIFF).
EXTENSIONS = (".exr", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
# TCL in the file name that may name another file on another frame than %04d does.
_FRAME_TCL = re.compile(r"\bframe\b|\$t\b|\[t\]")
_DEFAULT_NAME = re.compile(r"^default \((.+)\)$")
NOT_A_READ = "input 1 is not a Read (through Dots only)"


class PlateFiles(NamedTuple):
    """The Read's files for the frames asked, and what the backend is told they hold."""

    read: str  # the Read's full name (for the status line)
    colourspace: str
    paths: Dict[int, str]


def bare_read(node: NukeNode) -> Optional[NukeNode]:
    """Input 1 when it is a Read, through Dots; None otherwise (anything else is an operation)."""
    source = node.input(0)
    while source is not None and source.class_name() == "Dot":
        source = source.input(0)
    if source is None or source.class_name() != "Read":
        return None
    return source


def resolve(
    node: NukeNode,
    host: NukeHost,
    frames_: Sequence[int],
    fmt: Format,
    plate_colourspace: str,
) -> Union[PlateFiles, str]:
    """The Read's files for `frames_`, or why the plate must be rendered. Main thread."""
    read = bare_read(node)
    if read is None:
        return NOT_A_READ
    why = _unusable(read, host, fmt, frames_)
    if why:
        return f"{read.name()} {why}"
    paths, agrees = read.frame_files(frames_)
    if not agrees:
        return f"{read.name()}'s file name does not follow its frame number alone"
    odd = sorted(p for p in paths.values() if not p.lower().endswith(EXTENSIONS))
    if odd:
        return f"the backend decodes EXR, PNG, JPEG or TIFF files, not {PurePath(odd[0]).name}"
    colourspace = plate_colourspace if read.get_bool("raw") else read_colourspace(read)
    if not colourspace:
        return f"{read.name()}'s colourspace {_text(read, 'colorspace')!r} names no colourspace"
    return PlateFiles(read.full_name(), colourspace, paths)


def _unusable(read: NukeNode, host: NukeHost, fmt: Format, frames_: Sequence[int]) -> str:
    """Why this Read's files are not the plate the node would render ('' when they are)."""
    first, last = read.get_int("first"), read.get_int("last")
    outside = [f for f in frames_ if not first <= f <= last]
    unpremultiplies = read.has("premultiplied") and read.get_bool("premultiplied")
    checks = (
        (read.is_disabled(), "is disabled"),
        (len(host.views()) > 1, "is in a stereo script (the plate is rendered for the main view)"),
        (fmt.box != (0, 0, fmt.width, fmt.height), "has a format with an offset image area"),
        (bool(outside), f"reads frames {first}-{last} only: {outside[:1]} is outside"),
        (bool(_text(read, "frame").strip()), "remaps frames (its frame knob is set)"),
        (bool(_FRAME_TCL.search(_text(read, "file"))), "names its file by the frame in TCL"),
        (unpremultiplies and not read.get_bool("raw"), "unpremultiplies to convert colour"),
    )
    return next((why for bad, why in checks if bad), "")


def _text(node: NukeNode, knob: str) -> str:
    """A knob's value as text; '' when the node has no such knob."""
    return str(node.get(knob)) if node.has(knob) else ""


def read_colourspace(read: NukeNode) -> str:
    """The colourspace the Read converts from, as a name the backend may know: 'default (X)'
    is X; '' when there is none to read."""
    text = _text(read, "colorspace").strip()
    match = _DEFAULT_NAME.match(text)
    if match:
        return match.group(1).strip()
    return "" if text.lower() == "default" else text


# ---------------------------------------------------------------- worker side (no Nuke)


def identity(path: str, colourspace: str) -> Optional[str]:
    """A plate frame sent by path, identified by its file: path, size, modification time and
    the colourspace it was sent as. None when the file is not there."""
    try:
        info = Path(path).stat()
    except OSError:
        return None
    text = "\0".join((path, str(info.st_size), str(info.st_mtime_ns), colourspace))
    # 64 bits tell a change apart; kept short because every frame sent by path keeps one
    # in the node's state (saved with the script)
    return FILE_IDENTITY + hashlib.sha256(text.encode("utf-8")).hexdigest()[:IDENTITY_HEX]


def is_file_identity(digest: str) -> bool:
    return digest.startswith(FILE_IDENTITY)


def same_identity(now: Optional[str], sent: str) -> bool:
    """Whether a plate frame is what was sent. Scripts saved before identities were cut to
    IDENTITY_HEX digits hold the whole digest, of which today's is the start."""
    if now is None:
        return False
    if is_file_identity(now) and is_file_identity(sent):
        return sent.startswith(now)
    return now == sent


def identities(files: PlateFiles) -> Dict[int, Optional[str]]:
    return {f: identity(p, files.colourspace) for f, p in files.paths.items()}
