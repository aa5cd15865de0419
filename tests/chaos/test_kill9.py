"""kill -9 at random points of a random workload; after each restart, every acknowledged prompt
and matte is intact, the cache agrees with the journal, and tracking resumes.

A real backend process (`sam2matting serve`) on loopback; a ledger records what the backend
acknowledged. The one request in flight when the process died may or may not have happened;
the checks accept both outcomes for it and nothing else.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

import pytest

from sam2matting.protocol.client import Client
from sam2matting.protocol.errors import ProtocolError

from ..backend.server.harness import FIRST, box_prompt, open_shot, put_all, start_server
from .conftest import FIGURES, Budget, scale
from .harness import ChildServer, DiskFull, consistency_problems, journal_of, matte_objects

N = 8
SHOT = "k9"


@dataclass
class Ledger:
    """What the backend acknowledged, and the request in flight."""

    prompts: Dict[Tuple[int, int], Tuple[float, ...]] = field(default_factory=dict)
    sent_boxes: Set[Tuple[int, int, Tuple[float, ...]]] = field(default_factory=set)
    mattes: Set[Tuple[int, int]] = field(default_factory=set)  # (frame, object)
    inflight: Optional[Tuple[str, int, int]] = None  # (kind, object, frame)
    acks: int = 0

    def prompted(self, obj: int, frame: int, box: Tuple[float, ...]) -> None:
        self.prompts[(obj, frame)] = box
        self.acks += 1

    def removed(self, obj: int) -> None:
        self.prompts = {k: v for k, v in self.prompts.items() if k[0] != obj}
        self.mattes = {m for m in self.mattes if m[1] != obj}
        self.acks += 1


def _workload(client: Client, ledger: Ledger, rng: random.Random, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            _one_op(client, ledger, rng)
    except ProtocolError:
        return  # the backend died under us: expected


def _one_op(client: Client, ledger: Ledger, rng: random.Random) -> None:
    roll = rng.random()
    objects = sorted({obj for obj, _ in ledger.prompts})
    if roll < 0.45 or not objects:
        obj, frame = rng.choice([1, 1, 2, 3]), FIRST + rng.randrange(N)
        content = box_prompt(SHOT, frame, obj=obj, name=f"o{obj}")
        box = tuple(round(v + rng.uniform(-2, 2), 2) for v in content["box"])
        content["box"] = list(box)
        ledger.sent_boxes.add((obj, frame, box))
        ledger.inflight = ("prompt", obj, frame)
        client.request("add_prompt_request", content)
        ledger.prompted(obj, frame, box)
        ledger.mattes.add((frame, obj))
    elif roll < 0.55 and len(objects) > 1:
        obj = rng.choice(objects)
        ledger.inflight = ("remove", obj, 0)
        client.request("remove_object_request", {"shot_id": SHOT, "object_id": obj})
        ledger.removed(obj)
    else:
        start = rng.choice(sorted({f for _, f in ledger.prompts}))
        ledger.inflight = ("track", 0, start)
        job = client.propagate(shot_id=SHOT, start_frame=start, direction="both")
        for event in job.events(idle_timeout_s=20):
            for obj in event.content["objects"]:
                ledger.mattes.add((event.content["frame"], obj))
            ledger.acks += 1
    ledger.inflight = None


def _check(home, ledger: Ledger) -> List[str]:
    """Everything acknowledged is there (the in-flight request: either way)."""
    root = home / "cache" / SHOT
    problems = consistency_problems(root)
    journal = journal_of(root)
    kind, obj_in_flight, frame_in_flight = ledger.inflight or ("", 0, 0)
    have = {(p.object_id, p.frame): p for p in journal.prompts}
    for (obj, frame), box in ledger.prompts.items():
        if kind == "remove" and obj == obj_in_flight:
            continue
        record = have.get((obj, frame))
        if record is None:
            problems.append(f"acknowledged prompt of object {obj} on frame {frame} lost")
        elif record.box != box and not (
            kind == "prompt" and (obj, frame) == (obj_in_flight, frame_in_flight)
        ):
            problems.append(f"prompt of object {obj} on frame {frame} changed")
    for record in journal.prompts:
        if (record.object_id, record.frame, record.box) not in ledger.sent_boxes:
            problems.append(f"a prompt nobody sent: {record}")
    for frame, obj in sorted(ledger.mattes):
        if kind == "remove" and obj == obj_in_flight:
            continue
        path = root / "matte" / f"matte.{frame}.exr"
        if not path.is_file() or obj not in matte_objects(path):
            problems.append(f"acknowledged matte of object {obj} on frame {frame} lost")
    return problems


@pytest.mark.slow
def test_kill9_at_random_points_loses_nothing_acknowledged(tmp_path):
    rounds = scale(2, 40)
    budget = Budget()
    rng = random.Random(1313)
    server = ChildServer(tmp_path)
    ledger = Ledger()
    client = server.start()
    try:
        open_shot(client, SHOT, N)
        put_all(client, SHOT, N)
        for round_ in range(rounds):
            if not budget.left():
                break
            stop = threading.Event()
            worker = threading.Thread(target=_workload, args=(client, ledger, rng, stop))
            worker.start()
            time.sleep(rng.uniform(0.5, 4.0))
            server.kill()
            FIGURES["kills"] += 1
            stop.set()
            worker.join(60)
            assert not worker.is_alive(), "the workload hung on a dead backend"
            client.close()
            client = server.start()
            state = open_shot(client, SHOT, N)  # reopening repairs what the kill left
            assert state["frames_stored"] == [[FIRST, FIRST + N - 1]]
            lost = _check(tmp_path, ledger)
            FIGURES["data lost"] += len(lost)
            assert lost == [], f"round {round_}: {lost}"
            # Tracking resumes from the journal alone.
            start = min(f for _, f in ledger.prompts) if ledger.prompts else None
            if start is not None:
                job = client.propagate(shot_id=SHOT, start_frame=start, direction="forward")
                frames = [e.content["frame"] for e in job.events(idle_timeout_s=60)]
                assert frames == list(range(start, FIRST + N))
            ledger.inflight = None
        FIGURES["messages"] += ledger.acks
    finally:
        client.close()
        server.stop()


def _script(client: Client, ledger: Ledger) -> None:
    """A fixed workload touching every kind of state file (about 50 file writes)."""
    open_shot(client, SHOT, N)
    put_all(client, SHOT, N)
    ledger.acks += N + 1
    for obj, frame in ((1, FIRST), (2, FIRST + 4)):
        content = box_prompt(SHOT, frame, obj=obj, name=f"o{obj}")
        box = tuple(content["box"])
        ledger.sent_boxes.add((obj, frame, box))
        ledger.inflight = ("prompt", obj, frame)
        client.request("add_prompt_request", content)
        ledger.prompted(obj, frame, box)
        ledger.mattes.add((frame, obj))
        ledger.inflight = ("track", 0, frame)
        job = client.propagate(shot_id=SHOT, start_frame=frame, direction="both")
        for event in job.events(idle_timeout_s=20):
            for o in event.content["objects"]:
                ledger.mattes.add((event.content["frame"], o))
            ledger.acks += 1
    ledger.inflight = ("remove", 1, 0)
    client.request("remove_object_request", {"shot_id": SHOT, "object_id": 1})
    ledger.removed(1)
    ledger.inflight = None


def _writes_of_the_script(tmp_path) -> int:
    counter = DiskFull()
    real = os.fsync
    os.fsync = counter.fsync
    try:
        running = start_server(tmp_path / "count")
        with running.client() as client, counter.failing(None):
            _script(client, Ledger())
        running.stop()
    finally:
        os.fsync = real
    return counter.calls


@pytest.mark.slow
def test_kill9_at_every_write_point_loses_nothing_acknowledged(tmp_path):
    budget = Budget()
    total = _writes_of_the_script(tmp_path)
    assert total > 30
    points = [f"{kind}:{n}" for n in range(1, total + 1) for kind in ("fsync", "replace")]
    points = random.Random(7).sample(points, scale(3, len(points)))
    for point in points:
        if not budget.left():
            break
        home = tmp_path / point.replace(":", "-")
        home.mkdir()
        ledger = Ledger()
        crashing = ChildServer(home, kill_at=point)
        client = crashing.start()
        try:
            _script(client, ledger)
        except ProtocolError:
            pass
        finally:
            client.close()
        crashing.kill()  # it died at its write point (or finished the script first)
        FIGURES["kills"] += 1
        FIGURES["messages"] += ledger.acks
        # The restart: a fresh backend (in this process, for speed) on the same cache.
        server = start_server(home / "cache")
        try:
            if (home / "cache" / SHOT / "shot.json").is_file():
                with server.client() as client:
                    open_shot(client, SHOT, N)
                lost = _check(home, ledger)
                FIGURES["data lost"] += len(lost)
                assert lost == [], f"killed at {point}: {lost}"
        finally:
            server.stop()
