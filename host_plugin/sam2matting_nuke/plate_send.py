"""Plate frames to the backend, and the check that the plate is still what was sent.

Two routes (docs/NUKE_PLUGIN.md, "Plate pixels"):

1. **The Read's own files**, when input 1 is a bare Read (plate_files.py) and the backend shares
   this machine's filesystem: put_frames by path, nothing rendered, no modal progress. A backend
   that may not read them (outside its allowed roots: `path_not_allowed`), cannot decode them or
   convert their colourspace answers with a typed error; the rest is then rendered.
2. **Rendered** through the node, a few frames per main-thread call, then sent by path from the
   shot's cache folder (shared filesystem) or inline.

Either way the status line says which route was taken and, when the plate was rendered although
input 1 is a Read, why. Runs on the worker thread; Nuke only through `JobUI` (jobs.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from sam2matting.protocol.errors import ErrorCode, ProtocolError

from . import cache_paths, frames, payloads, plate_files, provenance
from .plate_files import PlateFiles

if TYPE_CHECKING:
    from .jobs import JobUI
    from .payloads import Snapshot
    from .worker import JobContext

log = logging.getLogger(__name__)

INLINE_BUDGET_BYTES = 512 * 1024 * 1024  # per put_frames message; the plate is paced by this
RENDER_FRAMES_PER_CALL = 8  # plate frames rendered per main-thread call (the GUI breathes)
# The backend's answers that mean "not these files": render the plate instead.
REFUSED = (
    ErrorCode.PATH_NOT_ALLOWED,
    ErrorCode.BAD_IMAGE,
    ErrorCode.FRAME_SIZE_MISMATCH,
    ErrorCode.INVALID_FIELD,  # an unknown colourspace, a path it will not take
)


def send_frames(
    ctx: JobContext,
    ui: JobUI,
    snap: Snapshot,
    needed: List[int],
    stored: Sequence[Sequence[int]],
    desc: Dict[str, Any],
    folder: str,
    cache_dir: str,
) -> None:
    """Send the plate frames the backend lacks: by the Read's files where it can read them,
    the rest rendered. `stored`: what the backend held before (open_shot)."""
    if not needed:
        return
    rest = _send_read_files(ctx, ui, snap, needed, stored, desc)
    if rest:
        _send_rendered(ctx, ui, snap, rest, desc, folder, cache_dir)


def _send_read_files(
    ctx: JobContext,
    ui: JobUI,
    snap: Snapshot,
    needed: List[int],
    stored: Sequence[Sequence[int]],
    desc: Dict[str, Any],
) -> List[int]:
    """put_frames by the Read's paths; the frames left to render (all of them, with the
    reason on the status line, when the Read's files cannot be the plate)."""
    route = _read_route(ctx, ui, needed, desc)
    if route is None:
        return needed  # input 1 is a graph: rendered, as expected, nothing to explain
    if isinstance(route, str):
        ctx.post(ui.on_plate_route, f"plate rendered: {route}", False)
        return needed
    plan, ids = route
    read = plan.read.rpartition(".")[2]
    ctx.post(ui.on_plate_route, f"plate read from {read}'s files, nothing rendered", True)
    done = 0
    for chunk in frames.chunks(needed, frames.MAX_FRAMES_PER_MESSAGE):
        ctx.check_cancel()
        ctx.post(ui.on_sending, done, len(needed), chunk[0])
        entries = [payloads.frame_entry(f, None, plan.paths[f], plan.colourspace) for f in chunk]
        try:
            request = {"shot_id": snap.shot_id, "frames": entries}
            put = dict(ctx.client.request("put_frames_request", request).content)
        except ProtocolError as exc:
            if exc.code not in REFUSED:
                raise
            log.info("backend refused %s's files (%s): rendering the plate", read, exc.message)
            why = f"plate rendered: the backend cannot use {read}'s files ({exc.message})"
            ctx.post(ui.on_plate_route, why, False)
            return _left_to_render(ctx, ui, snap, needed[done:], stored, ids)
        # every frame sent by path keeps its file's identity (a stat each, so Track checks
        # them all); rendered frames keep pixel digests of the probe frames only
        ctx.post(ui.on_plate_digests, {f: ids[f] for f in chunk})
        ctx.post(ui.on_frames_put, put)
        done += len(chunk)
    ctx.post(ui.on_sending, done, len(needed), needed[-1])
    return []


def _read_route(
    ctx: JobContext, ui: JobUI, needed: List[int], desc: Dict[str, Any]
) -> Union[str, Tuple[PlateFiles, Dict[int, str]], None]:
    """The Read's files and their identities; why they cannot be sent; None: no bare Read."""
    if not desc.get("shares_filesystem"):
        if not ctx.call(ui.plate_read):
            return None
        return f"the backend (on {desc.get('hostname', '?')}) does not see this machine's files"
    plan: Union[PlateFiles, str] = ctx.call(ui.plate_files, needed)
    if plan == plate_files.NOT_A_READ:
        return None
    if isinstance(plan, str):
        return plan
    ids = plate_files.identities(plan)
    absent = sorted(f for f, i in ids.items() if i is None)
    if absent:
        return f"{plan.paths[absent[0]]} is not there ({len(absent)} frames missing)"
    return plan, {f: str(i) for f, i in ids.items()}


