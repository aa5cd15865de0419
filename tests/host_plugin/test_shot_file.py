"""Export shot file: the node's prompts as the farm's `sam2matting render` reads them."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import nuke
import pytest

from . import plates
from .helpers import controller, new_node, place_point, square_centre, wait
from .scripted_backend import ScriptedBackend


def grey_png(width: int, height: int, inside) -> bytes:
    """An 8-bit grey PNG (255 inside) with the standard library, as the journal stores masks."""
    rows = b"".join(
        b"\0" + bytes(255 if inside(x, y) else 0 for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def prompted(home, tmp_path):
    """A node with a point prompt on 1003 (object1) and a mask prompt on 1005 (dog)."""
    node, _ = new_node(tmp_path, 1001, 1012)
    plates.write_mask(tmp_path / "roto" / "roto.1005.exr", (4, 4, 12, 12))
    node.setInput(
        1, nuke.nodes.Read(file=str(tmp_path / "roto" / "roto.####.exr"), first=1005, last=1005)
    )
    with ScriptedBackend(tmp_path / "cache"):
        nuke._fake.set_frame(1003)
        place_point(node, "pos1", *square_centre(1003))
        nuke._fake.press(node, "set_prompt")
        wait(node)
        nuke._fake.answer("dog")
        nuke._fake.press(node, "add_object")
        nuke._fake.set_frame(1005)
        nuke._fake.artist_sets(node, "use_mask", True)
        nuke._fake.press(node, "set_prompt")
        wait(node)
    return node


def export(node, path: Path):
    nuke._fake.answer(str(path))
    nuke._fake.press(node, "export_shot")
    written = path if path.suffix == ".json" else path.with_name(path.name + ".json")
    return json.loads(written.read_text()) if written.exists() else None


def write_journal(cache_dir: Path, state) -> None:
    """The backend's journal of these prompts (docs/CACHE_LAYOUT.md), the mask in prompts/."""
    (cache_dir / "prompts").mkdir(parents=True, exist_ok=True)
    (cache_dir / "prompts" / "mask.1.png").write_bytes(
        grey_png(plates.WIDTH, plates.HEIGHT, lambda x, y: 4 <= x < 12 and 4 <= y < 12)
    )
    prompts = [
        {
            "seq": 0,
            "frame": 1003,
            "object_id": 1,
            "points": [list(square_centre(1003))],
            "labels": [1],
            "box": None,
            "mask": None,
            "clear_old": True,
            "timestamp": "2025-11-25T12:00:00.000+00:00",
        },
        {
            "seq": 1,
            "frame": 1005,
            "object_id": 2,
            "points": [],
            "labels": [],
            "box": None,
            "mask": "mask.1.png",
            "clear_old": True,
            "timestamp": "2025-11-25T12:01:00.000+00:00",
        },
    ]
    journal = {
        "format": "sam2matting-journal",
        "version": "1.0",
        "shot": {
            "shot_id": state.shot_id,
            "width": plates.WIDTH,
            "height": plates.HEIGHT,
            "first_frame": 1001,
            "last_frame": 1012,
            "pixel_aspect": 1.0,
            "colourspace": "scene_linear",
            "tracker": "auto",
            "engine": "auto",
            "params": {},
        },
        "revision": 2,
        "next_seq": 2,
        "objects": [{"id": 1, "name": "object1"}, {"id": 2, "name": "dog"}],
        "prompts": prompts,
        "valid": [],
    }
    (cache_dir / "shot.json").write_text(json.dumps(journal))


def test_mask_prompts_need_the_journal(prompted, tmp_path):
    assert export(prompted, tmp_path / "sh.json") is None
    assert (
        "mask prompt on frame 1005 is not in the backend's journal yet"
        in nuke._fake.session().messages[-1]
    )


def test_export_writes_the_shot_file_format(prompted, tmp_path):
    state = controller(prompted).state()
    write_journal(Path(state.cache_dir), state)
    data = export(prompted, tmp_path / "sh010")  # .json is added
    assert data is not None
    assert (tmp_path / "sh010.json").is_file()
    assert (data["format"], data["version"]) == ("sam2matting-shot", "1.0")
    assert data["shot"] == {
        "shot_id": state.shot_id,
        "width": 48,
        "height": 32,
        "first_frame": 1001,
        "last_frame": 1012,
        "pixel_aspect": 1.0,
        "colourspace": "scene_linear",
        "tracker": "auto",
        "engine": "auto",
        "params": {},
    }
    assert data["objects"] == [{"id": 1, "name": "object1"}, {"id": 2, "name": "dog"}]
    first, second = data["prompts"]
    assert first["points"] == [list(square_centre(1003))]
    assert first["mask_png"] is None
    assert (second["frame"], second["object_id"], second["points"]) == (1005, 2, [])
    assert base64.b64decode(second["mask_png"]).startswith(b"\x89PNG")
    assert second["timestamp"] == "2025-11-25T12:01:00.000+00:00"
    assert str(tmp_path) not in json.dumps(data["prompts"])  # no machine paths inside


def test_the_backend_loads_the_exported_file(prompted, tmp_path):
    journal_module = pytest.importorskip(
        "sam2matting.backend.shots.journal", reason="backend not installed here"
    )
    state = controller(prompted).state()
    write_journal(Path(state.cache_dir), state)
    export(prompted, tmp_path / "sh.json")
    journal = journal_module.ShotJournal.load_shot_file(tmp_path / "sh.json", tmp_path / "farm")
    assert journal.objects == {1: "object1", 2: "dog"}
    assert journal.settings.width == 48
    assert journal.settings.shot_id == state.shot_id
    points = [(p.frame, p.points) for p in journal.prompts]
    assert points == [(1003, (square_centre(1003),)), (1005, ())]
    assert (tmp_path / "farm" / "prompts" / "mask.1.png").is_file()
