"""Nuke behaviours the fake models although no Foundry document states them.

Every such behaviour has an id here. When the fake acts on one it records the id in the session
(`nuke._fake.unverified_used()`), so a test can list what its outcome rests on and assert that a
safety property (a render never writes black silently) holds without any of them. Behaviours
the fake models from Foundry's documentation are not listed: docs/NUKE_PLUGIN.md ("Nuke
behaviours the plugin relies on") names the source of each.
"""

from __future__ import annotations

from typing import Dict, List

from ._core import SESSION

UNVERIFIED: Dict[str, str] = {
    "frame-callbacks-per-view": (
        "beforeFrameRender / afterFrameRender run once per view of each frame, with "
        "nuke.thisView() naming the view being rendered"
    ),
    "gui-render-dollar-gui": (
        "$gui evaluates to 1 while a render started inside the GUI session reads knobs (Foundry "
        "says 0 'at render time' without saying whether GUI-session renders count)"
    ),
    "main-view-first": "the first name of nuke.views() is the main (hero) view",
    "write-views-knob": (
        "Write['views'].value() holds the names of the views it renders, space-separated"
    ),
    "group-children-on-create": (
        "the children of a Group loaded from a script exist when the Group's onCreate runs"
    ),
}


def relies_on(fact: str) -> None:
    """The fake is acting on an unverified behaviour right now."""
    if fact not in UNVERIFIED:
        raise KeyError(f"unknown unverified fact {fact!r}: add it to UNVERIFIED with its text")
    SESSION.unverified_used.add(fact)


def used() -> List[str]:
    return sorted(SESSION.unverified_used)
