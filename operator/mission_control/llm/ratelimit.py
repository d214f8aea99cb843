"""Per-provider request rate limits, shared by every run in the process.

A :class:`RateLimiter` admits at most ``requests_per_minute`` requests in any 60-second
window (a sliding window: the Gemini free tier counts 15 requests per minute this way).
Waiters are served in arrival order. When a provider answers 429 with a ``retry_after``,
:meth:`RateLimiter.defer` holds every caller back until then, so concurrent runs do not
all hit the limit again. Clock and sleep are injectable for tests.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from mission_control.llm.errors import RateLimited

__all__ = ["RateLimiter"]

WINDOW_SECONDS = 60.0
#: Waits shorter than this are rounding noise of the clock arithmetic, not waits.
_RESOLUTION = 1e-6


class RateLimiter:
    """At most ``requests_per_minute`` acquisitions per sliding minute; 0 means no limit."""

    def __init__(
        self,
        *,
        name: str,
        requests_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if requests_per_minute < 0:
            raise ValueError("requests_per_minute must be >= 0")
        self.name = name
        self.requests_per_minute = requests_per_minute
        self._clock = clock
        self._sleep = sleep
        self._granted: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def wait_time(self) -> float:
        """Seconds until a request would be admitted (0 if now)."""
        now = self._clock()
        while self._granted and self._granted[0] <= now - WINDOW_SECONDS:
            self._granted.popleft()
        wait = self._paused_until - now
        if self.requests_per_minute and len(self._granted) >= self.requests_per_minute:
            wait = max(wait, self._granted[0] + WINDOW_SECONDS - now)
        return wait if wait > _RESOLUTION else 0.0

    async def acquire(self, *, deadline: float | None = None) -> None:
        """Wait for a slot; raise :class:`RateLimited` if none comes before ``deadline``."""
        async with self._lock:
            while (wait := self.wait_time()) > 0:
                if deadline is not None and self._clock() + wait >= deadline:
                    raise RateLimited(
                        f"{self.name}: the request limit ({self._describe()}) leaves no slot "
                        "before the deadline",
                        retry_after=wait,
                    )
                await self._sleep(wait)
            self._granted.append(self._clock())

    def defer(self, seconds: float) -> None:
        """Admit nobody for ``seconds`` (the provider asked us to back off)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _describe(self) -> str:
        if self.requests_per_minute:
            return f"{self.requests_per_minute} requests/minute"
        return "provider asked to back off"
