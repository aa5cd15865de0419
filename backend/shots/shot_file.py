"""The portable shot file: a journal's settings, objects and prompts, with masks inlined.

This is what the Nuke node exports and the farm `render` command reads. It names no path of
the machine that wrote it and carries no cache state (which frames are matted); mask prompts
travel inside it as base64 PNG, so the file is all a render needs besides the plate.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence

from sam2matting.protocol.atomic import atomic_write_bytes
from sam2matting.protocol.cache_layout import mask_file

from .prompt_masks import decode_mask
from .records import SCHEMA_VERSION, SHOT_FILE_FORMAT, PromptRecord, ShotSettings


@dataclass
class ShotFileContent:
    """A parsed shot file; `masks` maps prompt seq -> PNG bytes."""

    settings: ShotSettings
    revision: int
    objects: Dict[int, str]
    prompts: List[PromptRecord]
    masks: Dict[int, bytes]


def to_shot_file(
    settings: ShotSettings,
    revision: int,
    objects: Mapping[int, str],
    prompts: Sequence[PromptRecord],
    masks_dir: Path,
) -> Dict[str, Any]:
    """The shot file's JSON object."""
    entries = []
    for record in prompts:
        entry = record.to_json()
        del entry["mask"]
        entry["mask_png"] = None
        if record.mask is not None:
            png = (masks_dir / record.mask).read_bytes()
            entry["mask_png"] = base64.b64encode(png).decode("ascii")
        entries.append(entry)
    return {
        "format": SHOT_FILE_FORMAT,
        "version": SCHEMA_VERSION,
        "shot": settings.to_json(),
        "revision": revision,
        "objects": [{"id": i, "name": n} for i, n in objects.items()],
        "prompts": entries,
    }


def from_shot_file(data: Mapping[str, Any]) -> ShotFileContent:
    """Parse a shot file's JSON object (its format and version already checked)."""
    prompts: List[PromptRecord] = []
    masks: Dict[int, bytes] = {}
    for entry in data["prompts"]:
        record = PromptRecord.from_json({**entry, "mask": None})
        if entry.get("mask_png"):
            masks[record.seq] = base64.b64decode(entry["mask_png"], validate=True)
        prompts.append(record)
    return ShotFileContent(
        settings=ShotSettings.from_json(data["shot"]),
        revision=int(data.get("revision", 0)),
        objects={int(o["id"]): str(o["name"]) for o in data["objects"]},
        prompts=prompts,
        masks=masks,
    )


def write_masks(content: ShotFileContent, masks_dir: Path) -> List[PromptRecord]:
    """Write the inlined masks as PNG files; the prompts, now naming their mask files."""
    masks_dir.mkdir(parents=True, exist_ok=True)
    out: List[PromptRecord] = []
    for record in content.prompts:
        png = content.masks.get(record.seq)
        if png is None:
            out.append(record)
            continue
        _check_mask(png, record.seq, content.settings)
        named = replace(record, mask=mask_file(record.seq))
        atomic_write_bytes(masks_dir / str(named.mask), png)
        out.append(named)
    return out


def _check_mask(png: bytes, seq: int, settings: ShotSettings) -> None:
    if decode_mask(png, (settings.width, settings.height)) is None:
        raise ValueError(
            f"mask of prompt {seq} is not a readable {settings.width}x{settings.height} PNG"
        )
