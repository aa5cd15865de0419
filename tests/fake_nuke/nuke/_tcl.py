"""The TCL Nuke expands in file knobs, as far as the plugin's tests use it.

`nuke.filename`, `EvalString_Knob.evaluate` and the paths Read and Write use: `[value node.knob]`,
`[getenv NAME]`, `[file dirname|tail|rootname PATH]`, `[frame]`, `$env(NAME)`, `$gui` and
backslash escapes. Anything else raises FakeTclError, so a test cannot pass on syntax the fake
does not understand. (Knob expressions such as `{{$gui}}` are _expr.py's.)
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any, List, Optional, Tuple

from . import _facts
from ._core import SESSION


class FakeTclError(ValueError):
    """TCL the fake cannot expand (Nuke would put the knob in error)."""


def gui_value() -> int:
    """$gui: 1 in the GUI, 0 at render time outside it (documented, see _facts.DOCUMENTED);
    inside a GUI session's render the fake says 1, and records that it relied on that."""
    if not SESSION.gui:
        return 0
    if SESSION.rendering:
        _facts.touch("gui_during_gui_session_render")
    return 1


def expand(text: str, node: Any = None) -> str:
    """`text` with its TCL substitutions done, evaluated for `node` (for relative names)."""
    out: List[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == "[":
            end = _matching(text, i)
            out.append(_command(expand(text[i + 1 : end], node), node))
            i = end + 1
        elif ch == "$":
            value, i = _variable(text, i)
            out.append(value)
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _matching(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "\\":
            continue
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return i
    raise FakeTclError(f"unbalanced [ in {text!r}")


def _variable(text: str, i: int) -> Tuple[str, int]:
    env = re.match(r"\$env\(([A-Za-z_][A-Za-z0-9_]*)\)", text[i:])
    if env:
        name = env.group(1)
        if name not in os.environ:
            raise FakeTclError(f"no such variable: env({name})")
        return os.environ[name], i + env.end()
    if text.startswith("$gui", i):
        return str(gui_value()), i + 4
    raise FakeTclError(f"the fake does not know the variable at {text[i:]!r}")


def _command(command: str, node: Any) -> str:
    words = command.split()
    if not words:
        return ""
    name, args = words[0], words[1:]
    if name == "value" and len(args) == 1:
        return _knob_value(args[0], node)
    if name == "getenv" and len(args) == 1:
        return os.environ.get(args[0], "")
    if name == "frame" and not args:
        return str(SESSION.frame)
    if name == "file" and len(args) == 2:
        how = {"dirname": posixpath.dirname, "tail": posixpath.basename}
        if args[0] in how:
            return how[args[0]](args[1])
        if args[0] == "rootname":
            return posixpath.splitext(args[1])[0]
    raise FakeTclError(f"the fake does not know the TCL command [{command}]")


def _knob_value(path: str, node: Any) -> str:
    from . import _nodes

    owner_name, _, knob_name = path.rpartition(".")
    owner = _owner(owner_name, node, _nodes)
    if owner is None or owner.knob(knob_name) is None:
        raise FakeTclError(f"no such knob: {path}")
    value = owner[knob_name].value()
    return str(value)


def _owner(name: str, node: Any, nodes_module: Any) -> Optional[Any]:
    if name in ("", "this"):
        return node
    if name == "root":
        return nodes_module.root_node()
    if name == "parent":
        return node._parent if node is not None else None
    group = node._parent if node is not None and node._parent is not None else None
    group = group or nodes_module.root_node()
    return group.node(name)
