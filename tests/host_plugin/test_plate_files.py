"""The plate by file path: a bare Read's own files go to a backend that shares the filesystem,
nothing rendered (no nuke.execute, so no modal progress); anything else is rendered as before,
with the reason on the status line; plates sent by path are identified by their files."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import nuke
import pytest
from sam2matting_nuke import callbacks, plate_files, startup

from .helpers import (
    TRACK_TOUCHES,
    controller,
    new_node,
    place_point,
    prompt_on,
    through_a_node,
    wait,
)
from .scripted_backend import ScriptedBackend

FIRST, LAST = 1001, 1004


@pytest.fixture
def sharing(home, tmp_path):
    """A backend on this machine that may read the plate's folder."""
    with ScriptedBackend(
        tmp_path / "cache", shares_filesystem=True, allow_paths=True, path_roots=[tmp_path]
    ) as running:
        yield running


def through_a_dot(node, read):
    dot = nuke.nodes.Dot()
    dot.setInput(0, read)
    node.setInput(0, dot)


def track(node):
    nuke._fake.press(node, "track")
    wait(node)


def put_entries(backend):
    return [e for r in backend.of_type("put_frames_request") for e in r["content"]["frames"]]


def plate_renders():
    return [e for e in nuke._fake.session().executes if "Write" in e["node"]]


def test_a_bare_read_goes_by_its_own_files_and_nothing_is_rendered(sharing, tmp_path):
    node, read = new_node(tmp_path, FIRST, LAST)
    through_a_dot(node, read)
    prompt_on(node, FIRST)
    track(node)
    assert plate_renders() == []  # no nuke.execute: no modal progress meter
    entries = put_entries(sharing)
    assert [(e["frame"], e["path"], e["colourspace"]) for e in entries] == [
        (f, str(tmp_path / "plate" / f"plate.{f}.exr"), "linear") for f in range(FIRST, LAST + 1)
    ]
    assert all(e["image"] is None for e in entries)
    status = node["status"].value()
    assert status.startswith("tracked 4 frames"), status
    assert status.endswith("; plate read from Plate's files, nothing rendered")
    bar = nuke._fake.session().progress_tasks[-1]
    assert "Sending plate frames by path: 3 of 3" in bar.messages
    state = controller(node).state()
    assert plate_files.is_file_identity(state.plate_digests[str(FIRST)])
    assert not (Path(state.cache_dir) / "nuke_plates").exists()
    assert (tmp_path / "plate" / "plate.1004.exr").is_file()  # the studio's files: never deleted
    # Beyond making and tracking a node: what value() says for a default colourspace, and
    # the Dot put in with the panel open (knobChanged's 'inputChange', a hint only).
    assert sorted(nuke._fake.unverified_touched()) == sorted(
        {*TRACK_TOUCHES, "read_colorspace_default_text", "input_change_knob"}
    )


def test_a_raw_read_is_named_by_the_plate_colourspace(sharing, tmp_path):
    node, read = new_node(tmp_path, FIRST, LAST)
    read["raw"].setValue(True)
    read["colorspace"].setValue("Cineon")  # ignored: raw reads the file's values
    nuke._fake.artist_sets(node, "colourspace", "acescg")
    prompt_on(node, FIRST)
    assert {e["colourspace"] for e in put_entries(sharing)} == {"acescg"}
    assert plate_renders() == []


def test_a_named_colourspace_goes_as_it_is(sharing, tmp_path):
    node, read = new_node(tmp_path, FIRST, LAST)
    read["colorspace"].setValue("sRGB")
    prompt_on(node, FIRST)
    assert [e["colourspace"] for e in put_entries(sharing)] == ["sRGB"]
    assert plate_renders() == []


