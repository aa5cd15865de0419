"""The farm shot file, written from the node with the standard library only.

Its schema is the protocol's (`sam2matting.protocol.shot_file.SHOT_FILE`, which the backend's
`ShotJournal.export_shot_file` also writes and `render` reads): the file is checked against it
before it is written, so the farm never gets a file it refuses. docs/CACHE_LAYOUT.md shows it.

Prompts come from the node (the source of truth), in top-left plate pixels. A mask prompt's PNG
comes from the backend's journal in the shot's cache folder (prompts/mask.<seq>.png), since
Nuke has no PNG encoder for an alpha without rendering: the journal has it once the prompt was
sent.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import coords
from .messages import UserError
from .state import NodeState, Prompt


def build(
    state: NodeState,
    fmt: coords.Format,
    cache_dir: str,
    colourspace: str,
    params: Optional[Dict[str, Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """The shot file's JSON object for the node's state (plate colourspace as the node says;
    `params`: the tracker's and engine's options, {"tracker": {...}, "engine": {...}})."""
    from sam2matting.protocol import cache_layout

    if state.shot is None:
        raise UserError("the shot has no format yet: press Set prompt or Track once first")
    journal = _read_journal(cache_dir)
    prompts = [
        _prompt_entry(p, fmt, journal, cache_dir)
        for p in sorted(state.prompts, key=lambda p: p.seq)
    ]
    data = {
        "format": cache_layout.SHOT_FILE_FORMAT,
        "version": cache_layout.SCHEMA_VERSION,
        "shot": {
            "shot_id": state.shot_id,
            "width": fmt.plate_width,
            "height": fmt.plate_height,
            "first_frame": state.shot.first_frame,
            "last_frame": state.shot.last_frame,
            "pixel_aspect": fmt.pixel_aspect,
            "colourspace": colourspace,
            "tracker": state.tracker,
            "engine": state.engine,
            "params": {side: dict(values) for side, values in (params or {}).items() if values},
        },
        "revision": state.revision,
        "objects": [{"id": o.id, "name": o.name} for o in state.objects],
        "prompts": prompts,
    }
    _check(data)
    return data


def _check(data: Dict[str, Any]) -> None:
    """Refuse to write what the farm would refuse (the protocol's schema, as `render` reads)."""
    from sam2matting.protocol.errors import ProtocolError
    from sam2matting.protocol.shot_file import SHOT_FILE

    try:
        SHOT_FILE.check(data, "shot_file")
    except ProtocolError as exc:
        raise UserError(f"the shot file would not load on the farm: {exc.message}") from exc


def write(path: str, data: Dict[str, Any]) -> None:
    """Write atomically (the protocol's helper: temp file in the same folder, fsync, rename)."""
    from sam2matting.protocol.atomic import atomic_write_json

    atomic_write_json(Path(path).resolve(), data, indent=1)


def _read_journal(cache_dir: str) -> Optional[Dict[str, Any]]:
    from sam2matting.protocol.cache_layout import JOURNAL_FILE

    path = Path(cache_dir) / JOURNAL_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _prompt_entry(
    prompt: Prompt, fmt: coords.Format, journal: Optional[Dict[str, Any]], cache_dir: str
) -> Dict[str, Any]:
    kept = _journal_prompt(journal, prompt)
    mask_png = None
    if prompt.mask:
        if kept is None or not kept.get("mask"):
            raise UserError(
                f"the mask prompt on frame {prompt.frame} is not in the backend's journal yet: "
                "press Track (or Set prompt on that frame) with the backend running, then export "
                "again"
            )
        from sam2matting.protocol.cache_layout import PROMPTS_DIR

        png = (Path(cache_dir) / PROMPTS_DIR / str(kept["mask"])).read_bytes()
        mask_png = base64.b64encode(png).decode("ascii")
    return {
        "seq": prompt.seq,
        "frame": prompt.frame,
        "object_id": prompt.object_id,
        "points": [list(coords.to_top_left(fmt, p)) for p in prompt.points],
        "labels": list(prompt.labels),
        "box": None if prompt.box is None else coords.box_to_top_left(fmt, prompt.box),
        "clear_old": True,
        "timestamp": str(kept.get("timestamp", "")) if kept else "",
        "mask_png": mask_png,
    }


def _journal_prompt(journal: Optional[Dict[str, Any]], prompt: Prompt) -> Optional[Dict[str, Any]]:
    """The journal's latest prompt for the same object and frame."""
    if journal is None:
        return None
    found: List[Dict[str, Any]] = [
        p
        for p in journal.get("prompts", [])
        if p.get("object_id") == prompt.object_id and p.get("frame") == prompt.frame
    ]
    return max(found, key=lambda p: int(p.get("seq", 0))) if found else None
