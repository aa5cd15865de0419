"""Helpers shared by the installer tests (fixtures are in conftest.py)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Tuple

from sam2matting.installer import cli
from sam2matting.installer.report import Reporter


def parse_options(argv: List[str], source_root: Path) -> cli.InstallOptions:
    """The options main() would build from argv, with the test's source tree."""
    parser = cli.build_parser()
    return replace(cli.options_from_args(parser.parse_args(argv), parser), source_root=source_root)


def run_install(argv: List[str], source_root: Path) -> Tuple[int, str]:
    """Install (or uninstall) in-process; returns the exit code and everything it printed."""
    from sam2matting.installer.steps import install
    from sam2matting.installer.uninstall import uninstall

    options = parse_options(argv, source_root)
    out = io.StringIO()
    reporter = Reporter(stream=out)
    code = uninstall(options, reporter) if options.uninstall else install(options, reporter)
    return code, out.getvalue()


def tree_snapshot(folder: Path) -> Dict[str, Tuple[int, bytes]]:
    """Every file under folder: (mtime_ns, content); for "nothing changed" checks."""
    snap = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            snap[str(path.relative_to(folder))] = (path.stat().st_mtime_ns, path.read_bytes())
    return snap
