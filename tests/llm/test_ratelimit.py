"""The per-provider request limit shared by every run in the process."""

from __future__ import annotations

import asyncio

import pytest

from mission_control.llm import RateLimited
from mission_control.llm.ratelimit import RateLimiter
from tests.llm.conftest import FakeTime


def limiter(fake_time: FakeTime, requests_per_minute: int) -> RateLimiter:
    return RateLimiter(
        name="gemini",
        requests_per_minute=requests_per_minute,
        clock=fake_time,
        sleep=fake_time.sleep,
    )


async def test_requests_within_the_limit_do_not_wait(fake_time: FakeTime) -> None:
    gemini = limiter(fake_time, 15)

    for _ in range(15):
        await gemini.acquire()

    assert fake_time.sleeps == []


async def test_the_request_over_the_limit_waits_for_the_oldest_to_leave_the_window(
    fake_time: FakeTime,
) -> None:
    gemini = limiter(fake_time, 2)
    await gemini.acquire()
    fake_time.now += 10
    await gemini.acquire()

    await gemini.acquire()

    assert fake_time.sleeps == pytest.approx(
        [50.0]
    )  # the first request leaves the 60 s window at t=60


async def test_zero_means_no_limit(fake_time: FakeTime) -> None:
    ollama = limiter(fake_time, 0)

    for _ in range(1000):
        await ollama.acquire()

    assert fake_time.sleeps == []


async def test_a_slot_that_comes_after_the_deadline_is_refused(fake_time: FakeTime) -> None:
    gemini = limiter(fake_time, 1)
    await gemini.acquire()

    with pytest.raises(RateLimited, match="1 requests/minute") as caught:
        await gemini.acquire(deadline=fake_time.now + 30)

    assert caught.value.retry_after == pytest.approx(60.0)
    assert fake_time.sleeps == []


async def test_deferring_holds_everyone_back(fake_time: FakeTime) -> None:
    gemini = limiter(fake_time, 0)

    gemini.defer(12.0)
    await gemini.acquire()

    assert fake_time.sleeps == pytest.approx([12.0])


async def test_concurrent_callers_share_the_limit(fake_time: FakeTime) -> None:
    gemini = limiter(fake_time, 1)

    await asyncio.gather(gemini.acquire(), gemini.acquire(), gemini.acquire())

    assert fake_time.sleeps == pytest.approx([60.0, 60.0])


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        RateLimiter(name="x", requests_per_minute=-1)
