"""The per-provider request limit shared by every run in the process."""

from __future__ import annotations

import asyncio

import pytest

from mission_control.llm import LLMClient, RateLimited, UserMessage
from mission_control.llm.providers.gemini import GeminiProvider
from mission_control.llm.ratelimit import RateLimiter
from tests.fakes.gemini import FakeGemini
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


async def test_many_concurrent_callers_never_exceed_the_rate_in_any_minute(
    fake_time: FakeTime,
) -> None:
    gemini = limiter(fake_time, 5)
    granted: list[float] = []

    async def caller() -> None:
        await asyncio.sleep(0)  # interleave the callers
        await gemini.acquire()
        granted.append(fake_time())
        await asyncio.sleep(0)

    await asyncio.gather(*(caller() for _ in range(23)))

    assert len(granted) == 23
    busiest = max(sum(start <= t < start + 60 for t in granted) for start in granted)
    assert busiest == 5  # the limit is reached, never exceeded, in any 60-second window
    assert max(granted) - min(granted) == pytest.approx(240.0)  # 23 requests need 4 more minutes


async def test_concurrent_runs_through_one_client_share_its_limit(
    fake_gemini: FakeGemini, fake_time: FakeTime
) -> None:
    adapter = GeminiProvider(
        api_key=fake_gemini.api_key, model="gemini-2.0-flash", timeout=5, base_url=fake_gemini.url
    )
    client = LLMClient(
        adapter, limiter=limiter(fake_time, 3), clock=fake_time, sleep=fake_time.sleep
    )
    started = fake_time.now
    try:
        answers = await asyncio.gather(
            *(client.complete(messages=[UserMessage(content=f"run {n}")]) for n in range(7))
        )
    finally:
        await client.aclose()

    assert [answer.text for answer in answers] == ["OK"] * 7
    assert len(fake_gemini.generations) == 7
    assert fake_time.now - started == pytest.approx(120.0)  # 3 at once, 3 a minute later, then 1


class ManualSleep:
    """A sleep that lasts until the test releases it, on a clock the test moves."""

    def __init__(self, fake_time: FakeTime) -> None:
        self.fake_time = fake_time
        self.release = asyncio.Event()
        self.sleeping: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeping.append(seconds)
        await self.release.wait()
        self.fake_time.now += seconds


async def test_a_caller_whose_deadline_comes_first_is_refused_without_queueing_behind_others(
    fake_time: FakeTime,
) -> None:
    sleep = ManualSleep(fake_time)
    gemini = RateLimiter(name="gemini", requests_per_minute=1, clock=fake_time, sleep=sleep)
    await gemini.acquire()
    patient = asyncio.create_task(gemini.acquire())  # no deadline: sleeps for its slot at t+60
    await asyncio.sleep(0)
    hurried = asyncio.create_task(gemini.acquire(deadline=fake_time.now + 90))
    for _ in range(5):
        await asyncio.sleep(0)

    assert hurried.done()  # refused at once: its slot (t+120) is after its deadline
    with pytest.raises(RateLimited) as caught:
        await hurried
    assert caught.value.retry_after == pytest.approx(120.0)
    sleep.release.set()
    await patient


async def test_a_cancelled_waiter_gives_its_slot_to_the_next(fake_time: FakeTime) -> None:
    sleep = ManualSleep(fake_time)
    gemini = RateLimiter(name="gemini", requests_per_minute=1, clock=fake_time, sleep=sleep)
    await gemini.acquire()
    cancelled = asyncio.create_task(gemini.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled

    assert gemini.wait_time() == pytest.approx(60.0)  # not 120: the slot at t+60 is free again


async def test_a_provider_cannot_pause_every_run_for_longer_than_the_cap(
    fake_time: FakeTime,
) -> None:
    gemini = RateLimiter(
        name="gemini",
        requests_per_minute=0,
        max_pause=300.0,
        clock=fake_time,
        sleep=fake_time.sleep,
    )

    gemini.defer(86_400.0)  # a day: a bogus Retry-After date, or a proxy's
    await gemini.acquire()

    assert fake_time.sleeps == pytest.approx([300.0])


async def test_a_pause_that_starts_while_a_caller_sleeps_holds_it_back_too(
    fake_time: FakeTime,
) -> None:
    sleep = ManualSleep(fake_time)
    gemini = RateLimiter(name="gemini", requests_per_minute=1, clock=fake_time, sleep=sleep)
    await gemini.acquire()
    waiter = asyncio.create_task(gemini.acquire())
    await asyncio.sleep(0)

    gemini.defer(100.0)  # another run got a 429 meanwhile
    sleep.release.set()
    await waiter

    assert sleep.sleeping == pytest.approx([60.0, 40.0])
