"""What a sync job gets from the node: the shot (a new one when the plate's format or range
changed) and a snapshot of everything to send, taken on the main thread."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, List, Optional

from . import build, cache_paths, options, payloads
from .messages import UserError
from .state import NodeState, Shot, new_shot_id

if TYPE_CHECKING:
    from .coords import Format
    from .nodeui import NodeUI

PROBE_FRAMES = 3  # prompted plate frames whose pixels are kept as the plate's fingerprint


class ShotSync:
    def __init__(self, ui: NodeUI) -> None:
        self.ui = ui

    def plate_format(self) -> Format:
        fmt = self.ui.node.input_format(0)
        if fmt is None:
            raise UserError("connect the plate to input 1 first")
        return fmt

    def snapshot(
        self,
        state: NodeState,
        start: Optional[int] = None,
        preview: Optional[int] = None,
        span: Optional[List[int]] = None,
        objects: Optional[List[int]] = None,
    ) -> payloads.Snapshot:
        """The node as a job needs it. `span` (first, last) limits a track; `start` in it."""
        shot = self.shot(state)
        fmt = shot.format
        with self.ui.quiet():
            build.place_plate(self.ui.node, fmt)
        if state.first_frame < shot.first_frame or state.last_frame > shot.last_frame:
            raise UserError(
                f"the frame range {state.first_frame}-{state.last_frame} is outside the plate's "
                f"{shot.first_frame}-{shot.last_frame}"
            )
        first, last = span or (state.first_frame, state.last_frame)
        prompts = sorted(state.prompts, key=lambda p: p.seq)
        probes = sorted({p.frame for p in prompts})[-PROBE_FRAMES:]
        return payloads.Snapshot(
            shot_id=state.shot_id,
            fmt=fmt,
            shot_first=shot.first_frame,
            shot_last=shot.last_frame,
            first=first,
            last=last,
            direction=_direction(start, first, last),
            tracker=state.tracker,
            engine=state.engine,
            colourspace=str(self.ui.node.get("colourspace")),
            objects=[(o.id, o.name) for o in state.objects],
            prompts=[payloads.payload(state, p, fmt) for p in prompts],
            params=options.values(self.ui.node, state.tracker, state.engine),
            start=start,
            preview_frame=preview,
            cache_dir=self.ui.node.evaluated("cache_dir") or None,
            track_objects=objects,
            removed_objects=list(state.removed_objects),
            sent_masks=dict(state.sent_masks),
            plate_digests={int(f): d for f, d in state.plate_digests.items()},
            probe_frames=probes,
            resend_plate=state.resend_plate,
        )

    def shot(self, state: NodeState) -> Shot:
        """The shot's format and range; a new shot when the plate changed under the node."""
        fmt = self.plate_format()
        node = self.ui.node
        first, last = node.input_range(0) or (state.first_frame, state.last_frame)
        first, last = min(first, state.first_frame), max(last, state.last_frame)
        shot = state.shot
        if shot is not None and (
            shot.format != fmt or first < shot.first_frame or last > shot.last_frame
        ):
            if not self.ui.host.ask(
                f"The plate of {node.name()} changed (format or frame range) since its shot was "
                "made.\nStart a new shot? Prompts are kept; frames are sent and tracked again."
            ):
                raise UserError("the plate changed: tracking needs a new shot (answer Yes)")
            shot_id = new_shot_id(self.ui.host.script_path(), node.name(), secrets.token_hex(3))
            cache_paths.remove_plates(node.evaluated("cache_dir"))  # the old shot's
            state.start_new_shot(shot_id, build.new_cache_dir(self.ui.host, shot_id, node.name()))
            shot = None
        if shot is None:
            shot = Shot(fmt.width, fmt.height, first, last, fmt.pixel_aspect, list(fmt.box))
            state.shot = shot
            self.ui.save(state)
            with self.ui.quiet():
                node.update("cache_dir", state.cache_dir)
                build.sync_read(node, state)
        return shot


def _direction(start: Optional[int], first: int, last: int) -> str:
    """Forward from the first frame of a span, backward from its last, both from inside."""
    if start is None or start == first:
        return "forward" if start is not None else "both"
    return "backward" if start == last else "both"
