"""Artist-facing words: the node's status line and dialog texts, kept apart from log details."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple


class UserError(Exception):
    """Something the artist can fix in Nuke (shown as is, without a traceback)."""


def error_texts(exc: BaseException) -> Tuple[str, str]:
    """(status line, dialog text) for a failure. ProtocolErrors carry their own hint."""
    code = getattr(exc, "code", None)
    if code is not None and hasattr(exc, "hint"):
        message = str(getattr(exc, "message", exc))
        hint = str(getattr(exc, "hint", ""))
        status = f"error: {message}"
        return status, f"SAM2Matte: {message}\n\n{hint}"
    if isinstance(exc, UserError):
        return f"error: {exc}", f"SAM2Matte: {exc}"
    text = f"{type(exc).__name__}: {exc}"
    return (
        f"internal error: {text} (see the Script Editor / terminal log)",
        f"SAM2Matte hit an unexpected error:\n{text}\n\nThe details are in the log.",
    )


def status_from_describe(desc: Dict[str, Any], tracker: str, engine: str) -> str:
    """'connected to ws042 | cuda NVIDIA RTX A6000 | tracker sam2.1-tiny | engine closed_form'."""
    device = desc.get("device") or {}
    parts = [
        f"connected to {desc.get('hostname', '?')}",
        f"{device.get('type', '?')} {device.get('name', '')}",
        f"tracker {_resolved(tracker, desc.get('trackers') or [])}",
        f"engine {_resolved(engine, desc.get('engines') or [])}",
    ]
    if device.get("note"):
        parts.append(str(device["note"]))
    return " | ".join(p.strip() for p in parts)


def _resolved(choice: str, caps: List[Dict[str, Any]]) -> str:
    if choice != "auto":
        for cap in caps:
            if cap.get("name") == choice and not cap.get("available"):
                return f"{choice} (unavailable: {cap.get('reason') or 'no reason given'})"
        return choice
    usable = [c for c in caps if c.get("available")]
    preferred = [c for c in usable if not c.get("fallback")] or usable
    return f"auto ({preferred[0]['name']})" if preferred else "auto (none available)"


def available(caps: List[Dict[str, Any]]) -> List[str]:
    """Names the artist may pick: the available ones."""
    return [str(c["name"]) for c in caps if c.get("available")]


def progress_text(event: Dict[str, Any]) -> Tuple[str, int]:
    """('Tracking frame 1043: 2 of 159 (21.5 fps)', percent)."""
    done, total = int(event.get("done", 0)), max(1, int(event.get("total", 1)))
    fps = event.get("frames_per_second")
    rate = f" ({fps:.1f} fps)" if fps else ""
    text = f"Tracking frame {event.get('frame')}: {done} of {total}{rate}"
    return text, int(100 * done / total)
