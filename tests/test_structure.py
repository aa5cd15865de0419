"""Rules about where things live that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import re
import sys

from tests.conftest import REPO_ROOT

SOURCE_FOLDERS = ("backend", "protocol", "installer", "host_plugin/sam2matting_nuke", "benchmarks")
# A temp file renamed over its target, written by hand instead of with protocol/atomic.py.
HAND_WRITTEN = re.compile(
    r"mkstemp\(|NamedTemporaryFile\(|os\.(replace|rename)\(|\b\w+\.(replace|rename)\(\w+\)"
)
# Renames that are not writes: each moves a finished thing into place, said why.
NOT_WRITES = {
    "backend/shots/plate_index.py": "sets a damaged refs.json and its frames aside (renames)",
    "backend/shots/matte_cache.py": "sets a damaged matte aside in matte/damaged/ (a rename)",
    "backend/shots/undo.py": "undoes a change: a backup (a hard link of the old file) renamed "
    "back over its file, which needs no disk space",
    "backend/shots/reconcile.py": "restores the backup an interrupted change left (a rename)",
    "installer/models.py": "a verified, resumable .part download renamed into place",
    "installer/nuke_plugin.py": "a freshly vendored folder swapped in (folders, not a file)",
}


def _python_files(folder: str):
    return sorted((REPO_ROOT / folder).rglob("*.py"))


def test_every_writer_uses_the_one_atomic_helper():
    offenders = []
    for folder in SOURCE_FOLDERS:
        for path in _python_files(folder):
            rel = path.relative_to(REPO_ROOT).as_posix()
            if rel == "protocol/atomic.py" or rel in NOT_WRITES:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if HAND_WRITTEN.search(line):
                    offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == [], (
        "write files with sam2matting.protocol.atomic (atomic_write_bytes/_text/_json), "
        "not a hand-written temp file and rename:\n" + "\n".join(offenders)
    )
    for rel in NOT_WRITES:  # the allowances still point at something real
        assert HAND_WRITTEN.search((REPO_ROOT / rel).read_text(encoding="utf-8")), rel


def test_protocol_needs_only_the_standard_library_and_pyzmq():
    """protocol/ is vendored into Nuke: nothing beyond the standard library and zmq."""
    allowed = set(sys.stdlib_module_names) | {"zmq", "sam2matting"}
    for path in _python_files("protocol"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in allowed, f"{path.name} imports {name}"
                if top == "sam2matting":
                    assert name.startswith("sam2matting.protocol"), f"{path.name} imports {name}"


def test_the_start_reading_here_files_exist():
    text = (REPO_ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Start reading here", 1)[1].split("```", 1)[0]
    links = re.findall(r"^\d\. \[`[^`]+`\]\(([^)]+)\)", section, re.M)
    assert len(links) == 5
    for link in links:
        assert (REPO_ROOT / "docs" / link).resolve().is_file(), link


def _annotations(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None and arg.annotation is not None:
                    yield arg.annotation
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def _is_optional_union(node: ast.AST) -> bool:
    return any(
        isinstance(sub, ast.BinOp)
        and isinstance(sub.op, ast.BitOr)
        and any(
            isinstance(side, ast.Constant) and side.value is None for side in (sub.left, sub.right)
        )
        for sub in ast.walk(node)
    )


def test_one_spelling_of_optional():
    """`Optional[X]`, never `X | None`: the Nuke side and protocol/ run on Python 3.7, where the
    union syntax only works as a postponed annotation, and one spelling reads the same everywhere
    (the backend too, so code moves between the sides unchanged)."""
    offenders = []
    for folder in (*SOURCE_FOLDERS, "tests"):
        for path in _python_files(folder):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            offenders += [
                f"{path.relative_to(REPO_ROOT)}:{a.lineno}"
                for a in _annotations(tree)
                if _is_optional_union(a)
            ]
    assert not offenders, "write Optional[X] instead of X | None: " + ", ".join(offenders)
