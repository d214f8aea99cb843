"""The root of the project's exception tree.

Each boundary (configuration, providers, tools, the store) has its own small tree under
:class:`MissionControlError`. Whether a retry can help is a property of the type:
:class:`TemporaryError` subclasses may succeed when tried again, everything else will not.
Third-party exceptions are translated into these types in one place per boundary.
"""

from __future__ import annotations

__all__ = ["ConfigError", "MissionControlError", "PermanentError", "TemporaryError", "first_line"]


class MissionControlError(Exception):
    """Base of every error the project raises on purpose."""


class TemporaryError(MissionControlError):
    """A failure that may go away by itself; retrying after ``retry_after`` seconds can help."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(MissionControlError):
    """A failure that retrying will not fix; the message says what the user should change."""


class ConfigError(PermanentError):
    """A missing or malformed setting; the message names the variable and the fix in one line."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (libraries add context lines), or its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
