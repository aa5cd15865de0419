"""What a failed render says: which node, which frame, where it looked, every missing frame of
the node's range, and how to make them (in Nuke, or the exact `sam2matting render` commands).

Plain text from plain values, standard library only: it runs on farm machines where neither the
backend nor the protocol package is installed.
"""

from __future__ import annotations

import shlex
from typing import List, NamedTuple, Optional, Sequence, Tuple

from . import frames

MAX_COMMANDS = 4  # more missing runs than this: one command over all of them


class MissingMattes(NamedTuple):
    """One SAM2Matte node's missing mattes, as the render check found them."""

    node: str  # the node's full name
    frame: Optional[int]  # the frame being rendered (None: the whole range was needed)
    looked_for: str  # the file Nuke would read for that frame (or the pattern)
    first: int
    last: int
    missing: Sequence[int]  # every frame of first..last without a matte, sorted
    plate: Optional[str]  # the plate sequence when input 1 is a Read, else None
    shot_file: str  # the shot file to render from (may not exist yet)
    shot_file_exists: bool
    output: str  # the matte sequence the cache Read reads


def missing_mattes(m: MissingMattes) -> str:
    runs = frames.runs(m.missing)
    where = f"frame {m.frame}" if m.frame is not None else f"frames {m.first}-{m.last}"
    why = "" if m.frame is not None else " (it is behind a node that changes time)"
    lines = [
        f"{m.node}: no matte for {where}{why}.",
        f"  Looked for: {m.looked_for}",
        f"  Missing in its range {m.first}-{m.last}: {frames.describe_ranges(runs)}.",
        f"  Make them: track them with {m.node} in Nuke (Track / Re-track), or on the farm:",
    ]
    lines += ["    " + c for c in farm_commands(m, runs)]
    if m.plate is None:
        lines.append(
            "  (input 1 is not a plain Read: write the plate to files first and give them "
            "as --plate.)"
        )
    if not m.shot_file_exists:
        lines.append(
            f"  (the shot file is not there yet: press 'Export shot file...' on {m.node} "
            f"and save it as {m.shot_file}.)"
        )
    return "\n".join(lines)


def farm_commands(m: MissingMattes, runs: Sequence[Tuple[int, int]]) -> List[str]:
    """`sam2matting render` for exactly the missing frames: one command per run of frames, or
    one over all of them when there are many (docs/CLI.md, render)."""
    if len(runs) > MAX_COMMANDS:
        runs = [(runs[0][0], runs[-1][1])]
    plate = m.plate or "<plate sequence of input 1>"
    return [
        " ".join(
            [
                "sam2matting render",
                "--plate",
                _quote(plate),
                "--frames",
                f"{a}-{b}" if a != b else str(a),
                "--shot",
                _quote(m.shot_file),
                "-o",
                _quote(m.output),
            ]
        )
        for a, b in runs
    ]


def wrong_view(node: str, view: str, main: str) -> str:
    return (
        f"{node}: its mattes are tracked on the main view '{main}' only, and this render "
        f"computes view '{view}' through it.\n"
        f"  Render the main view only (the Write's views: {main}), or give the other view its "
        "own SAM2Matte node fed by that view (a OneView node)."
    )


def writes_other_views(node: str, write: str, views: Sequence[str], main: str) -> str:
    return (
        f"{write} renders the views {', '.join(views)} through {node}, whose mattes are "
        f"tracked on the main view '{main}' only.\n"
        f"  Set {write}'s views to {main}, or give each other view its own SAM2Matte node "
        "(fed by a OneView node)."
    )


def viewer_view(node: str, view: str) -> str:
    return (
        f"{node}: its view is '{view}' (a Viewer aid), and this render runs in the Nuke GUI "
        "session. Renders get the result through $gui, which Foundry documents as 0 at render "
        "time but not for renders started from the GUI, so this render could write the "
        f"{view} instead of the matte.\n"
        f"  Set {node}'s view to result and render again (nuke -x and farm renders always get "
        "the result)."
    )


def damaged(node: str, why: str) -> str:
    return f"{node}: cannot check its mattes ({why}); rendering it would write black."


def _quote(text: str) -> str:
    return text if text.startswith("<") else shlex.quote(text)