def _left_to_render(
    ctx: JobContext,
    ui: JobUI,
    snap: Snapshot,
    unsent: List[int],
    stored: Sequence[Sequence[int]],
    ids: Dict[int, str],
) -> List[int]:
    """After a refusal part of a put_frames may have been stored (one frame at a time): what
    the backend holds now that it did not hold before needs no rendering (its probe frames
    are fingerprinted by their files); the rest of `unsent` does."""
    reply = ctx.client.request("open_shot_request", payloads.open_shot_content(snap)).content
    before = set(frames.from_ranges(stored))
    now = set(frames.from_ranges(reply["frames_stored"]))
    rest = [f for f in unsent if f not in now or f in before]
    kept = {f: ids[f] for f in unsent if f not in rest}
    if kept:
        ctx.post(ui.on_plate_digests, kept)
    return rest


def _send_rendered(
    ctx: JobContext,
    ui: JobUI,
    snap: Snapshot,
    needed: List[int],
    desc: Dict[str, Any],
    folder: str,
    cache_dir: str,
) -> None:
    """Render the frames through the node and send them, chunk by chunk: by path from the
    shot's cache folder when the backend shares the filesystem, else inline from `folder`."""
    use_paths = bool(desc.get("shares_filesystem")) and not ctx.cache.get("inline_only")
    target = _plate_folder(cache_dir) if use_paths else folder
    done = 0
    for chunk in frames.chunks(needed, _chunk_size(snap, desc)):
        files: Dict[int, str] = {}
        for part in frames.chunks(chunk, RENDER_FRAMES_PER_CALL):
            ctx.check_cancel()
            ctx.post(ui.on_sending, done, len(needed), part[0])
            files.update(ctx.call(ui.render_plate, part, target))
            done += len(part)
        # pixel digests of the probe frames (a render each to check); any other frame forgets
        # what it was when sent before (a file identity that no longer describes it)
        probes = set(snap.probe_frames)
        ctx.post(
            ui.on_plate_digests,
            {f: provenance.exr_digest(files[f]) if f in probes else "" for f in files},
        )
        put = _put(ctx, snap, files, use_paths and not ctx.cache.get("inline_only"))
        ctx.post(ui.on_frames_put, put)
    ctx.post(ui.on_sending, done, len(needed), needed[-1])


def _chunk_size(snap: Snapshot, desc: Dict[str, Any]) -> int:
    """Frames per put_frames: at most 64 and within the byte budget (half RGB, uncompressed)."""
    limits = desc.get("limits") or {}
    budget = min(INLINE_BUDGET_BYTES, int(limits.get("max_total_bytes", 2**31)) // 2)
    per_frame = snap.fmt.plate_width * snap.fmt.plate_height * 3 * 2 + 65536
    cap = int(limits.get("max_buffers", frames.MAX_FRAMES_PER_MESSAGE))
    return max(1, min(frames.MAX_FRAMES_PER_MESSAGE, cap, budget // per_frame))


def _plate_folder(cache_dir: str) -> str:
    """Where plates rendered to be sent by path live: in the shot's cache folder, since the
    backend reads them again for every track (cache_paths.remove_plates deletes them with the
    shot)."""
    folder = Path(cache_paths.plate_dir(cache_dir))
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def _put(ctx: JobContext, snap: Snapshot, files: Dict[int, str], by_path: bool) -> Dict[str, Any]:
    """put_frames of rendered plate files: by path, or inline (the files are the node's own
    renders, deleted once their bytes are read)."""
    if by_path:
        entries = [payloads.frame_entry(f, None, files[f], snap.colourspace) for f in sorted(files)]
        request = {"shot_id": snap.shot_id, "frames": entries}
        try:
            return dict(ctx.client.request("put_frames_request", request).content)
        except ProtocolError as exc:
            if exc.code is not ErrorCode.PATH_NOT_ALLOWED:
                raise
            log.info("backend may not read %s (%s): sending pixels inline", files, exc.message)
            ctx.cache["inline_only"] = True
    entries, buffers = [], []
    for frame in sorted(files):
        path = Path(files[frame])
        buffers.append(path.read_bytes())
        path.unlink()
        entries.append(payloads.frame_entry(frame, len(buffers) - 1, None, snap.colourspace))
    request = {"shot_id": snap.shot_id, "frames": entries}
    return dict(ctx.client.request("put_frames_request", request, buffers).content)


# ------------------------------------------------------------------ is the plate still that?


def plate_changes(
    ctx: JobContext, ui: JobUI, snap: Snapshot, stored: Sequence[Sequence[int]], folder: str
) -> List[str]:
    """'plate:<frame>' for each recorded frame that is not what was sent: every frame sent by
    the Read's path, by its file (path, size, time, colourspace); the rendered probe frames, by
    their pixels rendered again."""
    have = set(frames.from_ranges(stored))
    probes = sorted(f for f in snap.plate_digests if f in have)
    if not probes:
        return []
    ctx.check_cancel()
    sent = snap.plate_digests
    by_file = [f for f in probes if plate_files.is_file_identity(sent[f])]
    now: Dict[int, Optional[str]] = {}
    if by_file:
        plan = ctx.call(ui.plate_files, by_file)
        if isinstance(plan, PlateFiles):  # else: no longer those files, every one changed
            now.update(plate_files.identities(plan))
    rendered = [f for f in probes if f not in by_file]
    if rendered:
        files: Dict[int, str] = ctx.call(ui.render_plate, rendered, folder)
        now.update({f: provenance.exr_digest(files[f]) for f in rendered})
    return [f"plate:{f}" for f in probes if not plate_files.same_identity(now.get(f), sent[f])]
