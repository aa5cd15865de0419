"""Doctor checks for the files: settings and connection file, model files, heads licence."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import List

from sam2matting.backend.model_files import ModelFile
from sam2matting.protocol import paths
from sam2matting.protocol.checksums import HashStore

from . import licence
from .checks import MISSING, NOTE, OK, WRONG, Check, DoctorContext
from .models import Registry, verify
from .project import install_command

# ---------------------------------------------------------------- settings files


def settings(ctx: DoctorContext) -> List[Check]:
    area = "settings"
    checks = [_config_check(area)]
    path = paths.default_connection_file()
    if not path.is_file():
        checks.append(Check(area, "connection file", MISSING, f"no {path}", install_command()))
        return checks
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        checks.append(
            Check(
                area,
                "connection file",
                WRONG,
                f"{path} can be read by other users (mode {mode:o})",
                f"chmod 600 '{path}'",
            )
        )
        return checks
    from sam2matting.protocol.connection import read_connection_file
    from sam2matting.protocol.errors import ProtocolError

    try:
        read_connection_file(path)
    except ProtocolError as exc:
        return [*checks, Check(area, "connection file", WRONG, exc.message, install_command())]
    checks.append(Check(area, "connection file", OK, f"{path} (owner-only)"))
    return checks


def _config_check(area: str) -> Check:
    from sam2matting.backend.config import BackendConfig

    path = paths.default_config_file()
    try:
        BackendConfig.load()
    except (ValueError, OSError) as exc:
        return Check(area, "config file", WRONG, f"{path}: {exc}", f"fix or delete {path}")
    if not path.is_file():
        return Check(area, "config file", NOTE, f"none at {path}: defaults apply", required=False)
    return Check(area, "config file", OK, f"{path} is valid")


# ---------------------------------------------------------------- model files


def models(ctx: DoctorContext) -> List[Check]:
    from sam2matting.backend.config import BackendConfig

    area = "model files"
    try:
        folder = BackendConfig.load().models_dir
    except (ValueError, OSError):
        return [Check(area, "models folder", WRONG, "unknown: the config file is invalid", None)]
    registry, store = Registry.load(), HashStore(folder)
    checks, verified = [], 0
    for short, model in registry.trackers.items():
        check = _model_check(model, folder, store, area, install_command(f"--models {short}"))
        verified += check.status == OK
        checks.append(check)
    if not verified:
        checks.append(
            Check(
                area,
                "SAM2.1 tracker",
                MISSING,
                f"no verified SAM2.1 tracker in {folder}",
                install_command("--models tiny"),
            )
        )
    checks.append(_licence_check(ctx, area))
    for short, model in registry.heads.items():
        fix = install_command(f"--models {short} {licence.ACCEPT_FLAG}")
        checks.append(_model_check(model, folder, store, area, fix))
    return checks


def _model_check(model: ModelFile, folder: Path, store: HashStore, area: str, fix: str) -> Check:
    path = folder / model.filename
    if not path.is_file():
        return Check(area, model.name, NOTE, f"not installed ({path})", fix, required=False)
    verdict = verify(path, model, store)
    if not verdict.ok:
        return Check(area, model.name, WRONG, f"{path} {verdict.reason}", fix)
    how = "size and recorded SHA-256" if verdict.recorded else "size and SHA-256"
    return Check(area, model.name, OK, f"{path} ({how} verified)")


def _licence_check(ctx: DoctorContext, area: str) -> Check:
    when = licence.accepted_on(ctx.home)
    if when:
        return Check(
            area,
            "SAM2Matting heads licence",
            NOTE,
            f"CC BY-NC 4.0 accepted on {when}: non-commercial use only",
            required=False,
        )
    return Check(
        area,
        "SAM2Matting heads licence",
        NOTE,
        "not accepted: the official heads "
        "(non-commercial) are not installed; the other engines work without them",
        install_command(f"--models tiny {licence.ACCEPT_FLAG}"),
        required=False,
    )
