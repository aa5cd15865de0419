"""Running external commands (pip, venv, nvidia-smi), with a dry-run twin for tests and previews."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .report import Reporter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """One command line, the environment variables it adds, and what it is for (in words)."""

    argv: Sequence[str]
    purpose: str
    env: Dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items()))
        line = " ".join(shlex.quote(str(a)) for a in self.argv)
        return f"{prefix} {line}".strip()


class CommandError(RuntimeError):
    def __init__(self, command: Command, returncode: int, output: str = "") -> None:
        super().__init__(f"{command.purpose} failed (exit code {returncode}): {command}")
        self.command = command
        self.returncode = returncode
        self.output = output


class Runner:
    """Runs commands for real; their output streams to the terminal so pip shows its progress."""

    dry_run = False

    def __init__(self, reporter: Reporter, quiet: bool = False) -> None:
        self.reporter = reporter
        self.quiet = quiet  # capture output (shown only on failure) instead of streaming it

    def run(self, command: Command, timeout_s: Optional[float] = None) -> None:
        self.reporter.info(f"{command.purpose} ...")
        self.reporter.detail(f"$ {command}")
        env = dict(os.environ, **command.env)
        proc = subprocess.run(
            [str(a) for a in command.argv],
            env=env,
            check=False,
            timeout=timeout_s,
            stdout=subprocess.PIPE if self.quiet else None,
            stderr=subprocess.STDOUT if self.quiet else None,
            text=True,
        )
        if proc.returncode != 0:
            raise CommandError(command, proc.returncode, proc.stdout or "")

    def capture(
        self, argv: Sequence[str], timeout_s: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a read-only query (probes, version checks) and return its output; never dry."""
        log.debug("query: %s", " ".join(str(a) for a in argv))
        try:
            return subprocess.run(
                [str(a) for a in argv],
                check=False,
                timeout=timeout_s,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:  # missing or hung executable
            return subprocess.CompletedProcess([str(a) for a in argv], 127, "", str(exc))


class DryRunner(Runner):
    """Prints (and records) the commands that would change something; runs only queries."""

    dry_run = True

    def __init__(self, reporter: Reporter) -> None:
        super().__init__(reporter, quiet=True)
        self.commands: List[Command] = []

    def run(self, command: Command, timeout_s: Optional[float] = None) -> None:
        self.commands.append(command)
        self.reporter.info(f"would run ({command.purpose}): {command}")
