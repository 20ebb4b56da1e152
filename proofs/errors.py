"""The one exception type a user should ever see from attndyn.

Anything a user can get wrong (a config field, a flag, a file) raises
:class:`UsageError` with a message naming the field and what was expected.
The CLI prints that message alone and exits with status 2: no traceback.
"""
from __future__ import annotations


class UsageError(ValueError):
    """Bad input: a message for a person, naming the field and what was expected."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`UsageError` with ``message`` unless ``condition`` holds (asserts are not used)."""
    if not condition:
        raise UsageError(message)
