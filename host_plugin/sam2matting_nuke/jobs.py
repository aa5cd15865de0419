"""The jobs the worker thread runs: connect, sync (open the shot, send the plate frames and
prompt changes the backend lacks, then preview one frame or track) and check (compare the plate
and the mask prompts with what was sent). The plate's part is in plate_send.py.

Jobs talk to the backend through ctx.client and reach Nuke only through the `JobUI` methods,
called on the main thread with ctx.call (wait: renders, a few frames per call so Nuke's event
loop runs in between) or ctx.post (later).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from sam2matting.protocol.errors import ErrorCode, ProtocolError
from sam2matting.protocol.version import parse_version

from . import frames, payloads, provenance
from .messages import UserError
from .payloads import Snapshot
from .plate_files import PlateFiles
from .plate_send import plate_changes, send_frames
from .worker import CancelledError, Final, JobContext

__all__ = ["CancelledError", "JobUI"]

log = logging.getLogger(__name__)

MASKS_DIR = "nuke_masks"
REMOVE_PROMPT_SINCE = (1, 1)  # the protocol version that has remove_prompt


class JobUI:
    """Main-thread side of a job (the node's JobRunner implements it)."""

    def on_described(self, describe: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_shot_opened(self, reply: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_sending(self, done: int, total: int, frame: int) -> None:
        raise NotImplementedError

    def render_plate(self, frames: Sequence[int], folder: str) -> Dict[int, str]:
        raise NotImplementedError

    def plate_read(self) -> str:
        """The name of the Read input 1 is (through Dots), '' when it is something else."""
        raise NotImplementedError

    def plate_files(self, frames: Sequence[int]) -> Union[PlateFiles, str]:
        """Input 1's Read files for these frames, or why the plate must be rendered."""
        raise NotImplementedError

    def on_plate_route(self, note: str, by_path: bool) -> None:
        raise NotImplementedError

    def render_mask(self, object_id: int, frame: int, folder: str) -> str:
        raise NotImplementedError

    def on_plate_digests(self, digests: Dict[int, str]) -> None:
        raise NotImplementedError

    def on_frames_put(self, reply: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_object_removed(self, reply: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_prompt_removed(self, reply: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_prompt_added(self, reply: Dict[str, Any], mask_digest: str) -> None:
        raise NotImplementedError

    def on_inputs_checked(self, changed: List[str], checked: int) -> None:
        raise NotImplementedError

    def on_track_started(self, reply: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_progress(self, event: Dict[str, Any]) -> None:
        raise NotImplementedError

    def on_finished(self, kind: str, content: Dict[str, Any]) -> None:
        raise NotImplementedError


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
        if snap.tracking and not snap.resend_plate:
            changed = plate_changes(ctx, ui, snap, reply["frames_stored"], folder)
            if changed:
                ctx.post(ui.on_inputs_checked, changed, len(changed))
                return ui.on_finished, ("inputs_changed", {"changed": changed})
        needed = payloads.frames_needed(snap, reply["frames_stored"])
        cache_dir = str(reply["cache_dir"])
        send_frames(ctx, ui, snap, needed, reply["frames_stored"], desc, folder, cache_dir)
        sync_prompts(ctx, ui, snap, reply, desc, cache_dir)
        ctx.check_cancel()
        if snap.tracking:
            return track(ctx, ui, snap)
    except CancelledError:
        return ui.on_finished, ("cancelled", {"shot_id": snap.shot_id, "frames_done": 0})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ui.on_finished, ("synced", {"shot_id": snap.shot_id, "preview": snap.preview_frame})


def check_job(ctx: JobContext, ui: JobUI, snap: Snapshot) -> Final:
    """Check the recorded plate frames (their files when they were sent by path, else rendered
    again) and every mask prompt's frame of input 2 against what was sent. Nothing is sent."""
    folder = tempfile.mkdtemp(prefix="sam2matting-nuke-check-")
    try:
        changed = plate_changes(ctx, ui, snap, [[f, f] for f in snap.plate_digests], folder)
        checked = len(snap.plate_digests)
        for prompt in snap.prompts:
            if not prompt.mask or not prompt.mask_digest:
                continue
            ctx.check_cancel()
            checked += 1
            path = ctx.call(ui.render_mask, prompt.object_id, prompt.frame, folder)
            if provenance.exr_digest(path) != prompt.mask_digest:
                changed.append(f"mask:{prompt.object_id}:{prompt.frame}")
    except CancelledError:
        return ui.on_finished, ("cancelled", {"shot_id": snap.shot_id, "frames_done": 0})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ctx.post(ui.on_inputs_checked, changed, checked)
    return ui.on_finished, ("checked", {"changed": changed})


# ------------------------------------------------------------------ prompts and tracking


def mask_folder(cache_dir: str) -> str:
    """Where the input 2 snapshots of mask prompts live (each is what its prompt used): in the
    shot's cache folder, beside the plates sent by path."""
    folder = Path(cache_dir) / MASKS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def sync_prompts(
    ctx: JobContext,
    ui: JobUI,
    snap: Snapshot,
    reply: Dict[str, Any],
    desc: Dict[str, Any],
    cache_dir: str,
) -> None:
    backend_objects = [int(o["id"]) for o in reply["objects"]]
    plan = payloads.plan_sync(snap, reply["prompts"], backend_objects)
    strays = set(backend_objects) - {oid for oid, _name in snap.objects} - set(plan.remove_objects)
    if strays:
        log.info("shot %s: backend objects %s are not the node's; left alone", snap.shot_id, strays)
    for object_id in plan.remove_objects:
        request = {"shot_id": snap.shot_id, "object_id": object_id}
        try:
            ctx.post(
                ui.on_object_removed, ctx.client.request("remove_object_request", request).content
            )
        except ProtocolError as exc:
            if exc.code is not ErrorCode.UNKNOWN_OBJECT:
                raise
            ctx.post(ui.on_object_removed, request)
    if plan.remove_prompts:
        _require_remove_prompt(desc)
    for object_id, frame in plan.remove_prompts:
        content = payloads.remove_prompt_content(snap.shot_id, object_id, frame)
        ctx.post(ui.on_prompt_removed, ctx.client.request("remove_prompt_request", content).content)
    for prompt in plan.send:
        ctx.check_cancel()
        send_prompt(ctx, ui, snap, prompt, cache_dir)


def send_prompt(
    ctx: JobContext, ui: JobUI, snap: Snapshot, prompt: payloads.PromptPayload, cache_dir: str
) -> None:
    """One add_prompt; a mask prompt sends its input 2 snapshot, taken now if it has none."""
    buffers: List[bytes] = []
    mask: Optional[Dict[str, Any]] = None
    digest = ""
    if prompt.mask:
        path = _mask_snapshot(ctx, ui, prompt, mask_folder(cache_dir))
        data = Path(path).read_bytes()
        digest = provenance.exr_digest(path)
        buffers.append(data)
        mask = payloads.mask_image(0)
    matte = "path" if prompt.frame == snap.preview_frame else "none"
    content = payloads.prompt_content(snap.shot_id, prompt, mask, matte)
    added = ctx.client.request("add_prompt_request", content, buffers).content
    ctx.post(ui.on_prompt_added, added, digest)


def _mask_snapshot(ctx: JobContext, ui: JobUI, prompt: payloads.PromptPayload, folder: str) -> str:
    """The prompt's input 2 pixels: its snapshot if it has one, else input 2 rendered now
    (render_mask writes the snapshot's own file, mask_pattern)."""
    kept = Path(frames.frame_file(mask_pattern(folder, prompt.object_id), prompt.frame))
    if prompt.mask_digest and kept.is_file() and provenance.exr_digest(kept) == prompt.mask_digest:
        return str(kept)
    return str(ctx.call(ui.render_mask, prompt.object_id, prompt.frame, folder))


def mask_pattern(folder: str, object_id: int) -> str:
    """The files one object's mask prompts are rendered to, one per frame."""
    return (Path(folder) / f"mask_o{object_id}.####.exr").as_posix()


def _require_remove_prompt(desc: Dict[str, Any]) -> None:
    version = str(desc.get("protocol_version", "1.0"))
    if parse_version(version) < REMOVE_PROMPT_SINCE:
        raise UserError(
            f"the backend speaks protocol {version}, which cannot remove a prompt without "
            "deleting the object's mattes: update the backend (sam2matting 1.1 or newer); "
            "nothing was removed"
        )


def track(ctx: JobContext, ui: JobUI, snap: Snapshot) -> Final:
    job = ctx.client.start_job("propagate_request", payloads.propagate_content(snap))
    ctx.running_backend_job(job.job_id)
    ctx.post(ui.on_track_started, job.ack.content)
    for event in job.events():
        ctx.post(ui.on_progress, event.content)
    end = job.end
    assert end is not None  # events() returns only once the job has ended
    return ui.on_finished, (end.msg_type, end.content)