def test_a_colourspace_the_backend_cannot_convert_is_rendered(sharing, tmp_path):
    node, read = new_node(tmp_path, FIRST, LAST)
    read["colorspace"].setValue("Gamma2.2")
    prompt_on(node, FIRST)
    assert [(e["first"], e["last"]) for e in plate_renders()] == [(FIRST, FIRST)]
    status = node["status"].value()
    assert "; plate rendered: the backend cannot use Plate's files (" in status, status
    assert "unknown colourspace 'Gamma2.2'" in status
    assert [e["colourspace"] for e in put_entries(sharing)] == ["Gamma2.2", "scene_linear"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("graph", None),  # a graph is rendered, as expected: nothing to explain
        ("frame knob", "Plate remaps frames (its frame knob is set)"),
        ("premultiplied", "Plate unpremultiplies to convert colour"),
        ("stereo", "Plate is in a stereo script (the plate is rendered for the main view)"),
        ("frame tcl", "Plate names its file by the frame in TCL"),
        ("bare default", "Plate's colourspace 'default' names no colourspace"),
        ("missing file", "/plate/plate.1003.exr is not there (1 frames missing)"),
        ("not sharing", "the backend (on scripted) does not see this machine's files"),
        ("outside the roots", "the backend cannot use Plate's files ("),
    ],
)
def test_otherwise_the_plate_is_rendered_and_the_status_says_why(home, tmp_path, change, reason):
    roots = [tmp_path / "elsewhere"] if change == "outside the roots" else [tmp_path]
    with ScriptedBackend(
        tmp_path / "cache",
        shares_filesystem=change != "not sharing",
        allow_paths=True,
        path_roots=roots,
    ) as backend:
        node, read = new_node(tmp_path, FIRST, LAST)
        _make(change, node, read, tmp_path)
        prompt_on(node, FIRST)
        track(node)
        status = node["status"].value()
        stored = backend.shots[controller(node).state().shot_id].frames
    assert status.startswith("tracked 4 frames"), status
    assert sorted(stored) == list(range(FIRST, LAST + 1))
    assert plate_renders() != []
    read_paths = [e for e in put_entries(backend) if e["path"] and "/plate/plate." in e["path"]]
    if reason is None:
        assert "plate" not in status.partition(";")[2]
        assert read_paths == []
    else:
        assert "; plate rendered: " in status, status
        assert reason in status, status
        # A refusal comes from the backend: each frame tried once by path, then rendered.
        tried = [e["frame"] for e in read_paths]
        expected = {"outside the roots": list(range(FIRST, LAST + 1)), "missing file": [FIRST]}
        assert tried == expected.get(change, [])


def _make(change, node, read, tmp_path):
    if change == "graph":
        through_a_node(node, read)
    elif change == "frame knob":
        read["frame_mode"].setValue("start at")
        read["frame"].setValue(str(FIRST))
    elif change == "premultiplied":
        read["premultiplied"].setValue(True)
    elif change == "stereo":
        nuke._fake.set_views(["left", "right"])
    elif change == "frame tcl":
        read["file"].setValue(str(tmp_path / "plate" / "plate.[frame].exr"))
    elif change == "bare default":
        nuke._fake.set_variant("read_default_names_space", False)
    elif change == "missing file":
        (tmp_path / "plate" / "plate.1003.exr").unlink()
        read["on_error"].setValue("black")  # as Nuke would render it


def test_a_partial_refusal_renders_only_what_the_backend_lacks(home, tmp_path):
    """put_frames stores one frame at a time: frames stored before a refusal stay by path."""
    outside = tmp_path / "outside"
    outside.mkdir()
    roots = [tmp_path / "plate"]
    with ScriptedBackend(
        tmp_path / "cache", shares_filesystem=True, allow_paths=True, path_roots=roots
    ) as backend:
        node, _read = new_node(tmp_path, FIRST, LAST)
        for frame in (1003, 1004):  # links out of the allowed folder (the backend follows them)
            link = tmp_path / "plate" / f"plate.{frame}.exr"
            shutil.move(str(link), str(outside / link.name))
            link.symlink_to(outside / link.name)
        prompt_on(node, FIRST)  # 1001 by path
        nuke._fake.set_frame(1002)
        place_point(node, "pos1", 20.0, 16.0)  # a second prompt, on 1002: a probe frame
        nuke._fake.set_frame(FIRST)
        track(node)  # 1002-1004 in one put_frames: 1002 stored, refused at 1003
        digests = controller(node).state().plate_digests
        status = node["status"].value()
        by_read = [e["frame"] for e in put_entries(backend) if e["path"] and "/plate/" in e["path"]]
        stored = backend.shots[controller(node).state().shot_id].frames
    assert sorted(stored) == list(range(FIRST, LAST + 1))
    assert by_read == [1001, 1002, 1003, 1004]
    assert [(e["first"], e["last"]) for e in plate_renders()] == [(1003, 1004)]
    assert sorted(digests) == ["1001", "1002"]  # 1002 kept by path: fingerprinted by its file
    assert all(plate_files.is_file_identity(d) for d in digests.values())
    assert "plate rendered: the backend cannot use Plate's files" in status, status


