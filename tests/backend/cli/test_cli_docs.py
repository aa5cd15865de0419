"""docs/CLI.md keeps up with the code: every command, every option, every exit code."""

from __future__ import annotations

import argparse
import importlib
import re

import pytest

from sam2matting.backend.cli import exit_codes
from sam2matting.backend.cli.main import COMMANDS
from tests.conftest import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")


def section(name: str) -> str:
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", DOC, re.S | re.M)
    assert match, f"docs/CLI.md has no '## {name}' section"
    return match.group(1)


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser `sam2matting NAME` uses (as main.main builds it)."""
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"sam2matting {name}")
    parser.add_argument("-v", "--verbose", action="store_true")
    module.add_arguments(parser)
    return parser


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_option_is_documented(name):
    text = section(name)
    assert f"usage: sam2matting {name}" in text
    for action in command_parser(name)._actions:
        for option in action.option_strings:
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (
                f"{option} of '{name}' is missing from docs/CLI.md"
            )


def test_every_exit_code_is_documented():
    table = section("Exit codes")
    codes = {k: v for k, v in vars(exit_codes).items() if k.isupper() and isinstance(v, int)}
    assert codes
    for name, value in codes.items():
        assert re.search(rf"^\| {value} \| `{name}` \|", table, re.M), f"{name} = {value}"


def test_the_demo_default_in_the_docs_is_the_code_default():
    from sam2matting.backend.cli import demo

    assert f"(default {demo.DEFAULT_FRAMES})" in section("demo")
    assert f"default {demo.DEFAULT_SIZE[0]}x{demo.DEFAULT_SIZE[1]}" in section("demo")
