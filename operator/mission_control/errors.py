"""The root of the project's exception tree.

Each boundary (configuration, providers, tools, the store) has its own small tree under
:class:`MissionControlError`. Whether a retry can help is a property of the type:
:class:`TemporaryError` subclasses may succeed when tried again, everything else will not.
Third-party exceptions are translated into these types in one place per boundary.
"""

from __future__ import annotations

import email.utils
import math
import re
from datetime import UTC, datetime

__all__ = [
    "MAX_RETRY_AFTER_SECONDS",
    "ConfigError",
    "MissionControlError",
    "PermanentError",
    "TemporaryError",
    "bounded_delay",
    "first_line",
    "parse_retry_after",
]

#: The longest wait any server may ask for (``Retry-After``, Gemini's ``RetryInfo``): a
#: larger or hostile value would otherwise stall a run, or every run, for days.
MAX_RETRY_AFTER_SECONDS = 300.0
#: delay-seconds of RFC 9110 (digits; a fraction tolerated). Not float(): "inf", "nan",
#: "1e9" and "1_0" are not delays, and "inf" would hold every run back for ever.
_DELAY_SECONDS = re.compile(r"\d{1,12}(?:\.\d{1,9})?")


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


def bounded_delay(seconds: float | None) -> float | None:
    """``seconds`` as a usable wait: None unless finite and >= 0, at most the cap."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), capped at
    :data:`MAX_RETRY_AFTER_SECONDS`; None if absent or neither of those.

    The one parser of the header in the project (providers and connectors alike).
    """
    if not value:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return bounded_delay(float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return bounded_delay(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()))
