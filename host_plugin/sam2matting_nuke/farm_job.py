"""Export farm job: the node's shot file and an Open Job Description bundle beside it.

The bundle is made by the backend's own `sam2matting farm bundle` (the same writer a TD runs by
hand, docs/FARM.md), in a subprocess: Nuke has no numpy or torch, and the backend command is the
one the plugin starts the backend with (`backend.load_settings`). The bundle writer imports only
the standard library, so this takes a moment, not a model load.

    <folder>/<name>.json                 the shot file (as Export shot file writes it)
    <folder>/template.json, parameter_values.json, openjd_parameters.json
    <folder>/matte/<shot id>.####.exr    where the job writes the mattes
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

from . import backend, plate_files
from .messages import UserError

if TYPE_CHECKING:
    from .controller import Controller

BUNDLE_TIMEOUT_S = 120.0


def export(ctl: Controller) -> Optional[str]:
    """Ask where the job goes and the plate as the farm sees it; write it. Returns the folder.

    nuke.getFilename returns the typed or chosen path as a string (None: cancelled); a folder
    (an existing one, or a path ending in a separator) gets `<shot id>.sam2shot.json`, a file
    name is the shot file, and the bundle goes into the shot file's folder.
    """
    chosen = ctl.ui.host.get_filename(
        "Export farm job: shot file (the job goes beside it)", "*.json"
    )
    if not chosen:
        return None
    plate = ctl.ui.host.get_input(
        "Plate sequence as the farm reads it (#### or %04d)", plate_pattern(ctl)
    )
    if not plate:
        return None
    state = ctl.state()
    shot_path = Path(chosen).expanduser()
    if chosen.endswith(("/", os.sep)) or shot_path.is_dir():
        shot_path = shot_path / f"{state.shot_id}.sam2shot.json"
    target = shot_path.resolve().parent
    target.mkdir(parents=True, exist_ok=True)
    shot = ctl.write_shot_file(str(target / shot_path.name))
    mattes = target / "matte" / f"{state.shot_id}.####.exr"
    args = [
        "farm",
        "bundle",
        "--shot",
        shot,
        "--plate",
        plate,
        "--frames",
        f"{state.first_frame}-{state.last_frame}",
        "--mattes",
        str(mattes),
        "-o",
        str(target),
    ]
    run_bundle(args)
    ctl.set_status(
        f"farm job written: {target} (mattes: {mattes}); submit it with "
        f"'deadline bundle submit {target}' or run it with openjd"
    )
    return str(target)


def plate_pattern(ctl: Controller) -> str:
    """The dialog's suggestion: input 1's Read files as this workstation resolves them (through
    Dots, TCL expanded, filename filters applied: as `plate_files` finds the plate); '' when
    input 1 is an operation, whose output the farm cannot read."""
    read = plate_files.bare_read(ctl.node)
    return "" if read is None else read.file_path(at_frame=False) or ""


def bundle_command() -> List[str]:
    """`sam2matting` of the backend environment the plugin starts (its `serve` dropped)."""
    settings = backend.load_settings()
    command = list(settings.backend_command or backend.default_command())
    if command and command[-1] == "serve":
        command = command[:-1]
    return command


def run_bundle(args: List[str]) -> None:
    """Run `sam2matting farm bundle ...`; its error message becomes the artist's.

    Raises:
        UserError: the backend command is missing, fails, or takes too long.
    """
    command = bundle_command() + args
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    try:
        proc = subprocess.run(  # noqa: S603 - the artist's own configured backend command
            command,
            capture_output=True,
            text=True,
            timeout=BUNDLE_TIMEOUT_S,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(
            f"cannot run the backend's 'sam2matting farm bundle' ({command[0]}): {exc}. "
            'Set "backend_command" in the "nuke" object of the SAM2Matting config file, '
            "or install the backend (docs/INSTALL.md)."
        ) from exc
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise UserError(
            "the farm job was not written: "
            + (" ".join(lines[-3:]) or f"sam2matting farm bundle exited with {proc.returncode}")
        )
