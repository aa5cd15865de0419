"""Export farm job: the node's shot file and the backend's OpenJD bundle, from the button.

The plugin runs the backend command it starts the backend with (minus `serve`) as
`... farm bundle ...`. Here that command is either the real backend CLI (where the backend is
installed: the bundle is checked for real) or a small stand-in script (on Nuke's Pythons, which
have no backend) that records its arguments and can fail like the real one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nuke
import pytest

from .helpers import controller
from .test_shot_file import prompted, write_journal  # noqa: F401 - the fixture is used

STAND_IN = """\
import json, sys
from pathlib import Path
args = sys.argv[1:]
Path(args[args.index("-o") + 1], "argv.json").write_text(json.dumps(args))
if "FAIL" in args[args.index("--plate") + 1]:
    print("sam2matting farm bundle: error: the plate pattern 'FAIL' has no frame number",
          file=sys.stderr)
    sys.exit(2)
"""


def configure(home: Path, command) -> None:
    """The plugin's settings: how it starts the backend (`serve` last, as documented)."""
    config = {"nuke": {"backend_command": [*command, "serve"]}}
    (home / "config.json").write_text(json.dumps(config))


def press_export(node, where, plate):
    nuke._fake.answer(str(where), plate)
    nuke._fake.press(node, "export_farm_job")


@pytest.fixture
def journalled(prompted, tmp_path):  # noqa: F811 - the imported fixture, extended
    state = controller(prompted).state()
    write_journal(Path(state.cache_dir), state)
    return prompted, state


def test_the_button_writes_the_shot_file_and_calls_the_bundle_writer(journalled, home, tmp_path):
    node, state = journalled
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    configure(home, [sys.executable, str(script)])
    folder = tmp_path / "jobs" / "sh010"
    press_export(node, str(folder) + "/", "/farm/plates/plate.####.exr")  # a folder
    args = json.loads((folder / "argv.json").read_text())
    shot = folder / f"{state.shot_id}.sam2shot.json"
    assert args == [
        "farm",
        "bundle",
        "--shot",
        str(shot),
        "--plate",
        "/farm/plates/plate.####.exr",
        "--frames",
        f"{state.first_frame}-{state.last_frame}",
        "--mattes",
        str(folder / "matte" / f"{state.shot_id}.####.exr"),
        "-o",
        str(folder),
    ]
    data = json.loads(shot.read_text())
    assert data["format"] == "sam2matting-shot"
    assert [p["frame"] for p in data["prompts"]] == [1003, 1005]
    assert node["status"].value().startswith(f"farm job written: {folder}")
    assert nuke._fake.session().messages == []
    press_export(node, folder / "other_name", "/farm/plates/plate.####.exr")  # a file name
    assert json.loads((folder / "argv.json").read_text())[3] == str(folder / "other_name.json")
    assert (folder / "other_name.json").is_file()


def test_the_plate_is_offered_from_the_read_and_errors_reach_the_artist(journalled, home, tmp_path):
    node, _ = journalled
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    configure(home, [sys.executable, str(script)])
    from sam2matting_nuke import farm_job

    read = node.input(0)
    read_file = read["file"].value()
    offered = read_file.replace("####", "%04d")  # as nuke.filename gives it
    assert farm_job.plate_pattern(controller(node)) == offered
    dot = nuke.nodes.Dot()  # a Dot between: still the Read's files
    dot.setInput(0, read)
    node.setInput(0, dot)
    assert farm_job.plate_pattern(controller(node)) == offered
    grade = nuke.nodes.NoOp()  # an operation: nothing the farm could read
    grade.setInput(0, read)
    node.setInput(0, grade)
    assert farm_job.plate_pattern(controller(node)) == ""
    node.setInput(0, read)
    press_export(node, tmp_path / "job", "FAIL")
    assert "the farm job was not written" in nuke._fake.session().messages[-1]
    assert "has no frame number" in nuke._fake.session().messages[-1]
    configure(home, [str(tmp_path / "no_such_backend" / "sam2matting")])
    press_export(node, tmp_path / "job", read_file)
    message = nuke._fake.session().messages[-1]
    assert "cannot run the backend's 'sam2matting farm bundle'" in message
    assert "backend_command" in message


def test_cancelled_dialogs_write_nothing(journalled, home, tmp_path):
    node, _ = journalled
    nuke._fake.answer(None)
    nuke._fake.press(node, "export_farm_job")
    nuke._fake.answer(str(tmp_path / "job"), "")
    nuke._fake.press(node, "export_farm_job")
    assert not (tmp_path / "job").exists()
    assert nuke._fake.session().messages == []


def test_with_the_real_backend_the_bundle_is_a_valid_job(journalled, home, tmp_path):
    pytest.importorskip("sam2matting.backend.cli.main", reason="the backend is not installed")
    validate = pytest.importorskip(
        "sam2matting.backend.render.farm_validate", reason="openjd-model is not installed"
    )
    node, state = journalled
    configure(home, [sys.executable, "-m", "sam2matting.backend.cli.main"])
    folder = tmp_path / "job"
    folder.mkdir()
    press_export(node, folder, str(tmp_path / "plate" / "plate.####.exr"))  # an existing folder
    assert nuke._fake.session().messages == []
    values = json.loads((folder / "openjd_parameters.json").read_text())
    counts = validate.task_counts(folder / "template.json", values)
    assert counts == {"Track": 2, "Matte": 2}  # objects 1 and 2; 12 frames in chunks of 10
    assert values["ShotFile"] == str(folder / f"{state.shot_id}.sam2shot.json")