def test_plates_sent_by_path_are_checked_by_their_files(sharing, tmp_path):
    node, read = new_node(tmp_path, FIRST, LAST)
    prompt_on(node, FIRST)
    track(node)
    nuke._fake.press(node, "check_inputs")
    wait(node)
    assert node["status"].value() == "inputs match what was sent"
    assert plate_renders() == []  # checked by the files, nothing rendered

    # The same file written again (a new version over the old): its time changed.
    probe = tmp_path / "plate" / f"plate.{FIRST}.exr"
    stat = probe.stat()
    os.utime(str(probe), ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    nuke._fake.press(node, "track")
    wait(node)
    assert node["status"].value().startswith("not tracked: the plate changed since it was sent")
    assert node["inputs_info"].value().startswith(f"the plate changed (frame {FIRST})")
    before = len(sharing.of_type("put_frames_request"))
    nuke._fake.press(node, "resend")
    wait(node)
    again = sharing.of_type("put_frames_request")[before:]
    assert next(e["path"] for r in again for e in r["content"]["frames"]) == str(probe)
    nuke._fake.press(node, "check_inputs")
    wait(node)
    assert node["status"].value() == "inputs match what was sent"

    # Another plate version in the Read, or an operation put between: no longer those files.
    shutil.copytree(str(tmp_path / "plate"), str(tmp_path / "v2"))
    read["file"].setValue(str(tmp_path / "v2" / "plate.####.exr"))
    nuke._fake.press(node, "check_inputs")
    wait(node)
    assert node["status"].value() == "inputs changed: press Re-send changed"
    read["file"].setValue(str(tmp_path / "plate" / "plate.####.exr"))
    through_a_node(node, read)
    nuke._fake.press(node, "check_inputs")
    wait(node)
    assert node["status"].value() == "inputs changed: press Re-send changed"
    assert plate_renders() == []  # a file identity is never compared with rendered pixels


def test_a_plate_rendered_through_a_node_left_on_another_view_is_refused(home, tmp_path):
    """The plugin's own plate renders are checked too: a SAM2Matte fed by another one that shows
    its overlay does not send that overlay as its plate."""
    startup.init()
    with ScriptedBackend(tmp_path / "cache") as backend:
        upstream_node, read = new_node(tmp_path, FIRST, LAST)
        nuke._fake.artist_sets(upstream_node, "view", "overlay")
        read["selected"].setValue(False)
        upstream_node["selected"].setValue(True)
        made = callbacks.create_node()
        assert made is not None
        node = made.node
        assert node.input(0) is upstream_node
        prompt_on(node, FIRST)
        assert backend.of_type("put_frames_request") == []
    status = node["status"].value()
    assert status.startswith(
        "error: rendering the plate (input 1) failed on frames 1001: "
        "SAM2Matte1: its view is 'overlay'"
    ), status


def test_every_frame_sent_by_path_is_checked_not_only_the_prompted_ones(sharing, tmp_path):
    node, read = new_node(tmp_path, FIRST, LAST)
    prompt_on(node, FIRST)
    track(node)
    assert sorted(controller(node).state().plate_digests) == [
        str(f) for f in range(FIRST, LAST + 1)
    ]

    # A frame nobody prompted is rendered again upstream (a plate fix on a few frames).
    fixed = tmp_path / "plate" / f"plate.{LAST}.exr"
    stat = fixed.stat()
    os.utime(str(fixed), ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    nuke._fake.press(node, "track")
    wait(node)
    assert node["status"].value().startswith("not tracked: the plate changed since it was sent")
    assert node["inputs_info"].value().startswith(f"the plate changed (frame {LAST})")
    before = len(sharing.of_type("put_frames_request"))
    nuke._fake.press(node, "resend")
    wait(node)
    again = sharing.of_type("put_frames_request")[before:]
    assert LAST in [e["frame"] for r in again for e in r["content"]["frames"]]  # the plate again
    nuke._fake.press(node, "check_inputs")
    wait(node)
    assert node["status"].value() == "inputs match what was sent"

    # An operation put between: the frames are rendered when sent again, and the file
    # identities they had are forgotten (else the check would compare files forever).
    through_a_node(node, read)
    nuke._fake.press(node, "check_inputs")
    wait(node)
    assert node["status"].value() == "inputs changed: press Re-send changed"
    nuke._fake.press(node, "resend")
    wait(node)
    digests = controller(node).state().plate_digests
    assert not any(plate_files.is_file_identity(d) for d in digests.values())
    assert sorted(digests) == [str(FIRST)]  # the prompted frame: its pixels
    nuke._fake.press(node, "check_inputs")
    wait(node)
    assert node["status"].value() == "inputs match what was sent"


def test_file_identities_saved_by_an_earlier_version_still_match(tmp_path):
    plate = tmp_path / "plate.1001.exr"
    plate.write_bytes(b"pixels")
    now = plate_files.identity(str(plate), "ACEScg")
    assert now is not None
    assert len(now) == len(plate_files.FILE_IDENTITY) + plate_files.IDENTITY_HEX
    text = "\0".join((str(plate), "6", str(plate.stat().st_mtime_ns), "ACEScg"))
    saved_whole = plate_files.FILE_IDENTITY + hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert plate_files.same_identity(now, saved_whole)
    assert plate_files.same_identity(now, now)
    plate.write_bytes(b"other!")  # same size, new time
    os.utime(str(plate), ns=(0, plate.stat().st_mtime_ns + 10**9))
    assert not plate_files.same_identity(plate_files.identity(str(plate), "ACEScg"), saved_whole)
    assert not plate_files.same_identity(None, saved_whole)
    assert not plate_files.same_identity("pixels-digest", saved_whole)
