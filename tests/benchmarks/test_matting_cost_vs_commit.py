"""The cost comparison's earlier side runs the earlier tree's code, not the installed package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks import matting_cost_vs_commit as cost

REPO = Path(__file__).resolve().parents[2]
# load the benchmark by path and point it at a tree (the child's first step)
_SNIPPET = (
    "import importlib.util, pathlib, sys\n"
    "spec = importlib.util.spec_from_file_location('cost', sys.argv[1])\n"
    "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
    "print(m._use_tree(pathlib.Path(sys.argv[2])))\n"
)


def _use_tree(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _SNIPPET, cost.__file__, str(tree)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_earlier_tree_is_imported_through_its_namespace_links(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for folder in cost.PACKAGES:
        shutil.copytree(REPO / folder, tree / folder, ignore=shutil.ignore_patterns("__pycache__"))
    cost._link_namespace(tree)

    done = _use_tree(tree)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str((tree / "backend" / "__init__.py").resolve())


def test_a_tree_without_the_links_is_refused_not_silently_replaced(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(
        REPO / "backend", tree / "backend", ignore=shutil.ignore_patterns("__pycache__")
    )

    done = _use_tree(tree)  # no _ns: the installed package would be timed instead

    assert done.returncode != 0
    assert "not the code under" in done.stderr


def test_rounds_are_compared_by_their_own_medians() -> None:
    before = [[0.30, 0.31, 0.50], [0.20, 0.21, 0.22], [0.40, 0.41, 0.42]]
    today = [[0.29, 0.30, 0.10], [0.25, 0.24, 0.26], [0.39, 0.40, 0.99]]
    # medians: 0.31 vs 0.29 (cheaper), 0.21 vs 0.25 (dearer), 0.41 vs 0.40 (cheaper)
    assert cost.rounds_cheaper(before, today) == 2
    assert cost.rounds_cheaper(today, before) == 1
