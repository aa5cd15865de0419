"""FIFOs and stalled paths: the backend answers every request, keeps answering pings, and stops.

Defect (MEDIUM, issue 13): describe's fs_probe did a blocking open() on the I/O thread (a FIFO or
a stalled mount hung everything, heartbeat included); a plate path that is a FIFO blocked a
decode thread forever, two such requests stopped all put_frames, and shutdown then hung.
"""

from __future__ import annotations

import builtins
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from sam2matting.protocol.errors import ErrorCode, ProtocolError

from ..backend.server.harness import FIRST, box_prompt, open_shot, raw_frame, start_server
from .conftest import FIGURES

N = 4


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "plates").mkdir(exist_ok=True)
    path = tmp_path / "plates" / "plate.1001.exr"
    os.mkfifo(path)
    yield path
    try:  # an old backend may still block in open(): give it a writer so it can finish
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError:
        pass


def _request_in_time(client: Any, msg_type: str, content: dict, limit_s: float) -> Any:
    """The request's answer (reply or error), which must come within `limit_s`."""
    start = time.monotonic()
    try:
        answer: Any = client.request(msg_type, content, timeout_s=limit_s)
    except ProtocolError as exc:
        answer = exc
    no_answer = isinstance(answer, ProtocolError) and answer.code is ErrorCode.TIMEOUT
    assert not no_answer or "did not finish" in answer.message, f"{msg_type}: no answer"
    assert time.monotonic() - start < limit_s
    return answer


def test_fifo_plate_paths_never_block_put_frames_or_shutdown(tmp_path, fifo):
    FIGURES["faults injected"] += 3
    running = start_server(tmp_path / "cache", allowed_roots=(tmp_path / "plates",))
    with running.client() as client:
        open_shot(client, "ff", N)
        bad = {"shot_id": "ff", "frames": [{"frame": FIRST, "path": str(fifo)}]}
        clients = [running.client() for _ in range(2)]
        for other in clients:  # two at once: they used to hold both decode threads forever
            other.send("put_frames_request", bad)
        answer = _request_in_time(client, "put_frames_request", bad, 10)
        assert isinstance(answer, ProtocolError)
        assert answer.code is ErrorCode.BAD_IMAGE
        assert "not a regular file" in answer.message
        entry, pixels = raw_frame(FIRST, 0)  # other frames still go through
        client.request(
            "put_frames_request", {"shot_id": "ff", "frames": [entry]}, [pixels], timeout_s=10
        )
        assert client.ping(timeout_s=2)["jobs_running"] == 0
        for other in clients:
            other.close()
    start = time.monotonic()
    running.stop()
    assert time.monotonic() - start < 15


def test_fifo_as_fs_probe_is_answered_at_once(tmp_path, fifo):
    FIGURES["faults injected"] += 1
    running = start_server(tmp_path / "cache")
    probe = fifo.parent / "sam2matting-probe-x" / "probe.txt"
    probe.parent.mkdir()
    os.mkfifo(probe)
    try:
        with running.client() as client:
            pinger = running.client()
            content = {"fs_probe": {"path": str(probe), "token": "0123456789abcdef"}}
            sent = client.send("describe_request", content)
            assert pinger.ping(timeout_s=2)  # the I/O thread is free meanwhile
            reply = client.wait(sent.msg_id, 10)
            assert reply.content["shares_filesystem"] is False
            pinger.close()
    finally:
        fd = os.open(probe, os.O_WRONLY | os.O_NONBLOCK) if _has_reader(probe) else None
        if fd is not None:
            os.close(fd)
        running.stop()


def test_stalled_fs_probe_never_holds_the_io_thread(tmp_path, monkeypatch):
    try:
        from sam2matting.protocol import limits

        monkeypatch.setattr(limits, "PATH_TIMEOUT_S", 1)
    except ImportError:
        pass
    folder = tmp_path / "mnt" / "sam2matting-probe-y"
    folder.mkdir(parents=True)
    (folder / "probe.txt").write_text("0123456789abcdef")
    running = start_server(tmp_path / "cache")
    try:
        with running.client() as client, running.client() as pinger, Stall(folder):
            FIGURES["faults injected"] += 1
            content = {"fs_probe": {"path": str(folder / "probe.txt"), "token": "0123456789abcdef"}}
            sent = client.send("describe_request", content)
            time.sleep(0.2)
            assert pinger.ping(timeout_s=2)  # the heartbeat is answered meanwhile
            assert client.wait(sent.msg_id, 10).content["shares_filesystem"] is False
    finally:
        running.stop()


