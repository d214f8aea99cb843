"""Retrying temporary provider failures: exponential backoff with jitter, within a deadline.

Only :class:`~mission_control.errors.TemporaryError` is retried. A provider's own
``retry_after`` (``Retry-After`` header, Gemini ``RetryInfo``) replaces the computed backoff.
When the next attempt could not start before the caller's deadline, or the attempts are used
up, the last error is raised again, its message saying how many attempts were made.
Sleep, clock and randomness are injectable so tests run in no time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from mission_control.errors import TemporaryError, bounded_delay

__all__ = ["RetryPolicy", "retry_call"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry."""

    #: Attempts in all, the first included.
    max_attempts: int = 6
    #: Backoff before the second attempt, in seconds; multiplied by ``multiplier`` each time.
    base_delay: float = 1.0
    multiplier: float = 2.0
    #: Upper bound of one computed backoff, in seconds (a provider's retry_after is capped
    #: at :data:`~mission_control.errors.MAX_RETRY_AFTER_SECONDS`).
    max_delay: float = 60.0
    #: Each computed backoff is scaled by a random factor in [1 - jitter, 1 + jitter]
    #: (then capped at ``max_delay``).
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")  # else delays could be < 0
        if self.base_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValueError("delays must be >= 0 and the multiplier >= 1")

    def backoff(self, *, attempt: int, rand: float) -> float:
        """The wait after failed attempt number ``attempt`` (1-based); ``rand`` is in [0, 1)."""
        delay = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        return min(self.max_delay, delay * (1.0 - self.jitter + 2.0 * self.jitter * rand))


async def retry_call(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: float | None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    rand: Callable[[], float] = random.random,
    on_retry: Callable[[TemporaryError, float], None] | None = None,
) -> T:
    """Run ``operation`` until it succeeds, fails permanently, or time or attempts run out.

    ``on_retry(error, delay)`` is called before each wait (for logs and metrics).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except TemporaryError as exc:
            # Capped and finite whatever raised it; "retry now" would hammer a struggling provider.
            delay = bounded_delay(exc.retry_after)
            if not delay:
                delay = policy.backoff(attempt=attempt, rand=rand())
            out_of_time = deadline is not None and clock() + delay >= deadline
            if attempt >= policy.max_attempts or out_of_time:
                if attempt == 1:
                    raise
                why = "the deadline" if out_of_time else "the attempt limit"
                message = f"{exc} (gave up after {attempt} attempts: {why} was reached)"
                raise type(exc)(message, retry_after=exc.retry_after) from exc
            logger.info("retrying in %.1f s after attempt %d failed: %s", delay, attempt, exc)
            if on_retry is not None:
                on_retry(exc, delay)
            await sleep(delay)
