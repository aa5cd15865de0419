"""Where a shot's cache and the plates sent for it live, and what the node says about them.

The cache folder comes from a template, as studios lay out shots:

1. `SAM2MATTING_CACHE_TEMPLATE` (environment), else
2. `"cache_template"` in the "nuke" object of ~/.sam2matting/config.json, else
3. under a project root: `[getenv SAM2MATTING_PROJECT_ROOT]/sam2matting/{script}/{shot_id}`
   when that variable is set, else
4. next to the script: `[file dirname [value root.name]]/sam2matting/{shot_id}`.

`{shot_id}`, `{node}` and `{script}` (the script's name without .nk) are filled in when the node
makes a shot; TCL is left for Nuke, so the node's **cache folder** knob keeps
`[file dirname [value root.name]]/...` and stays right when the script folder moves or the farm
mounts it elsewhere. An unsaved script has no folder: its cache goes to the backend's default
(~/.sam2matting/cache) until the next shot, and the node says so.

Plates rendered for the backend to read by path go to `<cache folder>/nuke_plates`; they are
removed when the shot they were sent for is replaced. Standard library only.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import List, Mapping, NamedTuple, Optional

from . import frames

log = logging.getLogger(__name__)

TEMPLATE_ENV = "SAM2MATTING_CACHE_TEMPLATE"
PROJECT_ROOT_ENV = "SAM2MATTING_PROJECT_ROOT"
NEXT_TO_SCRIPT = "[file dirname [value root.name]]/sam2matting/{shot_id}"
UNDER_PROJECT_ROOT = f"[getenv {PROJECT_ROOT_ENV}]/sam2matting/{{script}}/{{shot_id}}"
PLATES_DIR = "nuke_plates"
SHOT_FILE = "farm_shot.json"  # where 'Export shot file...' saves by default


def template(configured: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """The cache template in force (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    if env.get(TEMPLATE_ENV):
        return env[TEMPLATE_ENV]
    if configured:
        return configured
    return UNDER_PROJECT_ROOT if env.get(PROJECT_ROOT_ENV) else NEXT_TO_SCRIPT


def cache_dir(tmpl: str, shot_id: str, node: str, script_path: str) -> Optional[str]:
    """The cache folder knob's text for a new shot; None when the template needs the script's
    folder and the script was never saved (the caller falls back to the backend's default)."""
    if not script_path and "root.name" in tmpl:
        return None
    stem = PurePosixPath(script_path.replace("\\", "/")).name
    stem = stem[:-3] if stem.endswith(".nk") else stem
    text = tmpl.replace("{shot_id}", shot_id).replace("{node}", node)
    return text.replace("{script}", stem or "untitled").replace("\\", "/").rstrip("/")


def same_folder(a: str, b: str) -> bool:
    """Two spellings of one folder (separators, trailing slash, symlinks)."""
    if not a or not b:
        return False
    return os.path.realpath(a) == os.path.realpath(b)


def plate_dir(folder: str) -> str:
    """Where plates rendered to be read by path go: inside the shot's cache folder."""
    return (PurePosixPath(folder) / PLATES_DIR).as_posix()


def remove_plates(folder: str) -> None:
    """Delete the plates rendered for the shot in `folder` (nothing else there)."""
    plates = Path(folder) / PLATES_DIR
    if plates.is_dir():
        shutil.rmtree(str(plates), ignore_errors=True)
        log.info("removed the plates sent for %s", folder)


def frames_present(pattern: str, first: int, last: int) -> List[int]:
    """The frames of first..last whose file of `pattern` ('%04d' or '####') exists, from one
    listing of its folder (not one stat per frame: cache folders are often network mounts)."""
    try:
        names = {p.name for p in Path(pattern).parent.iterdir()}
    except OSError:
        return []
    return [f for f in range(first, last + 1) if Path(frames.frame_file(pattern, f)).name in names]


def shot_file(folder: str) -> str:
    return (PurePosixPath(folder.replace("\\", "/")) / SHOT_FILE).as_posix()


class CacheReport(NamedTuple):
    text: str
    found: bool  # the cache folder exists here


def report(folder: str, first: int, last: int, shot_first: int, shot_last: int) -> CacheReport:
    """The node's cache line: where the mattes are and how many of the range, or where they
    were looked for (a script reopened on a machine that does not see the cache)."""
    if not folder:
        return CacheReport("no cache folder set", False)
    if not Path(folder).is_dir():
        text = f"cache NOT FOUND at {folder}: renders of {first}-{last} fail until it is there"
        return CacheReport(text, False)
    have = frames_present(frames.matte_pattern(folder, shot_first, shot_last), first, last)
    missing = frames.runs(set(range(first, last + 1)) - set(have))
    text = f"cache {folder}: mattes for {len(have)} of {last - first + 1} frames"
    if missing and have:
        text += f" (missing {frames.describe_ranges(missing, limit=3)})"
    return CacheReport(text, True)
