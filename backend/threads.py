"""How many threads torch uses for one operation on the CPU (`SAM2MATTING_CPU_THREADS`).

Default 1. The weight-free engine already runs its per-tile work in a pool of its own, and its
native stage is many tiny ops (crop, blend, normalise, 3x3 solves): torch's intra-op threads on
top of the pool fight it for the cores. On a machine that is busy elsewhere (an artist's Nuke,
a render) that collapsed 1080p from ~1.9 to ~0.5 frames/s (issue 17). `auto` (or 0) keeps
torch's own default, one thread per core, for a machine that does nothing else.

Applied once per process, where the process starts its work: the server (`serve`) and the
in-process render; never at import time.
"""

from __future__ import annotations

import logging
import os
from typing import Mapping, Optional

import torch

from sam2matting.backend.errors import UsageError

log = logging.getLogger(__name__)

ENV = "SAM2MATTING_CPU_THREADS"
DEFAULT = 1


def cpu_threads(environ: Optional[Mapping[str, str]] = None) -> Optional[int]:
    """The intra-op thread count wanted: `$SAM2MATTING_CPU_THREADS`, default 1; None for
    `auto`/0 (torch's default).

    Raises:
        UsageError (a ValueError): the variable is not a non-negative integer or `auto`.
    """
    value = (os.environ if environ is None else environ).get(ENV, "").strip().lower()
    if not value:
        return DEFAULT
    if value == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise UsageError(
            f"{ENV} must be a number of threads, not {value!r}",
            hint=f"{ENV}=1 (the default), 2, ...; 0 or auto: torch's default, one per core",
        )
    return count or None


def apply_cpu_threads(environ: Optional[Mapping[str, str]] = None) -> int:
    """Set torch's intra-op threads from `cpu_threads`; returns the count now in use."""
    wanted = cpu_threads(environ)
    if wanted is not None and wanted != torch.get_num_threads():
        torch.set_num_threads(wanted)
    count = torch.get_num_threads()
    log.info("torch intra-op threads: %d (%s=%s)", count, ENV, wanted or "auto")
    return count
