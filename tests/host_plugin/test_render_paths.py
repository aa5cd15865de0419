"""Paths as Nuke resolves them: a cache folder that is a TCL expression, studio filename filters,
the cache template (next to the script, under a project root), what a reopened script says
when its cache is not there, and where the plates sent for a shot live and when they go."""

from __future__ import annotations

import shutil
from pathlib import Path

import nuke
import pytest
from sam2matting_nuke import cache_paths, startup

from . import plates
from .helpers import controller, new_node, place_point, square_centre, through_a_node, wait
from .render_helpers import FIRST, LAST, assert_never_silently_black, fill_cache, make_write
from .render_helpers import outcomes as render
from .scripted_backend import ScriptedBackend


def track(node) -> None:
    """A prompt on the first frame, then Track (a scripted backend answers)."""
    nuke._fake.set_frame(FIRST)
    place_point(node, "pos1", *square_centre(FIRST))
    nuke._fake.press(node, "set_prompt")
    wait(node)
    nuke._fake.press(node, "track")
    wait(node)


@pytest.fixture
def matte(home, tmp_path):
    startup.init()
    node, _ = new_node(tmp_path, FIRST, LAST)
    node["selected"].setValue(False)
    return node


def test_cache_folder_given_as_an_expression(matte, tmp_path, monkeypatch):
    """[getenv SHOW_ROOT]: each machine finds the cache under its own mount of the show."""
    shot_id = controller(matte).state().shot_id
    monkeypatch.setenv("SHOW_ROOT", str(tmp_path / "workstation"))
    nuke._fake.artist_sets(matte, "cache_dir", f"[getenv SHOW_ROOT]/sam2/{shot_id}")
    read = matte.node("MatteCache")
    assert read["file"].value() == f"[getenv SHOW_ROOT]/sam2/{shot_id}/matte/matte.####.exr"
    fill_cache(matte, range(FIRST, LAST + 1), tmp_path / "workstation" / "sam2" / shot_id)
    write = make_write(matte, tmp_path / "out")
    got = render(write, range(FIRST, LAST + 1), tmp_path / "out")
    assert assert_never_silently_black(got, range(FIRST, LAST + 1)) == []
    # Another machine mounts the show elsewhere, and has not got frame 1004 yet.
    farm = tmp_path / "farm" / "sam2" / shot_id
    shutil.copytree(str(tmp_path / "workstation" / "sam2" / shot_id), str(farm))
    (farm / "matte" / "matte.1004.exr").unlink()
    monkeypatch.setenv("SHOW_ROOT", str(tmp_path / "farm"))
    read["reload"].execute()
    got = render(write, range(1003, 1006), tmp_path / "out")
    assert assert_never_silently_black(got, set(range(FIRST, LAST + 1)) - {1004}) == [1004]
    text = str(got[1004])
    assert f"Looked for: {farm}/matte/matte.1004.exr" in text
    assert f"-o {farm}/matte/matte.%04d.exr" in text


def test_filename_filters_remap_the_cache(matte, tmp_path):
    """A studio filter maps /studio/jobs to this machine's mount: Nuke's Read reads there, so the
    check looks there too."""
    mount = tmp_path / "mnt" / "jobs"
    nuke.addFilenameFilter(lambda path: path.replace("/studio/jobs", str(mount)))
    shot_id = controller(matte).state().shot_id
    nuke._fake.artist_sets(matte, "cache_dir", f"/studio/jobs/{shot_id}")
    fill_cache(matte, [1001, 1002], mount / shot_id)
    write = make_write(matte, tmp_path / "out")
    got = render(write, [1001, 1002, 1003], tmp_path / "out")
    assert assert_never_silently_black(got, [1001, 1002]) == [1003]
    assert f"Looked for: {mount}/{shot_id}/matte/matte.1003.exr" in str(got[1003])


def test_template_next_to_the_saved_script(home, tmp_path):
    startup.init()
    (tmp_path / "shots").mkdir()
    nuke.scriptSaveAs(str(tmp_path / "shots" / "comp_v001.nk"))
    node, _ = new_node(tmp_path, FIRST, LAST)
    shot_id = controller(node).state().shot_id
    assert shot_id.startswith("comp_v001_SAM2Matte1_")
    assert node["cache_dir"].value() == f"[file dirname [value root.name]]/sam2matting/{shot_id}"
    assert node["cache_dir"].evaluate() == f"{tmp_path}/shots/sam2matting/{shot_id}"
    assert node["cache_info"].value().startswith("cache NOT FOUND at ")  # nothing tracked yet


def test_template_under_a_project_root(home, tmp_path, monkeypatch):
    monkeypatch.setenv(cache_paths.PROJECT_ROOT_ENV, str(tmp_path / "show"))
    (tmp_path / "shots").mkdir()
    nuke.scriptSaveAs(str(tmp_path / "shots" / "comp_v002.nk"))
    node, _ = new_node(tmp_path, FIRST, LAST)
    shot_id = controller(node).state().shot_id
    expected = f"[getenv SAM2MATTING_PROJECT_ROOT]/sam2matting/comp_v002/{shot_id}"
    assert node["cache_dir"].value() == expected
    assert node["cache_dir"].evaluate() == f"{tmp_path}/show/sam2matting/comp_v002/{shot_id}"


