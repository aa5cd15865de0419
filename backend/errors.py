"""Errors of the backend's commands that are not protocol errors.

`UsageError` is a bad value a user gave: on a command line, or in a file a command reads (a
shot file for `render`). Every command reports it the same way (`cli.usage.usage_error`).
"""

from __future__ import annotations


class UsageError(ValueError):
    """A bad command-line value: the message says what is wrong, the hint how to write it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
