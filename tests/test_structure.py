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
    "backend/shots/plate_index.py": "sets a damaged refs.json aside (a rename, nothing written)",
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
