"""docs/NUKE_PLUGIN.md's TD tables ("Nuke behaviours the plugin relies on") and the fake's
registry (tests/fake_nuke/nuke/_facts.py) agree: every row names its facts, a "documented" row
only DOCUMENTED ones, a "check" row only UNVERIFIED ones, and every registered fact has a row
(as CACHE_LAYOUT.md and the code agree in tests/protocol/test_cache_layout.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from nuke import _facts

from .helpers import TRACK_TOUCHES, WHY_UNAVOIDABLE

DOC = (Path(__file__).resolve().parents[2] / "docs" / "NUKE_PLUGIN.md").read_text(encoding="utf-8")
SECTION = "## Nuke behaviours the plugin relies on (for TDs)"


def _cells(line: str) -> List[str]:
    """A table row's cells; `\\|` inside a cell is a literal bar, not a separator."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _rows() -> List[Dict[str, str]]:
    """Every row of the section's tables, keyed by the header's column names."""
    assert SECTION in DOC, "NUKE_PLUGIN.md lost its TD table"
    text = DOC[DOC.index(SECTION) + len(SECTION) :]
    text = text.split("\n## ", 1)[0]
    rows: List[Dict[str, str]] = []
    header: List[str] = []
    for line in text.splitlines():
        if not line.startswith("|"):
            header = []
        elif not header:
            header = _cells(line)
        elif not set(line) <= set("|-: "):
            cells = _cells(line)
            assert len(cells) == len(header), line
            rows.append(dict(zip(header, cells)))
    return rows


def _status_and_facts(row: Dict[str, str]) -> Tuple[str, List[str]]:
    status = re.match(r"[a-z]+", row.get("status", ""))
    return (status.group(0) if status else ""), re.findall(r"`([A-Za-z_]+)`", row.get("fact", ""))


def test_the_tables_have_a_status_and_a_fact_column():
    rows = _rows()
    assert len(rows) >= 40
    assert all({"behaviour", "status", "fact"} <= set(row) for row in rows)


def _row_id(row: Dict[str, str]) -> str:
    facts = _status_and_facts(row)[1]
    return facts[0] if facts else row.get("behaviour", "")[:30]


@pytest.mark.parametrize("row", _rows(), ids=_row_id)
def test_each_row_has_the_status_of_its_facts(row):
    status, facts = _status_and_facts(row)
    assert facts, f"no fact named for: {row['behaviour']}"
    registry = {"documented": _facts.DOCUMENTED, "check": _facts.UNVERIFIED}
    assert status in registry, f"status must start with documented or check: {row['status']}"
    wrong = [f for f in facts if f not in registry[status]]
    assert wrong == [], f"{row['behaviour'][:60]}: {wrong} are not {status} in _facts.py"


def test_every_registered_fact_has_a_row():
    named = {f for row in _rows() for f in _status_and_facts(row)[1]}
    assert set(_facts.DOCUMENTED) - named == set()
    assert set(_facts.UNVERIFIED) - named == set()


def test_every_fact_has_one_status():
    assert set(_facts.DOCUMENTED) & set(_facts.UNVERIFIED) == set()


def test_the_unverified_facts_relied_on_are_those_the_doc_explains():
    """Every unverified behaviour the tests allow a session to touch is registered, and the
    ones they say are relied on are explained in the doc's "still relied on" list."""
    assert set(WHY_UNAVOIDABLE) <= set(_facts.UNVERIFIED)
    assert set(WHY_UNAVOIDABLE) >= TRACK_TOUCHES
    relied = {k for k, why in WHY_UNAVOIDABLE.items() if why.startswith("relied on")}
    explained = DOC.split("### Unverified behaviours still relied on, and why", 1)[1]
    listed = set(re.findall(r"^- `([a-z_]+)`:", explained, re.M))
    assert relied
    assert relied <= listed <= set(_facts.UNVERIFIED)
