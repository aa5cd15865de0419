"""Two clients on one shot: nobody's job is cancelled silently; concurrent prompts all land.

Defect (LOW, issue 13): a second client's propagate silently cancelled the first client's job
(`busy` was specified but never sent; `cancelled` had no reason).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import pytest

from sam2matting.protocol.errors import ErrorCode, ProtocolError

from ..backend.server.harness import FIRST, box_prompt, open_shot, put_all
from .conftest import FIGURES
from .harness import consistency_problems, tracker_disagreement

N = 12


def _shot(client, shot_id: str) -> None:
    open_shot(client, shot_id, N)
    put_all(client, shot_id, N)
    client.request("add_prompt_request", box_prompt(shot_id, FIRST))


def test_another_clients_propagate_is_busy_and_the_job_finishes(backend):
    with backend.client() as a, backend.client() as b:
        _shot(a, "tc")
        job = a.propagate(shot_id="tc", direction="forward")
        events = job.events(idle_timeout_s=60)
        next(events)
        with pytest.raises(ProtocolError) as err:
            b.propagate(shot_id="tc", direction="forward")
        assert err.value.code is ErrorCode.BUSY
        assert err.value.details["job_id"] == job.job_id
        list(events)
        assert job.end.msg_type == "done"


@contextmanager
def worker_paused(backend) -> Iterator[None]:
    """Hold the GPU worker: jobs started meanwhile wait, so what ends them is deterministic."""
    gate = threading.Event()
    backend.server.worker.submit(lambda: gate.wait(60))
    try:
        yield
    finally:
        gate.set()


def test_every_way_a_job_ends_early_says_why(backend):
    with backend.client() as a, backend.client() as b:
        _shot(a, "why")
        with worker_paused(backend):
            first = a.propagate(shot_id="why", direction="forward")
            second = a.propagate(shot_id="why", direction="forward")  # the same client re-tracks
        list(first.events(idle_timeout_s=60))
        assert first.end.msg_type == "cancelled"
        assert first.end.content["reason"] == "replaced"
        assert first.end.content["replaced_by"] == second.job_id
        list(second.events(idle_timeout_s=60))

        b.request("add_prompt_request", box_prompt("why", FIRST + 3, obj=2, name="two"))
        for end_it, reason in (
            (
                lambda job: b.request("remove_object_request", {"shot_id": "why", "object_id": 2}),
                "object_removed",
            ),
            (lambda job: b.cancel(job_id=job.job_id), "requested"),
            (lambda job: b.request("close_shot_request", {"shot_id": "why"}), "shot_closed"),
        ):
            with worker_paused(backend):
                job = a.propagate(shot_id="why", direction="forward")
                sent = threading.Thread(target=end_it, args=(job,))
                sent.start()
            sent.join(60)
            list(job.events(idle_timeout_s=60))
            assert job.end.msg_type == "cancelled"
            assert job.end.content["reason"] == reason


def test_concurrent_prompts_from_two_clients_all_land(backend):
    errors = []
    with backend.client() as setup:
        _shot(setup, "cc")

    def artist(obj: int) -> None:
        try:
            with backend.client() as client:
                for i in range(4):
                    frame = FIRST + (obj * 3 + i) % N
                    client.request(
                        "add_prompt_request", box_prompt("cc", frame, obj=obj, name=f"o{obj}")
                    )
                    FIGURES["messages"] += 1
                job = client.propagate(shot_id="cc", direction="both", objects=[obj])
                list(job.events(idle_timeout_s=60))
        except ProtocolError as exc:  # busy is a fair answer for the second propagate
            if exc.code is not ErrorCode.BUSY:
                errors.append(exc)

    threads = [threading.Thread(target=artist, args=(obj,)) for obj in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert errors == []
    shot = backend.server.shots["cc"]
    assert {p.object_id for p in shot.journal.prompts} == {1, 2, 3}
    assert tracker_disagreement(shot) is None
    assert consistency_problems(shot.root) == []