def _has_reader(path: Path) -> bool:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        return False
    return True


class Stall:
    """Opening any path under `folder` hangs (a network mount that stopped answering)."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)
        self.release = threading.Event()
        self.hung: List[str] = []

    def __enter__(self) -> Stall:
        self._os_open, self._open = os.open, builtins.open
        os.open = self._wrap(self._os_open)  # type: ignore[assignment]
        builtins.open = self._wrap(self._open)  # type: ignore[assignment]
        return self

    def _wrap(self, real: Any) -> Any:
        def opener(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, (str, os.PathLike)) and str(file).startswith(self.folder):
                self.hung.append(str(file))
                self.release.wait(60)
            return real(file, *args, **kwargs)

        return opener

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        os.open, builtins.open = self._os_open, self._open  # type: ignore[assignment]


def _plate_file(folder: Path, frame: int, i: int) -> Path:
    from sam2matting.backend.imageio.exr import write_exr

    from ..backend.server.harness import frame_truth

    rgb, _ = frame_truth(i)
    path = folder / f"plate.{frame}.exr"
    write_exr(path, {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2]}, pixel_type="half")
    return path


def test_stalled_mount_costs_a_timeout_not_the_server(tmp_path, monkeypatch):
    try:
        from sam2matting.protocol import limits

        monkeypatch.setattr(limits, "PATH_TIMEOUT_S", 1)
    except ImportError:  # a backend without read timeouts: the case shows what happens then
        pass
    plates = tmp_path / "plates"
    plates.mkdir()
    paths = [_plate_file(plates, FIRST + i, i) for i in range(N)]
    running = start_server(tmp_path / "cache", allowed_roots=(plates,))
    try:
        with running.client() as client:
            open_shot(client, "st", N)
            frames = [{"frame": FIRST + i, "path": str(p)} for i, p in enumerate(paths)]
            client.request("put_frames_request", {"shot_id": "st", "frames": frames})
            client.request("add_prompt_request", box_prompt("st", FIRST))
            with Stall(plates) as stall:
                FIGURES["faults injected"] += 1
                # a new reference: answered with a timeout, pings keep coming
                answer = _request_in_time(
                    client, "put_frames_request", {"shot_id": "st", "frames": frames[:1]}, 10
                )
                assert isinstance(answer, ProtocolError)
                assert answer.code is ErrorCode.TIMEOUT
                assert client.ping(timeout_s=2)
                # tracking over a stalled plate: the job fails, the worker does not hang
                job = client.propagate(shot_id="st", start_frame=FIRST + 1, direction="forward")
                with pytest.raises(ProtocolError) as err:
                    list(job.events(idle_timeout_s=30))
                assert err.value.code is ErrorCode.TIMEOUT
                assert stall.hung
            # once the mount answers again, everything works
            job = client.propagate(shot_id="st", start_frame=FIRST, direction="forward")
            list(job.events(idle_timeout_s=60))
            assert job.end.msg_type == "done"
    finally:
        running.stop()


def test_too_many_hung_reads_are_refused_at_once(tmp_path, monkeypatch):
    from sam2matting.backend.imageio import reading

    monkeypatch.setattr(reading, "STALLED", reading.StalledReads(2))
    plates = tmp_path / "plates"
    plates.mkdir()
    path = _plate_file(plates, FIRST, 0)
    with Stall(plates):
        for _ in range(2):
            with pytest.raises(ProtocolError) as err:
                reading.read_allowed(path, [plates], timeout_s=0.2)
            assert err.value.code is ErrorCode.TIMEOUT
        start = time.monotonic()
        with pytest.raises(ProtocolError) as err:
            reading.read_allowed(path, [plates], timeout_s=5)
        assert time.monotonic() - start < 1
        assert "never finished" in err.value.message
    for _ in range(100):  # released: the helpers finish and the count comes back down
        if reading.STALLED.running == 0:
            break
        time.sleep(0.05)
    assert reading.STALLED.running == 0
