"""Edits are prompts: only what the artist touched on a frame becomes that frame's prompt, a
prompt's untouched points stay, pending edits move with the artist instead of vanishing."""

from __future__ import annotations

from sam2matting_nuke import edits, state

FIRST, LAST = 1001, 1050


def key_frame_state() -> state.NodeState:
    """Prompted on 1010: +1, +2 on the object, -1 on the background."""
    s = state.NodeState(shot_id="s", first_frame=FIRST, last_frame=LAST)
    s.add_object("hero")
    s.set_prompt(
        edits.build_prompt(
            1, 1010, {"pos1": (10, 10), "pos2": (12, 12), "neg1": (40, 2)}, None, False
        )
    )
    return s


def test_moving_one_point_on_a_new_frame_makes_a_prompt_of_that_point_only():
    s = key_frame_state()
    draft, moved = edits.draft_for(s, 1, 1042)
    assert moved is None
    draft.points["pos1"] = [30.0, 11.0]
    frame, prompt = edits.commit(s, 1)
    assert frame == 1042
    assert (prompt.slots, prompt.points, prompt.labels) == (["pos1"], [(30.0, 11.0)], [1])
    assert s.prompt_at(1, 1010).slots == ["pos1", "pos2", "neg1"]  # the key frame is untouched
    assert s.drafts == []


def test_editing_a_prompted_frame_keeps_its_untouched_points():
    s = key_frame_state()
    draft, _ = edits.draft_for(s, 1, 1010)
    draft.points["neg2"] = [2.0, 30.0]
    draft.removed.append("pos2")
    _, prompt = edits.commit(s, 1)
    assert prompt.slot_points() == {"pos1": (10.0, 10.0), "neg1": (40.0, 2.0), "neg2": (2.0, 30.0)}
    assert prompt.labels == [1, 0, 0]


def test_an_edit_that_empties_a_prompt_removes_only_that_prompt():
    s = key_frame_state()
    draft, _ = edits.draft_for(s, 1, 1010)
    draft.removed += ["pos1", "pos2", "neg1"]
    assert edits.commit(s, 1) == (1010, None)
    assert s.prompts == []
    assert [o.id for o in s.objects] == [1]


def test_an_edit_pending_on_another_frame_is_kept_as_that_frames_prompt():
    s = key_frame_state()
    first, _ = edits.draft_for(s, 1, 1042)
    first.points["pos1"] = [30.0, 11.0]
    _, moved = edits.draft_for(s, 1, 1050)
    assert moved == 1042
    assert s.prompt_at(1, 1042).points == [(30.0, 11.0)]


def test_added_but_unmoved_points_are_not_an_edit():
    s = key_frame_state()
    draft, _ = edits.draft_for(s, 1, 1042)
    draft.added.append("pos3")
    assert edits.commit(s, 1) is None
    assert s.prompt_at(1, 1042) is None


def test_switching_objects_keeps_each_objects_edit():
    s = key_frame_state()
    s.add_object("dog")
    hero, _ = edits.draft_for(s, 1, 1042)
    hero.points["pos1"] = [30.0, 11.0]
    dog, moved = edits.draft_for(s, 2, 1042)
    dog.points["pos1"] = [5.0, 5.0]
    assert moved is None
    assert edits.shown(s, 1, 1042).points["pos1"] == (30.0, 11.0)
    assert edits.shown(s, 2, 1042).points == {"pos1": (5.0, 5.0)}
    assert edits.shown(s, 1, 1030).points["pos2"] == (12.0, 12.0)  # carried over, shown


def test_confirming_what_is_shown_on_a_frame_without_a_prompt():
    s = key_frame_state()
    edits.confirm(s, 1, 1042, edits.shown(s, 1, 1042))
    _, prompt = edits.commit(s, 1)
    assert prompt.slot_points() == s.prompt_at(1, 1010).slot_points()
    assert prompt.frame == 1042


def test_default_retrack_range_runs_to_the_frame_before_the_next_prompt():
    s = key_frame_state()
    assert edits.retrack_range(s, 1, 1042) == (1042, LAST)
    s.set_prompt(edits.build_prompt(1, 1046, {"pos1": (1, 1)}, None, False))
    assert edits.retrack_range(s, 1, 1042) == (1042, 1045)
    assert edits.retrack_range(s, 1, 1005) == (1005, 1009)
