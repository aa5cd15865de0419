"""The install's kernel step: compiles the matting kernels once; a failure is a note."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from sam2matting.installer.report import Reporter
from sam2matting.installer.runner import DryRunner, Runner
from sam2matting.installer.steps import make_context, step_kernels

from .helpers import parse_options


def _context(source: Path, dry: bool = False):  # type: ignore[no-untyped-def]
    options = parse_options(["--no-nuke", "--no-models"] + (["--dry-run"] if dry else []), source)
    out = io.StringIO()
    ctx = make_context(options, Reporter(stream=out))
    return ctx, out


def test_the_step_compiles_the_kernels_with_the_environments_python(
    home: Path, source: Path
) -> None:
    ctx, out = _context(source)
    step_kernels(ctx, Path(sys.executable))  # the test's own env has sam2matting
    assert not ctx.reporter.problems
    assert "compiled (or already in the cache)" in out.getvalue()


def test_a_failing_compile_is_a_note_not_a_failed_install(
    home: Path, source: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    ctx, out = _context(source)
    assert isinstance(ctx.runner, Runner)
    step_kernels(ctx, broken)
    assert not ctx.reporter.problems
    assert "the first frame will compile them instead" in out.getvalue()


def test_a_dry_run_lists_the_step_and_runs_nothing(home: Path, source: Path) -> None:
    ctx, out = _context(source, dry=True)
    step_kernels(ctx, Path("/nowhere/bin/python"))
    assert isinstance(ctx.runner, DryRunner)
    assert [c.argv[1:] for c in ctx.runner.commands] == [
        ["-m", "sam2matting.backend.matting.warmup"]
    ]
    assert "compiled (or already in the cache)" not in out.getvalue()
