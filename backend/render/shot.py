"""The shot file a render reads: its settings, objects and prompts, and the journal it seeds.

The shot file (exported by the Nuke node, `backend/shots/shot_file.py`) becomes the journal of
the shot in the render's private backend cache, holding only the objects being rendered; when
the backend opens the shot it restores them and re-seeds the tracker from their prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from sam2matting.backend.errors import UsageError
from sam2matting.backend.render.outputs import RenderIdentity, shot_digest
from sam2matting.backend.shots.journal import ShotJournal
from sam2matting.backend.shots.records import ShotSettings, parse, read_json
from sam2matting.backend.shots.shot_file import from_shot_file
from sam2matting.protocol.errors import ProtocolError
from sam2matting.protocol.shot_file import check_shot_file


@dataclass(frozen=True)
class RenderShot:
    """What a render needs from the shot file."""

    path: Path
    settings: ShotSettings
    names: Dict[int, str]  # the rendered objects: id -> name
    prompt_frames: Dict[int, List[int]]  # the rendered objects: id -> prompted frames
    identity: RenderIdentity

    @property
    def objects(self) -> Tuple[int, ...]:
        return self.identity.objects

    def all_prompt_frames(self) -> List[int]:
        return sorted({f for frames in self.prompt_frames.values() for f in frames})

    def seed_journal(self, cache_root: Path) -> None:
        """Write the shot's journal under `cache_root`, keeping only the rendered objects."""
        root = cache_root / self.settings.shot_id
        journal = ShotJournal.load_shot_file(self.path, root, replace_existing=True)
        for obj_id in list(journal.objects):
            if obj_id not in self.names:
                journal.remove_object(obj_id)


def load_render_shot(path: Path, wanted: Optional[Sequence[int]]) -> RenderShot:
    """Read and check a shot file; `wanted`: the objects to render (None: every prompted one).

    Raises:
        UsageError: the file is missing, damaged, of another version, has no prompts, or
            lacks a wanted object.
    """
    try:
        raw = read_json(path)
        data = check_shot_file(raw, str(path))
        content = parse(str(path), lambda: from_shot_file(data))
    except ProtocolError as exc:
        raise UsageError(f"cannot use the shot file: {exc.message}", exc.hint) from exc
    frames: Dict[int, List[int]] = {}
    for record in content.prompts:
        frames.setdefault(record.object_id, []).append(record.frame)
    objects = _select(path, content.objects, frames, wanted)
    identity = RenderIdentity(
        shot_id=content.settings.shot_id,
        revision=content.revision,
        digest=shot_digest(raw),  # of the content as written, not of the normalised copy
        objects=tuple(objects),
    )
    return RenderShot(
        path=path,
        settings=content.settings,
        names={o: content.objects.get(o, f"obj{o}") for o in objects},
        prompt_frames={o: sorted(set(frames[o])) for o in objects},
        identity=identity,
    )


def _select(
    path: Path,
    names: Dict[int, str],
    prompt_frames: Dict[int, List[int]],
    wanted: Optional[Sequence[int]],
) -> List[int]:
    if not prompt_frames:
        raise UsageError(
            f"the shot file {path} has no prompts",
            "Place points or a box on the object in Nuke, then export again.",
        )
    if not wanted:
        return sorted(prompt_frames)
    listing = ", ".join(f"{i} ({names.get(i, f'obj{i}')})" for i in sorted(prompt_frames))
    for obj_id in wanted:
        if obj_id not in prompt_frames:
            raise UsageError(
                f"the shot file has no prompted object {obj_id}",
                f"Its objects with prompts are: {listing}.",
            )
    return sorted(set(wanted))
