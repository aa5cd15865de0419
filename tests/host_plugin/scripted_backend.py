"""A small scripted backend on the protocol's real ServerEndpoint (real sockets, real signing):
for controller tests on every Nuke Python, where the real backend (torch) cannot run.

It keeps shots the way the real backend does (frames by number, prompts with seq, objects,
revision, stale frames by the backend's own rule), validates what the plugin sends (frame
sizes, prompts on stored frames, ranges) and
writes mattes into <cache>/<shot>/matte/matte.####.exr: for every object, a disc of radius
RADIUS around its first positive point of its prompt nearest in time (top-left coordinates, as
received). So a test can check that a click at a Nuke position comes back as alpha exactly there.
Every request is recorded for assertions.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set

from nuke import _exr

from sam2matting.backend.server.staleness import reached_through
from sam2matting.protocol import paths
from sam2matting.protocol.connection import ConnectionInfo, new_key, write_connection_file
from sam2matting.protocol.envelope import Message
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import to_ranges as frame_ranges
from sam2matting.protocol.server import ServerEndpoint

RADIUS = 4.0
# Names the real backend converts without OCIO (backend/imageio/colour.py, lower case).
COLOURSPACES = ("scene_linear", "linear", "lin_rec709", "lin_srgb", "acescg", "srgb", "rec709")


class Shot:
    def __init__(self, content: Dict[str, Any], cache_dir: Path) -> None:
        self.id = content["shot_id"]
        self.width, self.height = content["width"], content["height"]
        self.first, self.last = content["first_frame"], content["last_frame"]
        self.tracker, self.engine = content["tracker"], content["engine"]
        self.frames: Dict[int, bytes] = {}
        self.objects: Dict[int, str] = {}
        self.prompts: List[Dict[str, Any]] = []
        self.revision = 0
        self.seq = 0
        self.cache_dir = cache_dir
        self.valid: Dict[int, Set[int]] = {}  # object -> frames with a current matte
        self.stale: Dict[int, Set[int]] = {}  # object -> frames matted before a prompt change

    def matted(self, oid: int, frames: Iterable[int]) -> None:
        frames = set(frames)
        self.valid.setdefault(oid, set()).update(frames)
        self.stale.get(oid, set()).difference_update(frames)

    def invalidate(self, oid: int, frame: int, was_prompted: bool, itself: bool) -> List[int]:
        """The real backend's rule (backend/server/staleness.py) on this shot's prompts."""
        prompted = [p["frame"] for p in self.prompts if p["object_id"] == oid]
        reached = reached_through(frame, prompted, self.first, self.last, was_prompted)
        if itself:
            reached.add(frame)
        drop = reached & self.valid.get(oid, set())
        self.valid.get(oid, set()).difference_update(drop)
        self.stale.setdefault(oid, set()).update(drop)
        return sorted(drop)

    def state(self, restored: bool) -> Dict[str, Any]:
        return {
            "shot_id": self.id,
            "restored": restored,
            "revision": self.revision,
            "objects": [{"id": i, "name": n} for i, n in sorted(self.objects.items())],
            "prompts": [dict(p) for p in self.prompts],
            "frames_stored": frame_ranges(self.frames),
            "frames_matted": frame_ranges(
                f for f in range(self.first, self.last + 1) if self.matte_path(f).is_file()
            ),
            "cache_dir": str(self.cache_dir),
            "matte_pattern": str(self.cache_dir / "matte" / "matte.####.exr"),
            "frames_stale": [
                {"object_id": oid, "ranges": frame_ranges(f)}
                for oid, f in sorted(self.stale.items())
                if f
            ],
            "tracker": self.tracker,
            "engine": self.engine,
        }

    def matte_path(self, frame: int) -> Path:
        return self.cache_dir / "matte" / f"matte.{frame:04d}.exr"

    def write_matte(self, frame: int) -> Path:
        """A disc per object around its nearest prompt's first positive point."""
        planes: Dict[str, List[float]] = {}
        combined = [0.0] * (self.width * self.height)
        for oid in sorted(self.objects):
            mine = [p for p in self.prompts if p["object_id"] == oid and 1 in p["labels"]]
            plane = [0.0] * (self.width * self.height)
            if mine:
                near = min(mine, key=lambda p: (abs(p["frame"] - frame), -p["seq"]))
                cx, cy = near["points"][near["labels"].index(1)]
                for y in range(self.height):
                    for x in range(self.width):
                        if (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= RADIUS**2:
                            plane[y * self.width + x] = 1.0
            planes[f"obj{oid}.A"] = plane
            combined = [max(a, b) for a, b in zip(combined, plane)]
        planes["A"] = combined
        path = self.matte_path(frame)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(_exr.encode(self.width, self.height, planes, _exr.FLOAT, _exr.ZIP))
        tmp.replace(path)
        return path


class ScriptedBackend:
    """Run with `with ScriptedBackend(cache_root) as backend:`; writes the connection file."""

    def __init__(
        self,
        cache_root: Path,
        shares_filesystem: bool = False,
        allow_paths: bool = False,
        allowed_roots: Optional[List[Path]] = None,
        path_roots: Optional[List[Path]] = None,
        frame_s: float = 0.0,
        protocol_version: str = "1.1",
    ) -> None:
        self.endpoint = ServerEndpoint(ConnectionInfo(new_key()))
        self.info = self.endpoint.bind()
        write_connection_file(paths.default_connection_file(), self.info)
        self.cache_root = cache_root
        self.shares_filesystem = shares_filesystem
        self.allow_paths = allow_paths
        self.allowed_roots = [Path(r).resolve() for r in allowed_roots or []]
        # With path_roots, plate paths must resolve (links followed) under one, as the real
        # backend's allowed roots; without, allow_paths alone decides.
        self.path_roots = [Path(r).resolve() for r in path_roots] if path_roots else None
        self.frame_s = frame_s
        self.protocol_version = protocol_version  # what describe says (1.0: no remove_prompt)
        self.shots: Dict[str, Shot] = {}
        self.requests: List[Dict[str, Any]] = []
        self.cancelled: Dict[str, threading.Event] = {}
        self.jobs: List[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="scripted-backend")

    def __enter__(self) -> ScriptedBackend:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for event in list(self.cancelled.values()):
            event.set()
        for job in self.jobs:
            job.join(5)
        self._stop.set()
        self._thread.join(5)
        self.endpoint.close()

    def wait_stopped(self, timeout_s: float) -> bool:
        """Block until a shutdown_request stopped the backend (or the timeout passed)."""
        return self._stop.wait(timeout_s)

    def of_type(self, msg_type: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["type"] == msg_type]

    def _loop(self) -> None:
        while not self._stop.is_set():
            msg = self.endpoint.poll(0.02)
            if msg is None:
                continue
            with self._lock:
                self.requests.append(
                    {
                        "type": msg.msg_type,
                        "content": msg.content,
                        "buffers": [bytes(b) for b in msg.buffers],
                    }
                )
            try:
                getattr(self, "_" + msg.msg_type)(msg)
            except ProtocolError as exc:
                self.endpoint.send_error(msg, exc)

    def _reply(self, msg: Message, content: Dict[str, Any]) -> None:
        self.endpoint.send(msg, msg.msg_type[: -len("_request")] + "_reply", content)

    def _shot(self, shot_id: str) -> Shot:
        if shot_id not in self.shots:
            raise ProtocolError(ErrorCode.UNKNOWN_SHOT, f"no shot {shot_id}")
        return self.shots[shot_id]

    # ------------------------------------------------------------ requests

    def _ping_request(self, msg: Message) -> None:
        self._reply(msg, {"server_time": time.time(), "uptime_s": 1.0, "jobs_running": 0})

    def _describe_request(self, msg: Message) -> None:
        cap = {"available": True, "reason": None, "params": []}
        self._reply(
            msg,
            {
                "package_version": "0.1.0",
                "protocol_version": self.protocol_version,
                "server_id": "server-scripted",
                "hostname": "scripted",
                "shares_filesystem": self.shares_filesystem,
                "device": {"type": "cpu", "name": "test CPU"},
                "trackers": [
                    dict(cap, name="flow", label="Optical flow", fallback=True),
                    dict(
                        cap,
                        name="sam2.1-large",
                        label="SAM2.1 large",
                        available=False,
                        reason="model file not installed",
                    ),
                ],
                "engines": [dict(cap, name="closed_form", label="Closed-form", fallback=True)],
                "limits": {
                    "max_json_bytes": 4194304,
                    "max_buffers": 64,
                    "max_buffer_bytes": 1 << 30,
                    "max_total_bytes": 1 << 31,
                },
            },
        )

    def _open_shot_request(self, msg: Message) -> None:
        c = msg.content
        shot = self.shots.get(c["shot_id"])
        if shot is not None and (shot.width, shot.height, shot.first, shot.last) != (
            c["width"],
            c["height"],
            c["first_frame"],
            c["last_frame"],
        ):
            raise ProtocolError(ErrorCode.SHOT_MISMATCH, f"shot {shot.id} has another format")
        restored = shot is not None
        if shot is None:
            shot = self.shots[c["shot_id"]] = Shot(c, self._root(c["shot_id"], c["cache_dir"]))
        self._reply(msg, shot.state(restored))

    def _root(self, shot_id: str, requested: Optional[str]) -> Path:
        """As the real backend: the folder asked for when under the cache or an allowed root."""
        if requested:
            path = Path(requested).resolve()
            for root in [self.cache_root.resolve(), *self.allowed_roots]:
                if path == root or root in path.parents:
                    return path
        return self.cache_root / shot_id

    def _put_frames_request(self, msg: Message) -> None:
        shot = self._shot(msg.content["shot_id"])
        stored = []
        replaced = False
        for entry in msg.content["frames"]:
            if entry["path"] is not None:
                self._check_path(entry["path"], entry["colourspace"])
                blob = Path(entry["path"]).read_bytes()
            else:
                blob = bytes(msg.buffers[entry["image"]["buffer"]])
            image = _exr.decode(blob)
            if (image.width, image.height) != (shot.width, shot.height):
                raise ProtocolError(
                    ErrorCode.FRAME_SIZE_MISMATCH,
                    f"frame {entry['frame']} is {image.width}x{image.height}, shot is "
                    f"{shot.width}x{shot.height}",
                )
            replaced = replaced or entry["frame"] in shot.frames
            shot.frames[entry["frame"]] = blob
            stored.append(entry["frame"])
        stale: Set[int] = set()
        if replaced:  # as the real backend: new pixels for stored frames make every matte stale
            for oid in list(shot.valid):
                stale |= shot.valid[oid]
                shot.stale.setdefault(oid, set()).update(shot.valid.pop(oid))
        self._reply(msg, {"shot_id": shot.id, "stored": stored, "invalidated": frame_ranges(stale)})

    def _check_path(self, path: str, colourspace: Optional[str]) -> None:
        """As the real backend's frame store: allowed roots, then known colourspaces."""
        resolved = Path(path).resolve()
        if not self.allow_paths or (
            self.path_roots is not None
            and not any(r == resolved or r in resolved.parents for r in self.path_roots)
        ):
            raise ProtocolError(ErrorCode.PATH_NOT_ALLOWED, f"{path} not allowed")
        if colourspace is not None and colourspace.lower() not in COLOURSPACES:
            raise ProtocolError(ErrorCode.INVALID_FIELD, f"unknown colourspace {colourspace!r}")

    def _add_prompt_request(self, msg: Message) -> None:
        c = msg.content
        shot = self._shot(c["shot_id"])
        if c["frame"] not in shot.frames:
            raise ProtocolError(ErrorCode.FRAME_MISSING, f"frame {c['frame']} not sent")
        if c["mask"] is not None:
            mask = _exr.decode(bytes(msg.buffers[c["mask"]["buffer"]]))
            if "A" not in mask.planes:
                raise ProtocolError(ErrorCode.BAD_IMAGE, "the mask has no A channel")
        oid = c["object"]["id"]
        shot.objects[oid] = c["object"]["name"]
        was_prompted = any((p["object_id"], p["frame"]) == (oid, c["frame"]) for p in shot.prompts)
        shot.prompts = [
            p for p in shot.prompts if (p["object_id"], p["frame"]) != (oid, c["frame"])
        ]
        shot.prompts.append(
            {
                "seq": shot.seq,
                "frame": c["frame"],
                "object_id": oid,
                "points": c["points"],
                "labels": c["labels"],
                "box": c["box"],
                "has_mask": c["mask"] is not None,
            }
        )
        shot.seq += 1
        shot.revision += 1
        invalidated = shot.invalidate(oid, c["frame"], was_prompted, itself=False)
        path = shot.write_matte(c["frame"])
        shot.matted(oid, [c["frame"]])
        self._reply(
            msg,
            {
                "shot_id": shot.id,
                "frame": c["frame"],
                "object_id": oid,
                "revision": shot.revision,
                "invalidated": frame_ranges(invalidated),
                "matte_path": str(path) if c["matte"] == "path" else None,
            },
        )

    def _remove_object_request(self, msg: Message) -> None:
        shot = self._shot(msg.content["shot_id"])
        oid = msg.content["object_id"]
        if oid not in shot.objects:
            raise ProtocolError(ErrorCode.UNKNOWN_OBJECT, f"no object {oid}")
        del shot.objects[oid]
        shot.prompts = [p for p in shot.prompts if p["object_id"] != oid]
        shot.valid.pop(oid, None)
        shot.stale.pop(oid, None)
        shot.revision += 1
        self._reply(msg, {"shot_id": shot.id, "object_id": oid, "revision": shot.revision})

    def _remove_prompt_request(self, msg: Message) -> None:
        c = msg.content
        shot = self._shot(c["shot_id"])
        key = (c["object_id"], c["frame"])
        if not any((p["object_id"], p["frame"]) == key for p in shot.prompts):
            raise ProtocolError(ErrorCode.NO_PROMPT, f"no prompt for object {key[0]} on {key[1]}")
        shot.prompts = [p for p in shot.prompts if (p["object_id"], p["frame"]) != key]
        shot.revision += 1
        invalidated = shot.invalidate(key[0], key[1], was_prompted=True, itself=True)
        reply = dict(c, revision=shot.revision, invalidated=frame_ranges(invalidated))
        self._reply(msg, reply)

    def _shutdown_request(self, msg: Message) -> None:
        self._reply(msg, {})
        # Stop a moment later: the socket closes with linger 0, the reply must leave first.
        threading.Timer(0.3, self._stop.set).start()

    def _cancel_request(self, msg: Message) -> None:
        ids = [
            j for j, ev in self.cancelled.items() if j == msg.content["job_id"] and not ev.is_set()
        ]
        for job_id in ids:
            self.cancelled[job_id].set()
        self._reply(msg, {"cancelled": ids})

    def _propagate_request(self, msg: Message) -> None:
        c = msg.content
        shot = self._shot(c["shot_id"])
        if not shot.prompts:
            raise ProtocolError(ErrorCode.NO_PROMPT, "no prompts")
        start = c["start_frame"] if c["start_frame"] is not None else shot.prompts[-1]["frame"]
        first = c["first_frame"] if c["first_frame"] is not None else shot.first
        last = c["last_frame"] if c["last_frame"] is not None else shot.last
        if not (shot.first <= first <= start <= last <= shot.last):
            raise ProtocolError(ErrorCode.FRAME_OUT_OF_RANGE, f"{first}-{last} from {start}")
        forward = list(range(start, last + 1))
        backward = list(range(start, first - 1, -1))
        order = {"forward": forward, "backward": backward, "both": forward + backward[1:]}[
            c["direction"]
        ]
        lacking = [f for f in order if f not in shot.frames]
        if lacking:
            raise ProtocolError(ErrorCode.FRAME_MISSING, f"frames {lacking} were not sent")
        job_id = f"job-{msg.msg_id[:8]}"
        self.cancelled[job_id] = threading.Event()
        unchanged = frame_ranges(set(range(shot.first, shot.last + 1)) - set(order))
        self.endpoint.send(
            msg,
            "propagate_reply",
            {
                "job_id": job_id,
                "shot_id": shot.id,
                "frames_planned": len(order),
                "unchanged": unchanged,
            },
        )
        job = threading.Thread(target=self._run, args=(msg, shot, job_id, order), daemon=True)
        self.jobs.append(job)
        job.start()

    def _run(self, msg: Message, shot: Shot, job_id: str, order: List[int]) -> None:
        started = time.time()
        tracked = msg.content["objects"] or sorted(shot.objects)
        for done, frame in enumerate(order, start=1):
            if self.cancelled[job_id].is_set():
                self._end(msg, "cancelled", shot, job_id, done - 1, started)
                return
            time.sleep(self.frame_s)
            path = shot.write_matte(frame)
            for oid in tracked:
                shot.matted(oid, [frame])
            self.endpoint.send(
                msg,
                "progress",
                {
                    "job_id": job_id,
                    "shot_id": shot.id,
                    "frame": frame,
                    "done": done,
                    "total": len(order),
                    "objects": tracked,
                    "matte_path": str(path),
                    "frames_per_second": 10.0,
                },
            )
        self._end(msg, "done", shot, job_id, len(order), started)

    def _end(
        self, msg: Message, kind: str, shot: Shot, job_id: str, n: int, started: float
    ) -> None:
        self.endpoint.send(
            msg,
            kind,
            {
                "job_id": job_id,
                "shot_id": shot.id,
                "frames_done": n,
                "elapsed_s": time.time() - started,
            },
        )
        self.cancelled[job_id].set()


def alpha_at(path: Path, channel: str, x: int, y_top: int) -> float:
    """A matte file's sample at column x, row y_top (from the top)."""
    image = _exr.decode(Path(path).read_bytes())
    return image.display_plane(channel)[y_top * image.width + x]


def find_message(requests: List[Dict[str, Any]], msg_type: str) -> Optional[Dict[str, Any]]:
    found = [r for r in requests if r["type"] == msg_type]
    return found[-1] if found else None
