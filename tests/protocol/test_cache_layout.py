"""docs/CACHE_LAYOUT.md and the code agree: folder and file names, formats, channels, metadata,
the shot file's schema (as PROTOCOL.md and messages.py agree in test_spec.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sam2matting.protocol import cache_layout as layout
from sam2matting.protocol import frames
from sam2matting.protocol.shot_file import SETTINGS, SHOT_FILE, check_shot_file

DOC = (Path(__file__).resolve().parents[2] / "docs" / "CACHE_LAYOUT.md").read_text(encoding="utf-8")


def _tree() -> str:
    match = re.search(r"```\n(<cache_root>/<shot_id>/\n.*?)```", DOC, re.S)
    assert match is not None, "CACHE_LAYOUT.md lost its folder tree"
    return match.group(1)


def _json_blocks():
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC, re.S)]


def _entries():
    """Names in the tree, without the drawing and the descriptions."""
    names = set()
    for line in _tree().splitlines()[1:]:
        name = re.sub(r"^[\s│├└─]+", "", line).split("  ")[0].strip()
        if name:
            names.add(name)
    return names


def _as_doc(name: str) -> str:
    return name.replace("1001", "<frame>").replace("17", "<seq>")


def test_the_tree_names_what_the_code_writes():
    as_doc = _as_doc
    expected = {
        layout.JOURNAL_FILE,
        layout.PROMPTS_DIR + "/",
        as_doc(layout.mask_file(17)),
        layout.PLATE_DIR + "/",
        layout.PLATE_REFS_FILE,
        as_doc(layout.plate_file(1001, 4, "<ext>")),
        layout.MATTE_DIR + "/",
        as_doc(layout.matte_file(1001, 4)),
        layout.DAMAGED_DIR + "/",
        layout.DAMAGED_PLATE_PREFIX + "<time>/",
    }
    assert _entries() == expected


def test_padding_and_pattern_as_documented():
    assert f"max({frames.MIN_PADDING}, digits of the range's largest |frame|)" in DOC
    assert frames.frame_token(-5, 4) == "-005"
    assert "`-005`" in DOC
    assert layout.matte_pattern("<cache_root>/sh010", 1001, 1240) in DOC


def test_formats_versions_and_file_names_in_the_text():
    for name in (layout.JOURNAL_FORMAT, layout.SHOT_FILE_FORMAT, layout.PLATE_REFS_FORMAT):
        assert f'"format": "{name}"' in DOC
    assert f'"version": {layout.PLATE_REFS_VERSION}' in DOC
    assert f"`{layout.PLATE_REFS_FILE}`" in DOC


def test_channels_and_metadata_tables():
    channels = set(re.findall(r"^\| `([^`]+)` \| (?:the combined|one object)", DOC, re.M))
    assert channels == {layout.COMBINED_CHANNEL, layout.object_channel(0).replace("0", "<id>")}
    keys = set(re.findall(r"`(" + re.escape(layout.META_PREFIX) + r"\w+)`", DOC))
    assert keys == {layout.META_PREFIX + k for k in layout.META_KEYS}


def test_the_json_examples_follow_the_schemas():
    journal, shot_file = _json_blocks()
    assert (journal["format"], journal["version"]) == (layout.JOURNAL_FORMAT, layout.SCHEMA_VERSION)
    SETTINGS.check(journal["shot"], "shot.json.shot")  # the journal's settings are the shot's
    checked = check_shot_file(shot_file, "CACHE_LAYOUT.md")
    assert checked["shot"]["params"] == {
        "tracker": {"memory_window": 32},
        "engine": {"max_width": 24.0},
    }
    with pytest.raises(Exception, match="unknown field"):
        SHOT_FILE.check(dict(shot_file, shot=dict(shot_file["shot"], params={"erode": 2})), "x")