def test_template_from_the_environment_wins():
    env = {
        cache_paths.TEMPLATE_ENV: "/jobs/{script}/{node}/{shot_id}",
        cache_paths.PROJECT_ROOT_ENV: "/show",
    }
    chosen = cache_paths.template("/configured/{shot_id}", env)
    assert chosen == "/jobs/{script}/{node}/{shot_id}"
    made = cache_paths.cache_dir(chosen, "s1", "SAM2Matte2", "/a/b/comp.nk")
    assert made == "/jobs/comp/SAM2Matte2/s1"
    assert cache_paths.template("/configured/{shot_id}", {}) == "/configured/{shot_id}"
    assert cache_paths.template(None, {}) == cache_paths.NEXT_TO_SCRIPT
    assert cache_paths.cache_dir(cache_paths.NEXT_TO_SCRIPT, "s1", "n", "") is None  # unsaved


@pytest.mark.parametrize("order", ["children-first", "group-first"])
def test_reopened_where_the_cache_is_not_says_where_it_looked(matte, tmp_path, order):
    fill_cache(matte, [1001, 1002])
    folder = Path(controller(matte).state().cache_dir)
    nuke.scriptSaveAs(str(tmp_path / "comp.nk"))
    shutil.move(str(folder), str(tmp_path / "elsewhere"))
    nuke._fake.reset(gui=True)
    startup.reset()
    startup.init()
    nuke._fake.set_variant("group_children_first_on_load", order == "children-first")
    nuke.scriptOpen(str(tmp_path / "comp.nk"))
    node = nuke.toNode("SAM2Matte1")
    expected = f"cache NOT FOUND at {folder}: renders of {FIRST}-{LAST} fail until it is there"
    assert node["cache_info"].value() == expected
    assert node["status"].value() == expected
    shutil.move(str(tmp_path / "elsewhere"), str(folder))
    nuke._fake.artist_sets(node, "cache_dir", str(folder))
    expected = f"cache {folder}: mattes for 2 of 8 frames (missing 1003-1008)"
    assert node["cache_info"].value() == expected


def test_plates_live_in_the_cache_and_go_with_their_shot(home, tmp_path):
    """The backend may write next to the script (an allowed root): the node keeps its template,
    plates sent by path sit in <cache>/nuke_plates, and a new shot removes the old one's."""
    startup.init()
    (tmp_path / "shots").mkdir()
    nuke.scriptSaveAs(str(tmp_path / "shots" / "comp.nk"))
    roots = [tmp_path / "shots"]
    with ScriptedBackend(
        tmp_path / "backend_cache", shares_filesystem=True, allow_paths=True, allowed_roots=roots
    ) as backend:
        node, read = new_node(tmp_path, FIRST, 1003)
        through_a_node(node, read)  # rendered (a bare Read's own files go by path)
        template_text = node["cache_dir"].value()
        cache = Path(node["cache_dir"].evaluate())
        track(node)
        assert backend.of_type("open_shot_request")[0]["content"]["cache_dir"] == str(cache)
        assert node["cache_dir"].value() == template_text  # still the expression
        assert sorted(p.name for p in (cache / "nuke_plates").iterdir()) == [
            "plate.1001.exr",
            "plate.1002.exr",
            "plate.1003.exr",
        ]
        assert node["cache_info"].value().startswith(f"cache {cache}: mattes for 3 of 3 frames")
        # A new plate version (another size): a new shot, and the old shot's plates go.
        read["file"].setValue(plates.write_plate(tmp_path / "v2", FIRST, 1003, 2.0))
        nuke._fake.answer(True)
        nuke._fake.press(node, "track")
        wait(node)
    new_cache = Path(node["cache_dir"].evaluate())
    assert new_cache != cache
    assert new_cache.parent == cache.parent  # the same template
    assert not (cache / "nuke_plates").exists()
    assert (cache / "matte" / "matte.1001.exr").is_file()  # mattes are the artist's work: kept
    assert (new_cache / "nuke_plates" / "plate.1001.exr").is_file()


def test_a_backend_that_may_not_write_there_keeps_its_own_folder(home, tmp_path):
    startup.init()
    (tmp_path / "shots").mkdir()
    nuke.scriptSaveAs(str(tmp_path / "shots" / "comp.nk"))
    with ScriptedBackend(tmp_path / "backend_cache") as backend:
        node, _ = new_node(tmp_path, FIRST, 1002)
        track(node)
        shot_id = controller(node).state().shot_id
        assert backend.of_type("open_shot_request")
    where = tmp_path / "backend_cache" / shot_id
    assert node["cache_dir"].value() == str(where)
    assert node["cache_info"].value().startswith(f"cache {where}: mattes for 2 of 2 frames")
