"""Tracker and engine options: knobs built from describe, sent with open_shot, exported.

The backend is scripted (real sockets) and advertises the real engines' and trackers' typed
params; the real backend's checking of the values is tested in tests/backend/server.
"""

from __future__ import annotations

import json

import nuke
import pytest

from sam2matting.protocol.shot_file import check_shot_file

from .helpers import new_node, place_point, square_centre, wait
from .scripted_backend import ScriptedBackend

PARAMS = {
    "closed_form": [
        {
            "name": "max_width",
            "type": "float",
            "default": 32.0,
            "help": "band reach",
            "min": 4.0,
            "max": 128.0,
        },
    ],
    "flow": [
        {
            "name": "preset",
            "type": "choice",
            "default": "ultrafast",
            "help": "DIS preset",
            "choices": ["ultrafast", "fast", "medium"],
        },
        {
            "name": "working_size",
            "type": "int",
            "default": 640,
            "help": "long side",
            "min": 64,
            "max": 4096,
        },
    ],
}


class OptionsBackend(ScriptedBackend):
    """The scripted backend, advertising typed params as the real one does."""

    def _reply(self, msg, content):
        if msg.msg_type == "describe_request":
            for cap in content["trackers"] + content["engines"]:
                cap["params"] = PARAMS.get(cap["name"], [])
        super()._reply(msg, content)


@pytest.fixture
def backend(home, tmp_path):
    with OptionsBackend(tmp_path / "cache") as running:
        yield running


def _connected(tmp_path):
    node, _ = new_node(tmp_path, 1001, 1012)
    nuke._fake.press(node, "connect")
    wait(node)
    return node


def _prompt_and_sync(node, backend, frame=1003):
    nuke._fake.set_frame(frame)
    place_point(node, "pos1", *square_centre(frame))
    nuke._fake.press(node, "set_prompt")
    wait(node)
    return backend.of_type("open_shot_request")[-1]["content"]


def test_knobs_follow_describe_and_the_chosen_engine(tmp_path, backend):
    node = _connected(tmp_path)
    width, preset = node["opt_closed_form_max_width"], node["opt_flow_preset"]
    assert width.value() == 32.0
    assert node["opt_flow_preset"].values() == ["ultrafast", "fast", "medium"]
    assert "4 to 128" in width.tooltip()
    assert not width.visible()  # engine "auto": the backend picks, so no options are sent
    nuke._fake.artist_sets(node, "engine", "closed_form")
    nuke._fake.artist_sets(node, "tracker", "flow")
    assert width.visible()
    assert preset.visible()
    assert node["opt_flow_working_size"].visible()  # every option of the chosen tracker
    nuke._fake.artist_sets(node, "tracker", "auto")
    assert not preset.visible()


def test_option_knobs_added_while_the_panel_is_open_show_in_it(tmp_path, backend):
    """Connect is pressed in the open panel, so the option knobs are added to an open panel.
    Whether Nuke shows knobs added then before the panel is reopened is unverified (the fake:
    it does not): the plugin reopens the panel, so they show either way."""
    node, _ = new_node(tmp_path, 1001, 1012)
    nuke._fake.press(node, "connect")  # opens the panel, then the describe reply arrives
    assert "opt_flow_preset" not in nuke._fake.panel_knobs(node)
    wait(node)
    assert node.shown()
    nuke._fake.artist_sets(node, "tracker", "flow")
    assert {"sam2_options_tab", "opt_flow_preset"} <= set(nuke._fake.panel_knobs(node))
    assert "opt_closed_form_max_width" not in nuke._fake.panel_knobs(node)  # engine auto: hidden
    assert "add_knob_panel_open" in nuke._fake.unverified_touched()  # touched, not relied on


def test_changed_options_reach_open_shot_and_defaults_stay_unsent(tmp_path, backend):
    node = _connected(tmp_path)
    sent = _prompt_and_sync(node, backend)
    assert (sent["tracker_params"], sent["engine_params"]) == ({}, {})
    nuke._fake.artist_sets(node, "engine", "closed_form")
    nuke._fake.artist_sets(node, "tracker", "flow")
    nuke._fake.artist_sets(node, "opt_closed_form_max_width", 12)
    nuke._fake.artist_sets(node, "opt_flow_preset", "fast")
    sent = _prompt_and_sync(node, backend, 1004)
    assert sent["engine"] == "closed_form"
    assert sent["engine_params"] == {"max_width": 12.0}
    assert sent["tracker_params"] == {"preset": "fast"}
    # Back to "auto": the values stay on the node but are not sent for another engine.
    nuke._fake.artist_sets(node, "engine", "auto")
    sent = _prompt_and_sync(node, backend, 1005)
    assert sent["engine_params"] == {}
    assert node["opt_closed_form_max_width"].value() == 12.0


def test_the_shot_file_carries_the_options(tmp_path, backend):
    node = _connected(tmp_path)
    nuke._fake.artist_sets(node, "engine", "closed_form")
    nuke._fake.artist_sets(node, "opt_closed_form_max_width", 20)
    _prompt_and_sync(node, backend)
    nuke._fake.answer(str(tmp_path / "sh.json"))
    nuke._fake.press(node, "export_shot")
    data = json.loads((tmp_path / "sh.json").read_text())
    assert data["shot"]["engine"] == "closed_form"
    assert data["shot"]["params"] == {"engine": {"max_width": 20.0}}
    assert check_shot_file(data, "sh.json")["shot"]["params"]["engine"] == {"max_width": 20.0}


def test_options_survive_a_reconnect_without_duplicates(tmp_path, backend):
    node = _connected(tmp_path)
    nuke._fake.artist_sets(node, "opt_flow_working_size", 320)
    before = sorted(k for k in node.knobs() if k.startswith("opt_"))
    nuke._fake.press(node, "connect")
    wait(node)
    assert sorted(k for k in node.knobs() if k.startswith("opt_")) == before
    assert node["opt_flow_working_size"].value() == 320
