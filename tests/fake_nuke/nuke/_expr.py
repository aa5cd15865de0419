"""The small part of Nuke's knob expressions the fake evaluates (and refuses the rest loudly).

Numbers, `$gui` (documented: 1 in the GUI, 0 at render time), `frame`, `parent.<knob>` (a knob
of the group holding the node: an enumeration's index, a boolean's 0/1, a number), `!`, `==`,
parentheses and `cond ? a : b`. Anything else raises, so a plugin cannot come to rely on an
expression the fake would silently get wrong.
"""

from __future__ import annotations

import re
from typing import Any, List

from . import _core

_TOKEN = re.compile(r"\s*(\$gui|parent\.[A-Za-z_][A-Za-z0-9_]*|frame|\d+(?:\.\d+)?|==|[?:!()])")


class ExpressionError(ValueError):
    """An expression the fake does not model."""


def evaluate(text: str, knob: Any, frame: float) -> float:
    tokens = _tokens(text)
    parser = _Parser(tokens, knob, frame)
    value = parser.ternary()
    if parser.pos != len(tokens):
        raise ExpressionError(f"cannot evaluate {text!r}: trailing {tokens[parser.pos :]}")
    return value


def _tokens(text: str) -> List[str]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"the fake does not evaluate {text!r} (at {text[pos:]!r})")
        out.append(match.group(1))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, tokens: List[str], knob: Any, frame: float) -> None:
        self.tokens, self.pos, self.knob, self.frame = tokens, 0, knob, frame

    def _peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def _take(self, expected: str = "") -> str:
        token = self._peek()
        if not token or (expected and token != expected):
            raise ExpressionError(f"expected {expected or 'a value'} in {' '.join(self.tokens)}")
        self.pos += 1
        return token

    def ternary(self) -> float:
        cond = self.equality()
        if self._peek() != "?":
            return cond
        self._take("?")
        yes = self.ternary()
        self._take(":")
        no = self.ternary()
        return yes if cond else no

    def equality(self) -> float:
        left = self.unary()
        while self._peek() == "==":
            self._take()
            left = 1.0 if left == self.unary() else 0.0
        return left

    def unary(self) -> float:
        if self._peek() == "!":
            self._take()
            return 0.0 if self.unary() else 1.0
        if self._peek() == "(":
            self._take()
            value = self.ternary()
            self._take(")")
            return value
        return self.atom(self._take())

    def atom(self, token: str) -> float:
        if token == "$gui":
            return 1.0 if _core.SESSION.gui else 0.0
        if token == "frame":
            return float(self.frame)
        if token.startswith("parent."):
            return _parent_knob(self.knob, token.split(".", 1)[1])
        return float(token)


def _parent_knob(knob: Any, name: str) -> float:
    node = knob.node() if knob is not None else None
    group = node._parent if node is not None else None
    if group is None or name not in group._knobs:
        raise ExpressionError(f"parent.{name}: no such knob on the enclosing group")
    target = group._knobs[name]
    if target.Class() == "Enumeration_Knob":
        return float(target._value)
    value = target._value
    if isinstance(value, list):
        return float(value[0])
    return float(value)
