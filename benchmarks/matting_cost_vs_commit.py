"""1080p cost of the weight-free engine against an earlier commit's own engine, in alternation.

Issue 11's cost target: the default engine costs no more per 1080p frame on 2 cores than the
engine before issue 11. `matting_quality`'s `baseline` variant runs that pipeline with today's
colour upsampling, which is faster and flatters it; this runs the earlier commit's own code.
The commit is checked out with `git worktree` into a temporary folder, and its package folders
are mapped onto the `sam2matting` namespace through a folder of links placed first on
`sys.path`. Each round times one process of each side in turn (that tree's own
`matting_quality.timing`: a warm-up, then `--repeats` runs of its `hd_frame`), so drifting
machine load falls on both alike.

    python -m benchmarks.matting_cost_vs_commit                  # 71a7fe1's baseline, 6 rounds
    python -m benchmarks.matting_cost_vs_commit --commit HEAD~3 --old-variant default

Prints each round's medians, the overall median and fastest run per side and in how many
rounds today's median beats the earlier commit's; writes out/benchmarks/matting_cost_vs_commit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
GIT = shutil.which("git") or "git"
BEFORE_ISSUE_11 = "71a7fe1"  # round 6's code; its `baseline` variant is the engine before
PACKAGES = ("backend", "protocol", "installer")  # folder -> sam2matting.<folder>


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--commit", default=BEFORE_ISSUE_11, help="the earlier commit")
    p.add_argument("--old-variant", default="baseline", help="its matting_quality variant")
    p.add_argument("--new-variant", default="default", help="today's variant")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--repeats", type=int, default=11, help="timed runs per process")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--child", nargs=2, metavar=("ROOT", "VARIANT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(Path(args.child[0]), args.child[1], args.repeats, args.threads)
    with tempfile.TemporaryDirectory(prefix="cost-vs-commit-") as tmp:
        old_root = Path(tmp) / "tree"
        subprocess.run(  # noqa: S603 - git with our own arguments
            [GIT, "-C", str(REPO), "worktree", "add", "--detach", str(old_root), args.commit],
            check=True,
            capture_output=True,
        )
        try:
            return _compare(old_root, args)
        finally:
            subprocess.run(  # noqa: S603 - git with our own arguments
                [GIT, "-C", str(REPO), "worktree", "remove", "--force", str(old_root)],
                check=False,
                capture_output=True,
            )


def _compare(old_root: Path, args: argparse.Namespace) -> int:
    _link_namespace(old_root)
    sides = {
        f"{args.commit} {args.old_variant}": (old_root, args.old_variant),
        f"today {args.new_variant}": (REPO, args.new_variant),
    }
    seconds: Dict[str, List[List[float]]] = {name: [] for name in sides}
    for r in range(args.rounds):
        for name, (root, variant) in sides.items():
            runs = _run_child(root, variant, args.repeats, args.threads)
            seconds[name].append(runs)
            print(f"round {r + 1}: {name:<24} median {statistics.median(runs):.3f} s", flush=True)
    summary = {
        name: {
            "round_medians": [statistics.median(r) for r in rounds],
            "median": statistics.median(statistics.median(r) for r in rounds),
            "fastest": min(min(r) for r in rounds),
        }
        for name, rounds in seconds.items()
    }
    print()
    for name, s in summary.items():
        print(
            f"{name:<24} median of round medians {s['median']:.3f} s, fastest {s['fastest']:.3f} s"
        )
    old_name, new_name = sides
    cheaper = rounds_cheaper(seconds[old_name], seconds[new_name])
    print(f"today cheaper in {cheaper} of {args.rounds} rounds (round medians)")
    from benchmarks.common import write_result

    results = {
        "commit": args.commit,
        "seconds": seconds,
        "summary": summary,
        "today_cheaper_rounds": cheaper,
        "load_after": os.getloadavg(),
        "threads": args.threads,
    }
    print(f"wrote {write_result('matting_cost_vs_commit', results)}")
    return 0


def rounds_cheaper(before: List[List[float]], today: List[List[float]]) -> int:
    """In how many rounds today's median run is faster than the earlier commit's: the two
    sides alternate, so a round compares them under about the same machine load."""
    return sum(statistics.median(b) > statistics.median(t) for b, t in zip(before, today))


def _link_namespace(root: Path) -> None:
    """root/_ns/sam2matting/<folder> -> root/<folder>: the commit's code importable by name."""
    ns = root / "_ns" / "sam2matting"
    ns.mkdir(parents=True, exist_ok=True)
    (ns / "__init__.py").write_text("", encoding="utf-8")
    for folder in PACKAGES:
        if (root / folder).is_dir():
            (ns / folder).symlink_to(root / folder, target_is_directory=True)


def _run_child(root: Path, variant: str, repeats: int, threads: int) -> List[float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(root), variant,
           "--repeats", str(repeats), "--threads", str(threads)]  # fmt: skip
    env = dict(os.environ)  # the plates: today's shared data, wherever the tree is
    env.setdefault("SAM2MATTING_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        cmd, check=True, capture_output=True, text=True, cwd=str(root), env=env
    )
    runs: List[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return runs


def _use_tree(root: Path) -> str:
    """Make `sam2matting` and `benchmarks` import from `root` (its `_ns` links first, so an
    installed sam2matting does not win), and check they do: the backend's real path."""
    sys.path[:1] = [str(root / "_ns"), str(root)] if (root / "_ns").is_dir() else [str(root)]
    import sam2matting.backend as backend

    here = os.path.realpath(backend.__file__)
    if not here.startswith(os.path.realpath(root) + os.sep):
        raise RuntimeError(f"imported {here}, not the code under {root}")
    return here


def _child(root: Path, variant: str, repeats: int, threads: int) -> int:
    """Time `variant` of the code under `root` (this process imports nothing else of ours)."""
    _use_tree(root)
    import torch

    from benchmarks import matting_quality as mq

    torch.set_num_threads(threads)
    # the quality benchmark's own timing loop, as each tree has it (same signature since 71a7fe1)
    runs = mq.timing([variant], threads, repeats)["seconds"][variant]
    print(json.dumps(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
