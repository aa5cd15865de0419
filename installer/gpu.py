"""NVIDIA GPU and driver detection through nvidia-smi, and the torch wheel index that matches it."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

PYTORCH_INDEX = "https://download.pytorch.org/whl/"
# CUDA builds published on PYTORCH_INDEX, newest first. A driver runs every CUDA up to the version
# nvidia-smi reports, so the newest build not above it is the match.
TORCH_CUDA_BUILDS: Sequence[Tuple[Tuple[int, int], str]] = (
    ((13, 0), "cu130"),
    ((12, 9), "cu129"),
    ((12, 8), "cu128"),
    ((12, 6), "cu126"),
    ((12, 4), "cu124"),
    ((12, 1), "cu121"),
    ((11, 8), "cu118"),
)

Query = Callable[[Sequence[str]], Optional[str]]


@dataclass(frozen=True)
class GpuInfo:
    names: Tuple[str, ...]
    driver: str
    cuda: Optional[Tuple[int, int]]  # highest CUDA version the driver supports

    def describe(self) -> str:
        cuda = f", CUDA {self.cuda[0]}.{self.cuda[1]}" if self.cuda else ""
        return f"{', '.join(self.names)} (driver {self.driver}{cuda})"


def parse_nvidia_smi(banner: str, query_csv: str) -> Optional[GpuInfo]:
    """GPU names and driver from `--query-gpu=name,driver_version` output, CUDA from the banner."""
    names, driver = [], ""
    for line in query_csv.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0]:
            names.append(parts[0])
            driver = parts[1]
    if not names:
        return None
    match = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", banner)
    cuda = (int(match.group(1)), int(match.group(2))) if match else None
    return GpuInfo(tuple(names), driver, cuda)


def run_query(argv: Sequence[str]) -> Optional[str]:
    """stdout of a quick query command, or None when it is missing or fails."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def detect_nvidia(query: Query = run_query) -> Optional[GpuInfo]:
    """The machine's NVIDIA GPUs, or None when there is no working driver."""
    listing = query(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"])
    if not listing:
        return None
    return parse_nvidia_smi(query(["nvidia-smi"]) or "", listing)


def torch_cuda_build(cuda: Optional[Tuple[int, int]]) -> Optional[str]:
    """cuXYZ of the newest torch CUDA build the driver runs; None when it runs none (CPU)."""
    if cuda is None:
        return None
    for version, tag in TORCH_CUDA_BUILDS:
        if version <= cuda:
            return tag
    return None
