"""The run as one PNG: frames/s per configuration and mode; GPU latency and memory when measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from benchmarks.pipeline.report import MODES

COLOURS = {"bare": "#7f7f7f", "session": "#bcbd22", "in_process": "#1f77b4", "full": "#d62728"}


def plot(payload: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary: List[Dict[str, Any]] = payload["summary"]
    extras = [k for k in ("latency", "memory") if k in payload]
    fig, axes = plt.subplots(
        1, 1 + len(extras), figsize=(7 + 4.5 * len(extras), 4.8), squeeze=False
    )
    _rates(axes[0][0], summary)
    for ax, key in zip(axes[0][1:], extras):
        (_latency if key == "latency" else _memory)(ax, payload[key])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _rates(ax: Any, summary: List[Dict[str, Any]]) -> None:
    labels = [s["config"] + (" +busy" if s["loaded"] else "") for s in summary]
    width = 0.8 / len(MODES)
    for k, mode in enumerate(MODES):
        values = [s.get(f"{mode}_fps") or 0.0 for s in summary]
        xs = [i + (k - 1.5) * width for i in range(len(summary))]
        ax.barh(xs, values, height=width, color=COLOURS[mode], label=mode)
        for x, v, s in zip(xs, values, summary):
            if mode == "full" and v and s.get("full_over_in_process"):
                ax.text(v, x, f" {s['full_over_in_process']:.2f}x in-proc", va="center", fontsize=7)
    ax.set_yticks(range(len(summary)), labels, fontsize=8)
    ax.invert_yaxis()
    if not summary:  # a run of latency/memory alone has no rates to draw
        ax.set_title("no throughput measured in this run", fontsize=10)
        return
    ax.set_xscale("log")
    ax.set_xlabel("frames/s (median over repetitions; log scale)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("bare tracker vs in-process compute vs full server", fontsize=10)


def _latency(ax: Any, latency: Dict[str, Any]) -> None:
    samples = latency.get("samples_ms", [])
    ax.hist(samples, bins=20, color="#1f77b4")
    p95 = latency.get("summary", {}).get("p95_ms")
    if p95 is not None:
        ax.axvline(p95, color="#d62728", label=f"p95 {p95:.0f} ms")
        ax.legend(fontsize=8)
    ax.set_xlabel("prompt -> matte received (ms)")
    ax.set_title(f"latency, {latency.get('size', '')}", fontsize=10)


def _memory(ax: Any, memory: Dict[str, Any]) -> None:
    samples = memory.get("samples", [])
    frames = [s["frame"] for s in samples]
    for key in ("gpu_allocated_mb", "gpu_reserved_mb", "rss_mb"):
        if samples and samples[0].get(key) is not None:
            ax.plot(frames, [s[key] for s in samples], marker=".", label=key)
    ax.set_xlabel("frame")
    ax.set_ylabel("MiB")
    ax.legend(fontsize=8)
    ax.set_title(f"memory over a long shot, {memory.get('size', '')}", fontsize=10)
