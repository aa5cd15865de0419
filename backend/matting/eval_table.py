"""The evaluation's text tables: per image, the means, the ratios to the mask and the worst cases.

Per image: SAD and Grad of the engine and of the binary mask, their ratio (below 1: the engine
beats the mask), and the hard-object measures (`object_metrics`): J of alpha > 0.5 and the
mask's own J, the fraction of the solid interior, the edge's transition width beside the
truth's, and unsupported straight steps (tile artifacts) beside the truth's own count. MSE and
Conn are in the JSON and CSV.
"""

from __future__ import annotations

from typing import List

import numpy as np

from sam2matting.backend.matting.evaluation import METRICS, EvalReport, ImageResult

_HEAD = (
    f"{'image':<20} {'size':>9} {'mask op':>9} {'SAD':>7} {'mask':>7} {'ratio':>6} "
    f"{'Grad':>7} {'mask':>7} {'ratio':>6} {'J':>6} {'J mask':>6} {'solid':>6} "
    f"{'width':>6} {'truth':>6} {'tiles':>5} {'truth':>5} {'s':>6}"
)


def _row(r: ImageResult) -> str:
    h = r.hard
    return (
        f"{r.name[:20]:<20} {r.width:>4}x{r.height:<4} {r.mask_op:>9} "
        f"{r.engine['sad']:7.3f} {r.mask['sad']:7.3f} {r.ratio('sad'):6.3f} "
        f"{r.engine['grad']:7.3f} {r.mask['grad']:7.3f} {r.ratio('grad'):6.3f} "
        f"{h.get('j', np.nan):6.3f} {h.get('j_mask', np.nan):6.3f} "
        f"{h.get('interior', np.nan):6.3f} {h.get('edge_width', np.nan):6.2f} "
        f"{h.get('edge_width_truth', np.nan):6.2f} {h.get('tile_artifacts', np.nan):5.0f} "
        f"{h.get('tile_artifacts_truth', np.nan):5.0f} {r.seconds:6.2f}"
    )


def format_table(report: EvalReport) -> str:
    """The per-image table, means, ratios and worst cases as aligned text."""
    lines: List[str] = [_HEAD, "-" * len(_HEAD)]
    lines.extend(_row(r) for r in report.results)
    eng, base, ratio = report.means("engine"), report.means("mask"), report.ratios()
    if not eng:
        return "\n".join(lines)
    lines.append("-" * len(_HEAD))
    lines.append(
        "mean engine: "
        + "  ".join(f"{m.upper()} {eng[m]:.3f}" for m in METRICS)
        + f"   s/MP {report.seconds_per_mp():.2f}"
    )
    lines.append("mean mask:   " + "  ".join(f"{m.upper()} {base[m]:.3f}" for m in METRICS))
    lines.append(
        "engine / mask (means): " + "  ".join(f"{m.upper()} {ratio[m]:.3f}" for m in METRICS)
    )
    lines.append(format_worst(report))
    return "\n".join(lines)


def format_worst(report: EvalReport) -> str:
    """One line: the worst image per measure."""
    s = report.summary()
    parts = []
    for m in ("sad", "grad"):
        worst = report.worst(m)
        if worst is not None:
            parts.append(f"worst {m.upper()} ratio {worst.ratio(m):.3f} ({worst.name})")
    if "min_j_ratio" in s:
        parts.append(f"min J/J mask {s['min_j_ratio']:.3f}")
        parts.append(f"min solid interior {s['min_interior']:.3f}")
        parts.append(
            f"tile artifacts {s['tile_artifacts']:.0f}"
            f" ({s['tile_artifacts_beyond_truth']:.0f} beyond the truth's own)"
        )
    return "; ".join(parts)
