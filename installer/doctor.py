"""`sam2matting doctor` / `python3 installer/install.py doctor`: what is installed, what is not.

Every line is OK, MISSING, WRONG or NOTE, in plain words, and each problem names the one
command that fixes it. NOTE lines are optional things (extra models, a backend not started yet).
Exit codes: 0 when everything required is there, 3 (SETUP) when something required is missing
or wrong, 5 (BACKEND_UNREACHABLE) with --require-backend when no backend answers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence, TextIO

from sam2matting.backend.cli import exit_codes

from .checks import OK, Check, DoctorContext
from .project import project_version

DESCRIPTION = "check the installation and say how to fix it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--python",
        metavar="PATH",
        type=Path,
        help="the backend environment's python (default: the installed one)",
    )
    parser.add_argument(
        "--nuke-root",
        metavar="DIR",
        action="append",
        default=[],
        help="look for NukeX.YvZ folders here (repeatable)",
    )
    parser.add_argument(
        "--require-backend",
        action="store_true",
        help="fail (exit 5) when no backend answers a signed ping",
    )
    parser.add_argument(
        "--no-import-test",
        action="store_true",
        help="do not start each Nuke's Python to try importing the plugin's needs",
    )


def collect(ctx: DoctorContext) -> List[Check]:
    from . import checks, checks_backend, checks_files, checks_nuke

    found: List[Check] = []
    found += checks.environment(ctx)
    found += checks_files.settings(ctx)
    found += checks_files.models(ctx)
    found += checks_nuke.nuke(ctx)
    found += checks_backend.backend(ctx)
    return found


def exit_code(found: Sequence[Check], require_backend: bool) -> int:
    if any(c.required and c.status != OK for c in found):
        return exit_codes.SETUP
    backend_down = any(
        c.area == "backend" and c.name == "backend" and c.status != OK for c in found
    )
    if require_backend and backend_down:
        return exit_codes.BACKEND_UNREACHABLE
    return exit_codes.OK


def render_text(found: Sequence[Check], version: str) -> str:
    lines = [f"SAM2Matting {version}: installation check", ""]
    area = None
    for check in found:
        if check.area != area:
            area = check.area
            lines.append(f"{area}:")
        lines.append(f"  {check.status:<8} {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"  {'':<8} fix: {check.fix}")
    problems = [c for c in found if c.required and c.status != OK]
    lines.append("")
    if problems:
        lines.append(
            f"{len(problems)} problem(s) to fix; run the 'fix' commands above, then doctor again."
        )
    else:
        lines.append("Everything required is installed.")
    return "\n".join(lines)


def render_json(found: Sequence[Check], version: str, code: int) -> str:
    return json.dumps(
        {
            "version": version,
            "ok": code == exit_codes.OK,
            "exit_code": code,
            "checks": [c.to_json() for c in found],
        },
        indent=2,
    )


def run(args: argparse.Namespace, stream: Optional[TextIO] = None) -> int:
    ctx = DoctorContext.create(
        python=args.python,
        nuke_roots=tuple(args.nuke_root),
        import_test=not args.no_import_test,
    )
    found = collect(ctx)
    code = exit_code(found, args.require_backend)
    version = project_version(ctx.source_root)
    text = render_json(found, version, code) if args.json else render_text(found, version)
    print(text, file=stream or sys.stdout)
    return code
