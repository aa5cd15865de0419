"""PROTOCOL.md and the code agree: version, message types, examples, error codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sam2matting.protocol import messages
from sam2matting.protocol.errors import HINTS, ErrorCode
from sam2matting.protocol.version import PROTOCOL_VERSION, PROTOCOL_VERSION_INFO, parse_version

SPEC = (Path(messages.__file__).resolve().parent / "PROTOCOL.md").read_text(encoding="utf-8")


def sections():
    """'### name' headings of the Messages chapter, each with its ```json example."""
    found = {}
    chapter = SPEC.split("\n## Messages\n", 1)[1]
    for chunk in chapter.split("\n### ")[1:]:
        name, body = chunk.split("\n", 1)
        example = re.search(r"```json\n(.*?)```", body, re.S)
        assert example is not None, f"section {name} has no example"
        found[name.strip()] = json.loads(example.group(1))
    return found


def test_version_matches():
    match = re.search(r"Current protocol version: \*\*(\d+\.\d+)\*\*", SPEC)
    assert match is not None
    assert match.group(1) == PROTOCOL_VERSION
    assert parse_version(PROTOCOL_VERSION) == PROTOCOL_VERSION_INFO
    history = re.findall(r"^\| (\d+\.\d+) \|", SPEC, re.M)
    assert history[-1] == PROTOCOL_VERSION


def test_every_message_type_is_documented_and_nothing_else():
    assert set(sections()) == set(messages.MESSAGE_TYPES)


@pytest.mark.parametrize("msg_type", messages.MESSAGE_TYPES)
def test_documented_example_validates(msg_type):
    example = sections()[msg_type]
    checked = messages.validate_content(msg_type, example)
    # The example spells out every field (the reader sees the whole message).
    assert set(example) == set(checked), f"{msg_type}: example omits {set(checked) - set(example)}"


def test_error_codes_table_matches_taxonomy():
    table = re.search(r"## Error codes\n(.*?)\n## ", SPEC, re.S)
    assert table is not None
    documented = set(re.findall(r"^\| ([a-z_]+) \|", table.group(1), re.M)) - {"code"}
    assert documented == {code.value for code in ErrorCode}
    assert set(HINTS) == set(ErrorCode)


def test_every_request_has_a_reply():
    for request, reply in messages.REQUESTS.items():
        assert reply in messages.CONTENT, f"{request} has no {reply}"


def test_limits_table_and_field_reference_are_generated_from_the_code():
    from sam2matting.protocol import limits, spec_doc

    assert spec_doc.generated(SPEC) == SPEC, (
        "PROTOCOL.md's generated parts are out of date: "
        "python -m sam2matting.protocol.spec_doc --write"
    )
    assert limits.limits_table() in SPEC
    # describe_reply.limits carries every limit of the table
    assert set(limits.wire_limits()) == {lim.name for lim in limits.LIMITS}
