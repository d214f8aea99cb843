"""Per-provider request rate limits, shared by every run in the process.

A :class:`RateLimiter` admits at most ``requests_per_minute`` requests in any 60-second
window (a sliding window: the Gemini free tier counts 15 requests per minute this way).
Waiters are served in arrival order: each reserves the next free slot at once and sleeps
until it, so a caller whose slot would come after its deadline is refused at once instead of
queueing behind others. When a provider answers 429 with a ``retry_after``,
:meth:`RateLimiter.defer` holds every caller back until then (at most ``max_pause`` seconds,
so one absurd or hostile ``Retry-After`` cannot stall every run for good), so concurrent runs
do not all hit the limit again. Clock and sleep are injectable for tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from mission_control.llm.errors import RateLimited

__all__ = ["RateLimiter"]

WINDOW_SECONDS = 60.0
#: The longest :meth:`RateLimiter.defer` holds callers back, whatever the provider asked.
MAX_PAUSE_SECONDS = 300.0
#: Waits shorter than this are rounding noise of the clock arithmetic, not waits.
_RESOLUTION = 1e-6


class RateLimiter:
    """At most ``requests_per_minute`` acquisitions per sliding minute; 0 means no limit."""

    def __init__(
        self,
        *,
        name: str,
        requests_per_minute: int,
        max_pause: float = MAX_PAUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if requests_per_minute < 0:
            raise ValueError("requests_per_minute must be >= 0")
        self.name = name
        self.requests_per_minute = requests_per_minute
        self._max_pause = max_pause
        self._clock = clock
        self._sleep = sleep
        # Admission times, ascending: past grants and future reservations of sleeping callers.
        self._slots: list[float] = []
        self._paused_until = 0.0

    def wait_time(self) -> float:
        """Seconds until a request arriving now would be admitted (0 if now)."""
        now = self._clock()
        wait = self._next_slot(now) - now
        return wait if wait > _RESOLUTION else 0.0

    async def acquire(self, *, deadline: float | None = None) -> None:
        """Wait for a slot; raise :class:`RateLimited` at once if none comes before ``deadline``."""
        while True:
            now = self._clock()
            slot = self._next_slot(now)
            if slot - now <= _RESOLUTION:
                self._slots.append(max(now, slot))
                return
            if deadline is not None and slot >= deadline:
                raise RateLimited(
                    f"{self.name}: the request limit ({self._describe()}) leaves no slot "
                    "before the deadline",
                    retry_after=slot - now,
                )
            self._slots.append(slot)  # reserved: later callers queue behind it
            try:
                await self._sleep(slot - now)
            except BaseException:  # cancelled: give the slot back
                self._slots.remove(slot)
                raise
            if self._paused_until - self._clock() <= _RESOLUTION:
                return
            self._slots.remove(slot)  # a 429 paused everyone meanwhile: queue again

    def defer(self, seconds: float) -> None:
        """Admit nobody for ``seconds``, at most ``max_pause`` (the provider asked to back off)."""
        pause = min(max(seconds, 0.0), self._max_pause)
        self._paused_until = max(self._paused_until, self._clock() + pause)

    def _next_slot(self, now: float) -> float:
        """The earliest admission time of a request arriving at ``now``, after every reservation."""
        while self._slots and self._slots[0] <= now - WINDOW_SECONDS:
            del self._slots[0]
        slot = max(now, self._paused_until)
        if self._slots:
            slot = max(slot, self._slots[-1])  # first come, first served
        limit = self.requests_per_minute
        if limit and len(self._slots) >= limit:
            slot = max(slot, self._slots[-limit] + WINDOW_SECONDS)
        return slot

    def _describe(self) -> str:
        if self.requests_per_minute:
            return f"{self.requests_per_minute} requests/minute"
        return "provider asked to back off"
