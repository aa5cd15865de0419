"""The jobs the worker thread runs: connect, and "sync" (open the shot, send the plate frames and
prompts the backend lacks, then preview one frame or track).

Jobs talk to the backend through ctx.client and reach Nuke only through the `JobUI` methods,
called on the main thread with ctx.call (wait) or ctx.post (later).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from sam2matting.protocol.errors import ErrorCode, ProtocolError

from . import cache_paths, frames, payloads
from .payloads import Snapshot
from .worker import Final, JobContext

log = logging.getLogger(__name__)

INLINE_BUDGET_BYTES = 512 * 1024 * 1024  # per put_frames message; the plate is paced by this


class JobUI:
    """Main-thread side of a job (the node's controller implements it)."""

    def on_described(self, describe: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_shot_opened(self, reply: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_sending(self, done: int, total: int, frame: int) -> None:
        raise NotImplementedError

    def render_plate(self, frames: Sequence[int], folder: str) -> Dict[int, str]:
        raise NotImplementedError

    def render_mask(self, frame: int, folder: str) -> str:
        raise NotImplementedError

    def on_prompt_added(self, reply: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_track_started(self, reply: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_progress(self, event: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_finished(self, kind: str, content: Dict[str, Any]) -> None:
        raise NotImplementedError


class CancelledError(Exception):
    """The artist cancelled before the backend job started."""


def describe(ctx: JobContext) -> Dict[str, Any]:
    """The backend's capabilities (asked once per connection)."""
    if "describe" not in ctx.cache:
        ctx.cache["describe"] = ctx.client.describe()
    return ctx.cache["describe"]  # type: ignore[no-any-return]


def connect_job(ctx: JobContext, ui: JobUI) -> Final:
    ctx.cache.pop("describe", None)
    ctx.post(ui.on_described, describe(ctx))
    return ui.on_finished, ("connected", {})


def sync_job(ctx: JobContext, ui: JobUI, snap: Snapshot) -> Final:
    """Bring the backend up to date with the node, then track or show the preview frame."""
    desc = describe(ctx)
    ctx.post(ui.on_described, desc)
    reply = ctx.client.request("open_shot_request", payloads.open_shot_content(snap)).content
    ctx.post(ui.on_shot_opened, reply)
    folder = tempfile.mkdtemp(prefix="sam2matting-nuke-")
    try:
        needed = payloads.frames_needed(snap, reply["frames_stored"])
        send_frames(ctx, ui, snap, needed, desc, folder, str(reply["cache_dir"]))
        sync_prompts(ctx, ui, snap, reply, folder)
        _check_cancel(ctx)
        if snap.tracking:
            return track(ctx, ui, snap)
    except CancelledError:
        return ui.on_finished, ("cancelled", {"shot_id": snap.shot_id, "frames_done": 0})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ui.on_finished, ("synced", {"shot_id": snap.shot_id, "preview": snap.preview_frame})


def _check_cancel(ctx: JobContext) -> None:
    if ctx.cancelled():
        raise CancelledError()


# ------------------------------------------------------------------ plate frames


def send_frames(
    ctx: JobContext,
    ui: JobUI,
    snap: Snapshot,
    needed: List[int],
    desc: Dict[str, Any],
    folder: str,
    cache_dir: str,
) -> None:
    """Render the frames the backend lacks through the node and send them, chunk by chunk: by
    path from the shot's cache folder when the backend shares the filesystem, else inline from
    the temporary `folder`."""
    if not needed:
        return
    use_paths = bool(desc.get("shares_filesystem")) and not ctx.cache.get("inline_only")
    target = _plate_folder(cache_dir) if use_paths else folder
    done = 0
    for chunk in frames.chunks(needed, _chunk_size(snap, desc)):
        _check_cancel(ctx)
        ctx.post(ui.on_sending, done, len(needed), chunk[0])
        files: Dict[int, str] = ctx.call(ui.render_plate, chunk, target)
        _put(ctx, snap, files, use_paths and not ctx.cache.get("inline_only"))
        done += len(chunk)
    ctx.post(ui.on_sending, done, len(needed), needed[-1])


def _chunk_size(snap: Snapshot, desc: Dict[str, Any]) -> int:
    """Frames per put_frames: at most 64 and within the byte budget (half RGB, uncompressed)."""
    limits = desc.get("limits") or {}
    budget = min(INLINE_BUDGET_BYTES, int(limits.get("max_total_bytes", 2**31)) // 2)
    per_frame = snap.fmt.plate_width * snap.fmt.plate_height * 3 * 2 + 65536
    cap = int(limits.get("max_buffers", frames.MAX_FRAMES_PER_MESSAGE))
    return max(1, min(frames.MAX_FRAMES_PER_MESSAGE, cap, budget // per_frame))


def _plate_folder(cache_dir: str) -> str:
    """Where plates sent by path live: in the shot's cache folder, since the backend reads them
    again for every track (cache_paths.remove_plates deletes them with the shot)."""
    folder = Path(cache_paths.plate_dir(cache_dir))
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def _put(ctx: JobContext, snap: Snapshot, files: Dict[int, str], by_path: bool) -> None:
    if by_path:
        entries = [payloads.frame_entry(f, None, files[f], snap.colourspace) for f in sorted(files)]
        try:
            ctx.client.request("put_frames_request", {"shot_id": snap.shot_id, "frames": entries})
        except ProtocolError as exc:
            if exc.code is not ErrorCode.PATH_NOT_ALLOWED:
                raise
            log.info("backend may not read %s (%s): sending pixels inline", files, exc.message)
            ctx.cache["inline_only"] = True
        else:
            return
    entries, buffers = [], []
    for frame in sorted(files):
        path = Path(files[frame])
        buffers.append(path.read_bytes())
        path.unlink()
        entries.append(payloads.frame_entry(frame, len(buffers) - 1, None, snap.colourspace))
    ctx.client.request("put_frames_request", {"shot_id": snap.shot_id, "frames": entries}, buffers)


# ------------------------------------------------------------------ prompts and tracking


def sync_prompts(
    ctx: JobContext, ui: JobUI, snap: Snapshot, reply: Dict[str, Any], folder: str
) -> None:
    backend_objects = [int(o["id"]) for o in reply["objects"]]
    plan = payloads.plan_sync(snap.prompts, reply["prompts"], backend_objects)
    for object_id in plan.remove_objects:
        request = {"shot_id": snap.shot_id, "object_id": object_id}
        try:
            ctx.client.request("remove_object_request", request)
        except ProtocolError as exc:
            if exc.code is not ErrorCode.UNKNOWN_OBJECT:
                raise
    for prompt in plan.send:
        _check_cancel(ctx)
        buffers: List[bytes] = []
        mask: Optional[Dict[str, Any]] = None
        if prompt.mask:
            path = ctx.call(ui.render_mask, prompt.frame, folder)
            buffers.append(Path(path).read_bytes())
            mask = payloads.mask_image(0)
        matte = "path" if prompt.frame == snap.preview_frame else "none"
        content = payloads.prompt_content(snap.shot_id, prompt, mask, matte)
        added = ctx.client.request("add_prompt_request", content, buffers).content
        ctx.post(ui.on_prompt_added, added)


def track(ctx: JobContext, ui: JobUI, snap: Snapshot) -> Final:
    job = ctx.client.start_job("propagate_request", payloads.propagate_content(snap))
    ctx.running_backend_job(job.job_id)
    ctx.post(ui.on_track_started, job.ack.content)
    for event in job.events():
        ctx.post(ui.on_progress, event.content)
    end = job.end
    assert end is not None  # events() returns only once the job has ended
    return ui.on_finished, (end.msg_type, end.content)
