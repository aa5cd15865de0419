"""The shot's prompt journal, `<shot>/shot.json`: everything needed to re-create its mattes.

Settings, objects, every prompt in order, a revision that increments on every change, and per
object the frames whose mattes are valid (with the revision that produced them) and the frames
whose mattes are stale (still in the cache, but older than a prompt change: re-track them).
Each change is written atomically before the method returns, so a restarted backend
(`ShotJournal.load`) picks up exactly where it stopped. Mask prompts are 8-bit PNGs under
`<shot>/prompts/`.

`export_shot_file` / `load_shot_file` carry the same shot between machines (Nuke to the farm):
no paths, masks inlined as base64 PNG, no cache state.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Union

from sam2matting.protocol import limits
from sam2matting.protocol.atomic import atomic_write_bytes, clean_stale_temp_files
from sam2matting.protocol.cache_layout import JOURNAL_FILE, PROMPTS_DIR, mask_file
from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.frames import from_ranges, to_ranges
from sam2matting.protocol.shot_file import SHOT_FILE, check_shot_file

from ..tracking.base import Prompt
from . import shot_file
from .prompt_masks import read_mask, write_mask
from .records import (
    JOURNAL_FORMAT,
    SCHEMA_VERSION,
    PromptRecord,
    ShotSettings,
    as_box,
    check_version,
    now_utc,
    parse,
    read_json,
)

log = logging.getLogger(__name__)

MAX_OBJECT_ID = limits.MAX_OBJECT_ID


class ShotJournal:
    """A shot's settings, objects, prompts and valid frames, persisted on every change.

    Thread-safe (one lock); create with `create`, `load`, `open_or_create` or `load_shot_file`.
    """

    def __init__(self, root: Path, settings: ShotSettings) -> None:
        self.root = Path(root)
        self.settings = settings
        self.revision = 0
        self._next_seq = 0
        self._objects: Dict[int, str] = {}
        self._prompts: List[PromptRecord] = []
        self._valid: Dict[int, Dict[int, Set[int]]] = {}  # object -> revision -> frames
        self._stale: Dict[int, Set[int]] = {}  # object -> frames matted before a prompt change
        self._lock = threading.RLock()
        self._depth = 0  # nesting of open transactions (the outermost commits)
        self._created: List[Path] = []  # files the open transaction wrote (deleted if undone)

    # ------------------------------------------------------------ opening

    @classmethod
    def create(cls, root: Union[Path, str], settings: ShotSettings) -> ShotJournal:
        """Start a new journal under `root` (which must not hold one yet)."""
        path = Path(root) / JOURNAL_FILE
        if path.exists():
            raise FileExistsError(f"{path} exists; load it instead")
        (Path(root) / PROMPTS_DIR).mkdir(parents=True, exist_ok=True)
        journal = cls(Path(root), settings)
        journal._save()
        return journal

    @classmethod
    def load(cls, root: Union[Path, str]) -> ShotJournal:
        """Restore a journal from `<root>/shot.json`.

        Raises:
            ProtocolError: UNKNOWN_SHOT when there is none, VERSION_MISMATCH for another major
                schema version, INVALID_FIELD when it is damaged.
        """
        path = Path(root) / JOURNAL_FILE
        if not path.is_file():
            raise ProtocolError(
                ErrorCode.UNKNOWN_SHOT, f"no shot journal at {path}", details={"path": str(path)}
            )
        try:
            data = read_json(path)
            check_version(data, JOURNAL_FORMAT, str(path))
            journal = parse(str(path), lambda: cls._from_json(Path(root), data))
        except ProtocolError as exc:
            if exc.code is not ErrorCode.INVALID_FIELD:
                raise  # another major version: the file is fine, this backend is too old
            raise ProtocolError(
                ErrorCode.DAMAGED_STATE,
                f"the shot's journal {path} is damaged: {exc.message}",
                hint="Nothing was changed. Restore shot.json from a backup, or import the "
                "shot file exported from Nuke under a new shot id.",
                details={"path": str(path)},
            ) from exc
        clean_stale_temp_files(Path(root))
        clean_stale_temp_files(Path(root) / PROMPTS_DIR)
        return journal

    @classmethod
    def open_or_create(cls, root: Union[Path, str], settings: ShotSettings) -> ShotJournal:
        """Load the journal at `root` if its settings match, else create one.

        Raises:
            ProtocolError: SHOT_MISMATCH when a journal with other format or range exists.
        """
        if not (Path(root) / JOURNAL_FILE).is_file():
            return cls.create(root, settings)
        journal = cls.load(root)
        old, new = journal.settings, settings
        fixed = ("width", "height", "first_frame", "last_frame")  # pixel coordinates stay valid
        if any(getattr(old, name) != getattr(new, name) for name in fixed):
            raise ProtocolError(
                ErrorCode.SHOT_MISMATCH,
                f"shot {old.shot_id} exists as {old.width}x{old.height} "
                f"{old.first_frame}-{old.last_frame}, not {new.width}x{new.height} "
                f"{new.first_frame}-{new.last_frame}",
                details={"shot_id": old.shot_id},
            )
        if new != old:  # pixel aspect, colourspace, tracker, engine and params may change
            journal.update_settings(new)
        return journal

    # ------------------------------------------------------------ reading

    @property
    def objects(self) -> Dict[int, str]:
        """Object id -> name, in the order objects were added."""
        with self._lock:
            return dict(self._objects)

    @property
    def prompts(self) -> List[PromptRecord]:
        with self._lock:
            return list(self._prompts)

    def prompts_for(self, obj_id: int) -> List[PromptRecord]:
        """One object's prompts in the order they were given."""
        with self._lock:
            return [p for p in self._prompts if p.object_id == obj_id]

    def as_prompt(self, record: PromptRecord) -> Prompt:
        """The tracker's Prompt for a journal record, with its mask loaded."""
        mask = None if record.mask is None else read_mask(self.root / PROMPTS_DIR / record.mask)
        return Prompt(
            points=record.points,
            labels=record.labels,
            box=record.box,
            mask=mask,
            clear_old=record.clear_old,
        )

    def valid_frames(self, obj_id: int) -> List[int]:
        """Frames whose matte of this object is valid, ascending."""
        with self._lock:
            spans = self._valid.get(obj_id, {})
            return sorted(set().union(*spans.values())) if spans else []

    def valid_revisions(self, obj_id: int) -> Dict[int, int]:
        """Frame -> the revision that produced its valid matte, for one object."""
        with self._lock:
            spans = self._valid.get(obj_id, {})
            return {f: rev for rev, frames in spans.items() for f in frames}

    def valid_by_revision(self, obj_id: int) -> Dict[int, List[List[int]]]:
        """Revision -> frame ranges it produced, for one object."""
        with self._lock:
            spans = self._valid.get(obj_id, {})
            return {rev: to_ranges(frames) for rev, frames in sorted(spans.items()) if frames}

    def stale_frames(self, obj_id: int) -> List[int]:
        """Frames whose cached matte of this object predates a prompt change, ascending."""
        with self._lock:
            return sorted(self._stale.get(obj_id, ()))

    def stale_ranges(self) -> List[Dict[str, Any]]:
        """[{object_id, ranges}] for every object with stale frames (open_shot_reply)."""
        with self._lock:
            return [
                {"object_id": obj_id, "ranges": to_ranges(frames)}
                for obj_id, frames in sorted(self._stale.items())
                if frames
            ]

    # ------------------------------------------------------------ changing

    def add_prompt(self, frame: int, obj_id: int, name: Optional[str], prompt: Prompt) -> int:
        """Record a prompt (adding the object if new) and return its sequence number.

        With `prompt.clear_old`, earlier prompts of this object on this frame are dropped, as
        the tracker drops them. A `name` different from the object's renames it.
        """
        self.check_prompt(frame, obj_id, prompt)
        with self._change():
            seq = self._next_seq
            mask_name = None
            if prompt.mask is not None:
                mask_name = mask_file(seq)
                self._created.append(self.root / PROMPTS_DIR / mask_name)  # gone if undone
                write_mask(self.root / PROMPTS_DIR / mask_name, prompt.mask)
            record = PromptRecord(
                seq=seq,
                frame=frame,
                object_id=obj_id,
                points=tuple((float(x), float(y)) for x, y in prompt.points),
                labels=tuple(int(v) for v in prompt.labels),
                box=None if prompt.box is None else as_box(prompt.box),
                mask=mask_name,
                clear_old=prompt.clear_old,
                timestamp=now_utc(),
            )
            dropped = []
            if prompt.clear_old:
                dropped = [p for p in self._prompts if (p.object_id, p.frame) == (obj_id, frame)]
                self._prompts = [p for p in self._prompts if p not in dropped]
            self._prompts.append(record)
            self._objects.setdefault(obj_id, name or f"obj{obj_id}")
            if name:
                self._objects[obj_id] = name
            self._next_seq += 1
        self._delete_masks(dropped)
        return seq

    def remove_object(self, obj_id: int) -> None:
        """Forget an object: its prompts, masks and valid frames."""
        with self._change():
            self._require(obj_id)
            dropped = [p for p in self._prompts if p.object_id == obj_id]
            self._prompts = [p for p in self._prompts if p.object_id != obj_id]
            del self._objects[obj_id]
            self._valid.pop(obj_id, None)
            self._stale.pop(obj_id, None)
        self._delete_masks(dropped)

    def remove_prompt(self, frame: int, obj_id: int, invalidate: Iterable[int] = ()) -> List[int]:
        """Forget one object's prompt(s) on one frame and mark the `invalidate` frames stale, in
        one change; the object and its mattes stay. Returns the frames that became stale."""
        with self._change():
            self._require(obj_id)
            dropped = [p for p in self._prompts if (p.object_id, p.frame) == (obj_id, frame)]
            if not dropped:
                raise ProtocolError(
                    ErrorCode.NO_PROMPT,
                    f"object {obj_id} of shot {self.settings.shot_id} has no prompt on frame "
                    f"{frame}",
                    details={"object_id": obj_id, "frame": frame},
                )
            self._prompts = [p for p in self._prompts if p not in dropped]
            drop = set(self.valid_frames(obj_id)) & set(invalidate)
            if drop:
                _remove_frames(self._valid[obj_id], drop)
                self._stale.setdefault(obj_id, set()).update(drop)
        self._delete_masks(dropped)
        return sorted(drop)

    def rename_object(self, obj_id: int, name: str) -> None:
        if not name:
            raise ProtocolError(ErrorCode.INVALID_FIELD, "an object name must not be empty")
        with self._change():
            self._require(obj_id)
            self._objects[obj_id] = name

    def update_settings(self, settings: ShotSettings) -> None:
        """Change pixel aspect, colourspace, tracker, engine or params (not size or range)."""
        with self._change():
            self.settings = replace(settings, shot_id=self.settings.shot_id)

    def mark_valid(
        self, obj_id: int, frames: Iterable[int], revision: Optional[int] = None
    ) -> None:
        """Record that these frames' mattes of `obj_id` are valid, produced at `revision`.

        `revision` defaults to the current one; pass the revision a tracking job started from.
        """
        frames = set(frames)
        with self._change():
            self._require(obj_id)
            produced = self.revision if revision is None else int(revision)
            spans = self._valid.setdefault(obj_id, {})
            _remove_frames(spans, frames)
            spans.setdefault(produced, set()).update(frames)
            self._stale.get(obj_id, set()).difference_update(frames)

    def invalidate(self, obj_id: int, frames: Optional[Iterable[int]] = None) -> List[int]:
        """Mark frames (default: all) of an object invalid; returns those that were valid.

        Their mattes stay in the cache and are recorded as stale until marked valid again.
        """
        with self._lock:
            before = set(self.valid_frames(obj_id))
            drop = before if frames is None else before & set(frames)
            if not drop:
                return []
            with self._change():
                _remove_frames(self._valid[obj_id], drop)
                self._stale.setdefault(obj_id, set()).update(drop)
        return sorted(drop)

    # ------------------------------------------------------------ shot files

    def export_shot_file(self, path: Union[Path, str]) -> None:
        """Write the portable shot file (no machine paths, masks inlined, no cache state)."""
        with self._lock:
            data = shot_file.to_shot_file(
                self.settings,
                self.revision,
                self._objects,
                self._prompts,
                self.root / PROMPTS_DIR,
            )
        SHOT_FILE.check(data, "shot_file")  # what every reader will check
        atomic_write_bytes(Path(path), json.dumps(data, indent=1).encode("utf-8"))

    @classmethod
    def load_shot_file(
        cls, path: Union[Path, str], root: Union[Path, str], replace_existing: bool = False
    ) -> ShotJournal:
        """Create a journal under `root` from a shot file (what the farm `render` does).

        Raises:
            FileExistsError: `root` holds a journal and `replace_existing` is False.
            ProtocolError: VERSION_MISMATCH / INVALID_FIELD for a foreign or damaged file.
        """
        source = Path(path)
        data = check_shot_file(read_json(source), str(source))
        target = Path(root)
        if (target / JOURNAL_FILE).exists() and not replace_existing:
            raise FileExistsError(f"{target / JOURNAL_FILE} exists")
        content = parse(str(source), lambda: shot_file.from_shot_file(data))
        journal = cls(target, content.settings)
        journal.revision = content.revision
        journal._objects = dict(content.objects)
        masks_dir = target / PROMPTS_DIR
        journal._prompts = parse(str(source), lambda: shot_file.write_masks(content, masks_dir))
        journal._next_seq = max([0] + [p.seq + 1 for p in journal._prompts])
        journal._save()
        return journal

    # ------------------------------------------------------------ internals

    @contextmanager
    def transaction(self) -> Iterator[int]:
        """Group changes into one commit: one revision, one write of shot.json, all or nothing.

        Yields the revision the commit will have (stamp it on what the change produces, e.g.
        matte files). If anything raises inside, or saving fails, every change is undone in
        memory and shot.json is untouched. Nested transactions join the outermost one.
        """
        with self._change():
            yield self.revision + 1

    @contextmanager
    def _change(self) -> Iterator[None]:
        """Apply a change under the lock, bump the revision and save; undo it if saving fails."""
        with self._lock:
            if self._depth:  # inside a transaction: the outermost one bumps and saves
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            saved = (
                self.settings,
                self.revision,
                self._next_seq,
                dict(self._objects),
                list(self._prompts),
                {o: {r: set(f) for r, f in spans.items()} for o, spans in self._valid.items()},
                {o: set(f) for o, f in self._stale.items()},
            )
            self._depth = 1
            try:
                yield
                self.revision += 1
                self._save()
            except BaseException:
                (
                    self.settings,
                    self.revision,
                    self._next_seq,
                    self._objects,
                    self._prompts,
                    self._valid,
                    self._stale,
                ) = saved
                for path in self._created:
                    path.unlink(missing_ok=True)
                raise
            finally:
                self._depth = 0
                self._created = []

    def _save(self) -> None:
        atomic_write_bytes(self.root / JOURNAL_FILE, json.dumps(self._to_json(), indent=1).encode())

    def _to_json(self) -> Dict[str, Any]:
        return {
            "format": JOURNAL_FORMAT,
            "version": SCHEMA_VERSION,
            "shot": self.settings.to_json(),
            "revision": self.revision,
            "next_seq": self._next_seq,
            "objects": [{"id": i, "name": n} for i, n in self._objects.items()],
            "prompts": [p.to_json() for p in self._prompts],
            "valid": [
                {
                    "object_id": obj_id,
                    "spans": [
                        {"revision": rev, "ranges": to_ranges(frames)}
                        for rev, frames in sorted(spans.items())
                    ],
                }
                for obj_id, spans in self._valid.items()
            ],
            "stale": self.stale_ranges(),
        }

    @classmethod
    def _from_json(cls, root: Path, data: Dict[str, Any]) -> ShotJournal:
        journal = cls(root, ShotSettings.from_json(data["shot"]))
        journal.revision = int(data["revision"])
        journal._objects = {int(o["id"]): str(o["name"]) for o in data["objects"]}
        journal._prompts = [PromptRecord.from_json(p) for p in data["prompts"]]
        journal._next_seq = max(
            [int(data.get("next_seq", 0))] + [p.seq + 1 for p in journal._prompts]
        )
        for entry in data.get("valid", []):
            journal._valid[int(entry["object_id"])] = {
                int(span["revision"]): set(from_ranges(span["ranges"])) for span in entry["spans"]
            }
        for entry in data.get("stale", []):  # absent in journals written before protocol 1.1
            journal._stale[int(entry["object_id"])] = set(from_ranges(entry["ranges"]))
        return journal

    def check_prompt(self, frame: int, obj_id: int, prompt: Prompt) -> None:
        """Refuse a prompt the journal would not record (before anything else changes)."""
        s = self.settings
        if not s.first_frame <= frame <= s.last_frame:
            raise ProtocolError(
                ErrorCode.FRAME_OUT_OF_RANGE,
                f"prompt on frame {frame}, outside the shot's range {s.first_frame}-{s.last_frame}",
                details={"frame": frame},
            )
        if not 1 <= obj_id <= MAX_OBJECT_ID:
            raise ProtocolError(
                ErrorCode.INVALID_FIELD, f"object ids run from 1 to {MAX_OBJECT_ID}, not {obj_id}"
            )
        if prompt.is_empty():
            raise ProtocolError(ErrorCode.NO_PROMPT, f"empty prompt for object {obj_id}")
        if len(prompt.points) != len(prompt.labels) or any(v not in (0, 1) for v in prompt.labels):
            raise ProtocolError(
                ErrorCode.INVALID_FIELD,
                f"{len(prompt.points)} points need as many labels of 0 or 1, got {prompt.labels}",
            )
        if prompt.mask is not None and prompt.mask.shape != (s.height, s.width):
            raise ProtocolError(
                ErrorCode.FRAME_SIZE_MISMATCH,
                f"mask prompt is {prompt.mask.shape[1]}x{prompt.mask.shape[0]}, "
                f"the shot is {s.width}x{s.height}",
            )

    def _require(self, obj_id: int) -> None:
        if obj_id not in self._objects:
            raise ProtocolError(
                ErrorCode.UNKNOWN_OBJECT,
                f"shot {self.settings.shot_id} has no object {obj_id}",
                details={"object_id": obj_id},
            )

    def _delete_masks(self, records: Iterable[PromptRecord]) -> None:
        for record in records:
            if record.mask is not None:
                (self.root / PROMPTS_DIR / record.mask).unlink(missing_ok=True)


def _remove_frames(spans: Dict[int, Set[int]], frames: Set[int]) -> None:
    """Take frames out of every revision's set, dropping sets left empty."""
    for rev in list(spans):
        spans[rev] -= frames
        if not spans[rev]:
            del spans[rev]
