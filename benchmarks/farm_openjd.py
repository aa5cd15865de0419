"""Farm benchmark: one `render` vs the OpenJD job with N parallel Matte workers, simulated here.

    .venv/bin/python -m benchmarks.farm_openjd [--frames 100] [--size 1920x1080] [--workers 1,2,4]

A generated 1080p shot (two textured discs moving over a textured background, float EXR
plates), the flow tracker and the closed-form engine. First `sam2matting render` writes the
whole shot in one process; then, for each N, a farm of N workers is simulated with local
processes: every task is `openjd run --step ... --task-param ...` of the bundle `farm bundle`
wrote (OpenJD's own runtime, one session per task, as a farm's worker agent runs it), at most N
at a time; the Matte tasks start when every Track task has ended (the step dependency). The
Track step is the critical path: its share of the job's wall time is reported, with the
load average before and after each run (the machine is shared) and the worst difference to
render's EXRs. Results: out/benchmarks/farm_openjd.json and docs/img/farm_openjd.png.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from benchmarks.common import OUT_DIR, REPO, print_table, write_result
from sam2matting.backend.imageio.exr import read_exr, write_exr
from sam2matting.backend.shots.journal import ShotJournal
from sam2matting.backend.shots.records import ShotSettings
from sam2matting.backend.tracking.base import Prompt

FIRST = 1001
SAM2MATTING = str(Path(sys.executable).with_name("sam2matting"))
OPENJD = str(Path(sys.executable).with_name("openjd"))
FRAME_LINE = re.compile(r"frame (\d+): (?:written|prior stored) \(([\d.]+) s\)")


# ---------------------------------------------------------------- the shot


def _discs(size: Tuple[int, int]) -> Dict[int, Tuple[Tuple[float, float], Tuple[float, float]]]:
    """Object -> (start centre, step per frame) in plate pixels."""
    w, h = size
    return {1: ((0.25 * w, 0.45 * h), (4.0, 1.0)), 2: ((0.7 * w, 0.3 * h), (-2.0, 3.0))}


def _texture(
    rng: np.random.Generator, size: Tuple[int, int], cell: int, lo: float, hi: float
) -> np.ndarray:
    w, h = size
    base = rng.uniform(lo, hi, size=(h // cell + 2, w // cell + 2, 3)).astype(np.float32)
    return np.repeat(np.repeat(base, cell, 0), cell, 1)[:h, :w]


def make_shot(folder: Path, frames: int, size: Tuple[int, int]) -> Tuple[str, Path]:
    """Plates (kept between runs) and the shot file; returns (plate pattern, shot file)."""
    w, h = size
    radius = 0.1 * h
    plate = folder / "plate" / "plate.####.exr"
    plate.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    background = _texture(rng, size, 24, 0.02, 0.15)
    layers = {o: _texture(rng, size, 9, 0.4, 0.9) for o in (1, 2)}
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    discs = _discs(size)
    for i in range(frames):
        path = folder / "plate" / f"plate.{FIRST + i}.exr"
        if path.is_file():
            continue
        rgb = background.copy()
        for obj, ((x, y), (dx, dy)) in discs.items():
            alpha = np.clip(radius + 0.5 - np.hypot(xx - x - dx * i, yy - y - dy * i), 0, 1)
            rgb = alpha[..., None] * layers[obj] + (1 - alpha[..., None]) * rgb
        write_exr(path, {c: rgb[..., k] for k, c in enumerate("RGB")}, pixel_type="half")
    settings = ShotSettings(
        "bench", w, h, FIRST, FIRST + frames - 1, tracker="flow", engine="closed_form"
    )
    shot_file = folder / "bench.sam2shot.json"
    journal = ShotJournal.create(folder / f"journal-{os.getpid()}", settings)
    for obj, ((x, y), _) in discs.items():
        box = (x - radius - 4, y - radius - 4, x + radius + 4, y + radius + 4)
        journal.add_prompt(FIRST, obj, f"disc{obj}", Prompt(box=box))
    journal.export_shot_file(shot_file)
    return str(plate), shot_file


# ---------------------------------------------------------------- runs


def timed(command: List[str], log: Path) -> Dict[str, Any]:
    """Run a command (stdout and stderr to `log`): its wall time and CPU seconds.

    CPU seconds come from wait4's resource usage, which on Linux includes every descendant the
    process waited for (the task `openjd run` starts): unlike wall time, they hardly change
    with what else runs on the shared machine.
    """
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed:\n{log.read_text()[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}


def run_render(folder: Path, plate: str, shot_file: Path, frames: int) -> Dict[str, Any]:
    out = folder / "render"
    _clear(out)
    load = os.getloadavg()[0]
    result = timed(
        [
            SAM2MATTING,
            "render",
            "--plate",
            plate,
            "--frames",
            f"{FIRST}-{FIRST + frames - 1}",
            "--shot",
            str(shot_file),
            "-o",
            str(out / "matte.####.exr"),
            "--device",
            "cpu",
        ],
        folder / "render.log",
    )
    return dict(result, load_before=load, load_after=os.getloadavg()[0])


def run_farm(
    folder: Path, plate: str, shot_file: Path, frames: int, chunk: int, workers: int
) -> Dict[str, Any]:
    job = folder / "job"
    for sub in ("farm", "job"):
        _clear(folder / sub)
    subprocess.run(  # noqa: S603 - our own CLI, arguments built here
        [
            SAM2MATTING,
            "farm",
            "bundle",
            "--shot",
            str(shot_file),
            "--plate",
            plate,
            "--frames",
            f"{FIRST}-{FIRST + frames - 1}",
            "--mattes",
            str(folder / "farm" / "matte.####.exr"),
            "-o",
            str(job),
            "--chunk-size",
            str(chunk),
            "--device",
            "cpu",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tracks = [("Track", f"Object={o}") for o in (1, 2)]
    mattes = [("Matte", f"ChunkStart={s}") for s in range(FIRST, FIRST + frames, chunk)]
    load = os.getloadavg()[0]
    started = time.monotonic()
    track_tasks = _pool(job, tracks, workers)
    track_wall = time.monotonic() - started
    load_mid = os.getloadavg()[0]
    matte_tasks = _pool(job, mattes, workers)
    total = time.monotonic() - started
    return {
        "workers": workers,
        "wall_s": total,
        "track_s": track_wall,
        "matte_s": total - track_wall,
        "critical_fraction": track_wall / total,
        "tasks": track_tasks + matte_tasks,
        "load_before": load,
        "load_mid": load_mid,
        "task_overhead_s": _overhead(track_tasks + matte_tasks),
        "load_after": os.getloadavg()[0],
        "max_abs_diff": _max_difference(folder, frames),
    }


def _pool(job: Path, tasks: Sequence[Tuple[str, str]], workers: int) -> List[Dict[str, Any]]:
    """Run OpenJD tasks, at most `workers` at once, each as a farm worker would."""

    def one(task: Tuple[str, str]) -> Dict[str, Any]:
        step, param = task
        log = job / f"{step}-{param.split('=')[1]}.log"
        result = timed(
            [
                OPENJD,
                "run",
                str(job / "template.json"),
                "-p",
                f"file://{job / 'openjd_parameters.json'}",
                "--step",
                step,
                "--no-run-dependencies",
                "--task-param",
                param,
            ],
            log,
        )
        work = sum(float(m.group(2)) for m in FRAME_LINE.finditer(log.read_text()))
        return dict(result, step=step, param=param, frame_work_s=work)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, tasks))


def schedule(durations: Sequence[float], workers: int) -> float:
    """Wall time of independent tasks on `workers` dedicated workers (longest first)."""
    ends = [0.0] * workers
    for duration in sorted(durations, reverse=True):
        ends[ends.index(min(ends))] += duration
    return max(ends)


def modelled(farm: Dict[str, Any], workers: int) -> Dict[str, float]:
    """The job on `workers` dedicated single-core workers, from the tasks' measured CPU seconds:
    Track tasks in parallel, then the Matte chunks (what an idle farm of that size would do)."""
    tracks = [t["cpu_s"] for t in farm["tasks"] if t["step"] == "Track"]
    mattes = [t["cpu_s"] for t in farm["tasks"] if t["step"] == "Matte"]
    track, matte = schedule(tracks, workers), schedule(mattes, workers)
    return {
        "workers": workers,
        "track_s": track,
        "matte_s": matte,
        "wall_s": track + matte,
        "critical_fraction": track / (track + matte),
    }


def _overhead(tasks: List[Dict[str, Any]]) -> float:
    """Mean seconds a task spends outside its frames: process start, imports, OpenJD session."""
    return sum(t["wall_s"] - t["frame_work_s"] for t in tasks) / max(len(tasks), 1)


def _max_difference(folder: Path, frames: int) -> float:
    worst = 0.0
    for frame in range(FIRST, FIRST + frames):
        ours = read_exr(folder / "farm" / f"matte.{frame}.exr").channels
        ref = read_exr(folder / "render" / f"matte.{frame}.exr").channels
        if sorted(ours) != sorted(ref):
            return float("inf")
        worst = max(worst, *(float(np.abs(ours[c] - ref[c]).max()) for c in ref))
    return worst


def _clear(folder: Path) -> None:
    if folder.exists():
        for path in sorted(folder.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
    folder.mkdir(parents=True, exist_ok=True)


# ---------------------------------------------------------------- report


def plot(result: Dict[str, Any], title: str, path: Path) -> None:
    """Measured runs on this machine (left) and the job on dedicated workers (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    render, farms, model = result["render"], result["farm"], result["modelled"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    _bars(
        left,
        ["render"] + [f"OpenJD, {f['workers']} worker(s)" for f in farms],
        [0.0] + [f["track_s"] for f in farms],
        [render["wall_s"]] + [f["matte_s"] for f in farms],
    )
    left.set_title("measured here (2 shared cores)", fontsize=9)
    _bars(
        right,
        [f"{m['workers']} worker(s)" for m in model],
        [m["track_s"] for m in model],
        [m["matte_s"] for m in model],
    )
    right.set_title("from the tasks' CPU seconds, on dedicated 1-core workers", fontsize=9)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(ax: Any, labels: List[str], track: List[float], matte: List[float]) -> None:
    ax.barh(labels, track, color="#c0504d", label="Track step (critical path)")
    ax.barh(labels, matte, left=track, color="#4f81bd", label="Matte step / whole render")
    for i, (t, m) in enumerate(zip(track, matte)):
        ax.text(t + m, i, f" {t + m:.0f} s", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("wall time (s)")
    ax.set_xlim(0, max(t + m for t, m in zip(track, matte)) * 1.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--chunk", type=int, default=10, help="frames per Matte task")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--work", type=Path, default=OUT_DIR / "farm_openjd_work")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "img" / "farm_openjd.png")
    parser.add_argument(
        "--replot", action="store_true", help="only redraw the plot from the last results file"
    )
    args = parser.parse_args()
    if args.replot:
        saved = json.loads((OUT_DIR / "farm_openjd.json").read_text())["results"]
        plot(saved, _title(saved), args.plot)
        return
    size = tuple(int(v) for v in args.size.lower().split("x"))
    assert len(size) == 2
    plate, shot_file = make_shot(args.work, args.frames, (size[0], size[1]))
    render = run_render(args.work, plate, shot_file, args.frames)
    farms = [
        run_farm(args.work, plate, shot_file, args.frames, args.chunk, int(n))
        for n in args.workers.split(",")
    ]
    rows = [
        [
            "render",
            "-",
            f"{render['wall_s']:.1f}",
            f"{render['cpu_s']:.0f}",
            "-",
            "-",
            "-",
            "-",
            f"{render['load_before']:.1f}/{render['load_after']:.1f}",
        ]
    ]
    for f in farms:
        cpu_s = sum(t["cpu_s"] for t in f["tasks"])
        rows.append(
            [
                f"OpenJD x{f['workers']}",
                f["workers"],
                f"{f['wall_s']:.1f}",
                f"{cpu_s:.0f}",
                f"{f['track_s']:.1f}",
                f"{f['critical_fraction']:.0%}",
                f"{f['max_abs_diff']:.1e}",
                f"{f['task_overhead_s']:.1f}",
                f"{f['load_before']:.1f}/{f['load_after']:.1f}",
            ]
        )
    print_table(
        [
            "run",
            "workers",
            "wall s",
            "CPU s",
            "Track s",
            "Track share",
            "max |diff|",
            "task overhead s",
            "load 1-min before/after",
        ],
        rows,
    )
    cpu = farms[0]
    model = [modelled(cpu, n) for n in (1, 2, 4, 8, 16)]
    print(
        f"\nCPU seconds: render {render['cpu_s']:.0f}, the job's tasks "
        f"{sum(t['cpu_s'] for t in cpu['tasks']):.0f} (1-worker run); on dedicated 1-core "
        "workers (from each task's CPU seconds):"
    )
    print_table(
        ["workers", "Track s", "Matte s", "wall s", "Track share"],
        [
            [
                m["workers"],
                f"{m['track_s']:.0f}",
                f"{m['matte_s']:.0f}",
                f"{m['wall_s']:.0f}",
                f"{m['critical_fraction']:.0%}",
            ]
            for m in model
        ],
    )
    result = {
        "frames": args.frames,
        "size": args.size,
        "chunk": args.chunk,
        "objects": 2,
        "render": render,
        "farm": farms,
        "modelled": model,
        "cpu_count": os.cpu_count(),
    }
    print(f"results: {write_result('farm_openjd', result)}")
    plot(result, _title(result), args.plot)
    print(f"plot: {args.plot}")
    print(
        json.dumps(
            {"render_s": render["wall_s"], "farm_s": {f["workers"]: f["wall_s"] for f in farms}}
        )
    )


def _title(result: Dict[str, Any]) -> str:
    return (
        f"{result['frames']} frames {result['size']}, 2 objects, flow + closed-form, "
        f"chunks of {result['chunk']}"
    )


if __name__ == "__main__":
    main()
