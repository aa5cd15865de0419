"""Planning a render's tracking passes around prompts and missing plate frames."""

from __future__ import annotations

from sam2matting.backend.render.plan import MISSING, TrackPass, plan_render


def frames(first, last):
    return set(range(first, last + 1))


def test_prompt_inside_tracks_both_ways_from_it():
    plan = plan_render(frames(1001, 1020), frames(1001, 1020), {1: [1010]})
    assert plan.passes == [TrackPass(1010, "both", 1001, 1020, (1,))]
    assert plan.produced == frames(1001, 1020)
    assert plan.skipped == {}


def test_prompt_at_an_end_tracks_one_way():
    plan = plan_render(frames(1001, 1020), frames(1001, 1020), {1: [1001, 1015]})
    assert plan.passes == [TrackPass(1001, "forward", 1001, 1020, (1,))]
    plan = plan_render(frames(1001, 1005), frames(1001, 1020), {1: [1005]})
    assert plan.passes == [TrackPass(1005, "backward", 1001, 1005, (1,))]


def test_resume_tracks_from_the_nearest_prompt_outside_the_frames_left():
    # frames 1001-1010 are finished; the prompt is on 1001, another on 1040
    plan = plan_render(frames(1011, 1020), frames(1001, 1040), {1: [1001, 1040]})
    assert plan.passes == [TrackPass(1001, "forward", 1001, 1020, (1,))]
    plan = plan_render(frames(1031, 1035), frames(1001, 1040), {1: [1001, 1040]})
    assert plan.passes == [TrackPass(1040, "backward", 1031, 1040, (1,))]


def test_objects_with_the_same_pass_share_it():
    prompts = {1: [1001], 2: [1001], 3: [1010]}
    plan = plan_render(frames(1001, 1010), frames(1001, 1010), prompts)
    assert plan.passes == [
        TrackPass(1001, "forward", 1001, 1010, (1, 2)),
        TrackPass(1010, "backward", 1001, 1010, (3,)),
    ]
    assert plan.frames_to_store([1001, 1010]) == sorted(frames(1001, 1010))


def test_missing_frames_split_the_plate_and_cut_off_unprompted_runs():
    available = frames(1001, 1020) - {1008}
    plan = plan_render(frames(1001, 1020), available, {1: [1003]})
    assert plan.passes == [TrackPass(1003, "both", 1001, 1007, (1,))]
    assert plan.skipped[1008] == MISSING
    assert set(plan.skipped) == frames(1008, 1020)
    assert "object 1" in plan.skipped[1015]
    assert plan.produced == frames(1001, 1007)


def test_each_side_of_a_gap_with_its_own_prompt_is_tracked():
    available = frames(1001, 1020) - {1010}
    plan = plan_render(frames(1001, 1020), available, {1: [1001, 1020]})
    assert plan.passes == [
        TrackPass(1001, "forward", 1001, 1009, (1,)),
        TrackPass(1020, "backward", 1011, 1020, (1,)),
    ]
    assert set(plan.skipped) == {1010}


def test_a_frame_is_produced_only_if_every_object_reaches_it():
    available = frames(1001, 1020) - {1010}
    plan = plan_render(frames(1001, 1020), available, {1: [1001, 1020], 2: [1001]})
    assert plan.produced == frames(1001, 1009)
    assert set(plan.skipped) == frames(1010, 1020)
    assert "object 2" in plan.skipped[1011]
    assert plan.passes == [TrackPass(1001, "forward", 1001, 1009, (1, 2))]


def test_nothing_wanted_plans_nothing():
    plan = plan_render([], frames(1001, 1010), {1: [1001]})
    assert plan.passes == []
    assert plan.skipped == {}
    assert plan.produced == set()
