"""The names of a shot's cache folder, which the backend writes and the Nuke plugin reads.

docs/CACHE_LAYOUT.md describes the same layout for people; tests/protocol/test_cache_layout.py
checks that the two agree. Standard library only (the plugin imports it inside Nuke).

    <cache_root>/<shot_id>/
        shot.json               the prompt journal (JOURNAL_FORMAT)
        prompts/mask.<seq>.png  mask prompts
        plate/refs.json         plate index (PLATE_REFS_FORMAT)
        plate/plate.<frame>.<ext>
        matte/matte.<frame>.exr the mattes Nuke reads: channels A and obj<id>.A
"""

from __future__ import annotations

from pathlib import PurePosixPath

from . import frames

JOURNAL_FILE = "shot.json"
PROMPTS_DIR = "prompts"
PLATE_DIR = "plate"
PLATE_REFS_FILE = "refs.json"
MATTE_DIR = "matte"
# Damaged files are set aside, never deleted (1.1): mattes under matte/damaged/, a damaged plate
# index with its frames under plate/damaged-<time>/.
DAMAGED_DIR = "damaged"
DAMAGED_PLATE_PREFIX = "damaged-"

# The `format` of each JSON document; `version` is major.minor, a reader takes every minor of
# its major (`shot_file.check_version`). The plate index has a plain integer version.
JOURNAL_FORMAT = "sam2matting-journal"
SHOT_FILE_FORMAT = "sam2matting-shot"
SCHEMA_VERSION = "1.0"
PLATE_REFS_FORMAT = "sam2matting-plate-refs"
# 2: raw buffers stored as sent (dtype, shape, channels in the entry); 1 is still read.
PLATE_REFS_VERSION = 2

# Matte EXRs: the combined matte, one channel per object, and `sam2matting/...` header strings.
COMBINED_CHANNEL = "A"
META_PREFIX = "sam2matting/"
META_KEYS = ("shot", "frame", "objects", "tracker", "engine", "revision", "revisions")


def object_channel(obj_id: int) -> str:
    """The EXR channel of one object's matte: 'obj3.A' (Nuke: the alpha of layer obj3)."""
    return f"obj{obj_id}.{COMBINED_CHANNEL}"


def mask_file(seq: int) -> str:
    """The PNG of mask prompt `seq`, under PROMPTS_DIR."""
    return f"mask.{seq}.png"


def plate_file(frame: int, digits: int, ext: str) -> str:
    """A plate frame stored inline, under PLATE_DIR."""
    return f"plate.{frames.frame_token(frame, digits)}.{ext}"


def matte_file(frame: int, digits: int) -> str:
    """A frame's matte, under MATTE_DIR."""
    return f"matte.{frames.frame_token(frame, digits)}.exr"


def matte_sequence(first: int, last: int) -> str:
    """The file name of a shot's mattes as Nuke's Read wants it: 'matte.####.exr'."""
    return f"matte.{frames.hashes(frames.padding(first, last))}.exr"


def matte_pattern(shot_dir: str, first: int, last: int) -> str:
    """The shot's matte sequence with '/': '<shot_dir>/matte/matte.####.exr'."""
    folder = PurePosixPath(shot_dir.replace("\\", "/")) / MATTE_DIR
    return (folder / matte_sequence(first, last)).as_posix()
