"""How every command reports a usage error: the message and its hint on stderr, exit code 2."""

from __future__ import annotations

import sys

from sam2matting.backend.cli import exit_codes
from sam2matting.backend.errors import UsageError


def usage_error(exc: UsageError, command: str) -> int:
    """Print a usage error and its hint on stderr; the USAGE exit code."""
    print(f"sam2matting {command}: error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"  hint: {exc.hint}", file=sys.stderr)
    return exit_codes.USAGE
