"""`sam2matting serve` that kills itself with SIGKILL at a chosen file write (chaos suite).

SAM2MATTING_CHAOS_KILL_AT="fsync:N" dies just before the N-th file's data is synced (the temp
file is written, nothing renamed yet); "replace:N" dies just after the N-th rename (the file is
in place, nothing after it happened). Counted over the whole process, both kinds together.
"""

from __future__ import annotations

import os
import signal
import stat
import sys


def _arm(spec: str) -> None:
    kind, _, number = spec.partition(":")
    target = int(number)
    count = {"n": 0}
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        if kind == "fsync" and stat.S_ISREG(os.fstat(fd).st_mode):
            count["n"] += 1
            if count["n"] == target:
                os.kill(os.getpid(), signal.SIGKILL)
        real_fsync(fd)

    def replace(src, dst, **kwargs):  # type: ignore[no-untyped-def]
        real_replace(src, dst, **kwargs)
        if kind == "replace":
            count["n"] += 1
            if count["n"] == target:
                os.kill(os.getpid(), signal.SIGKILL)

    os.fsync = fsync
    os.replace = replace


if __name__ == "__main__":
    _arm(os.environ["SAM2MATTING_CHAOS_KILL_AT"])
    from sam2matting.backend.cli.main import main

    sys.exit(main())
