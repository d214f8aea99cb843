"""Retrying temporary failures with backoff, honouring retry_after, within the deadline."""

from __future__ import annotations

import pytest

from mission_control.llm import ModelNotFound, ProviderUnavailable, RateLimited
from mission_control.llm.retry import RetryPolicy, retry_call
from tests.llm.conftest import FakeTime

NO_JITTER = RetryPolicy(base_delay=1.0, multiplier=2.0, max_delay=60.0, jitter=0.0, max_attempts=10)


class Flaky:
    """Fails with the given errors, in order, then answers "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_temporary_failures_are_retried_with_exponential_backoff(fake_time: FakeTime) -> None:
    operation = Flaky(*[ProviderUnavailable("down")] * 3)

    result = await retry_call(
        operation, policy=NO_JITTER, deadline=None, clock=fake_time, sleep=fake_time.sleep
    )

    assert result == "ok"
    assert fake_time.sleeps == pytest.approx([1.0, 2.0, 4.0])


async def test_the_providers_retry_after_replaces_the_backoff(fake_time: FakeTime) -> None:
    operation = Flaky(RateLimited("slow down", retry_after=7.0))

    await retry_call(
        operation, policy=NO_JITTER, deadline=None, clock=fake_time, sleep=fake_time.sleep
    )

    assert fake_time.sleeps == pytest.approx([7.0])


async def test_permanent_errors_are_not_retried(fake_time: FakeTime) -> None:
    operation = Flaky(ModelNotFound("no such model"))

    with pytest.raises(ModelNotFound):
        await retry_call(
            operation, policy=NO_JITTER, deadline=None, clock=fake_time, sleep=fake_time.sleep
        )

    assert operation.calls == 1
    assert fake_time.sleeps == []


async def test_retrying_stops_when_the_next_attempt_would_start_after_the_deadline(
    fake_time: FakeTime,
) -> None:
    operation = Flaky(*[ProviderUnavailable("down")] * 10)

    with pytest.raises(
        ProviderUnavailable, match=r"gave up after 3 attempts: the deadline"
    ) as caught:
        await retry_call(
            operation,
            policy=NO_JITTER,
            deadline=fake_time.now + 5.0,
            clock=fake_time,
            sleep=fake_time.sleep,
        )

    assert fake_time.sleeps == pytest.approx(
        [1.0, 2.0]
    )  # a third wait of 4 s would end past the deadline
    assert isinstance(caught.value.__cause__, ProviderUnavailable)


async def test_a_retry_after_beyond_the_deadline_gives_up_at_once(fake_time: FakeTime) -> None:
    operation = Flaky(RateLimited("quota", retry_after=3600.0))

    with pytest.raises(RateLimited, match="quota") as caught:
        await retry_call(
            operation,
            policy=NO_JITTER,
            deadline=fake_time.now + 60,
            clock=fake_time,
            sleep=fake_time.sleep,
        )

    assert operation.calls == 1
    assert caught.value.retry_after == 3600.0


async def test_attempts_are_bounded(fake_time: FakeTime) -> None:
    operation = Flaky(*[ProviderUnavailable("down")] * 10)
    policy = RetryPolicy(max_attempts=3, jitter=0.0)

    with pytest.raises(ProviderUnavailable, match="gave up after 3 attempts: the attempt limit"):
        await retry_call(
            operation, policy=policy, deadline=None, clock=fake_time, sleep=fake_time.sleep
        )

    assert operation.calls == 3


async def test_each_retry_is_reported_before_waiting(fake_time: FakeTime) -> None:
    reported: list[tuple[str, float]] = []
    operation = Flaky(ProviderUnavailable("down"))

    await retry_call(
        operation,
        policy=NO_JITTER,
        deadline=None,
        clock=fake_time,
        sleep=fake_time.sleep,
        on_retry=lambda error, delay: reported.append((str(error), delay)),
    )

    assert reported == [("down", 1.0)]


def test_backoff_is_capped_and_jittered_within_bounds() -> None:
    policy = RetryPolicy(base_delay=1.0, multiplier=2.0, max_delay=10.0, jitter=0.2)

    assert policy.backoff(attempt=1, rand=0.0) == pytest.approx(0.8)
    assert policy.backoff(attempt=1, rand=1.0) == pytest.approx(1.2)
    assert policy.backoff(attempt=10, rand=0.5) == pytest.approx(10.0)
    assert policy.backoff(attempt=10, rand=0.999) <= 10.0  # jitter never lifts it past the cap


@pytest.mark.parametrize(
    "settings",
    [{"jitter": 1.5}, {"jitter": -0.1}, {"max_attempts": 0}, {"multiplier": 0.5}],
)
def test_a_policy_that_could_wait_a_negative_time_or_never_try_is_refused(
    settings: dict[str, float],
) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**settings)  # type: ignore[arg-type]


async def test_a_retry_after_of_zero_still_backs_off(fake_time: FakeTime) -> None:
    operation = Flaky(ProviderUnavailable("busy", retry_after=0.0))

    await retry_call(
        operation, policy=NO_JITTER, deadline=None, clock=fake_time, sleep=fake_time.sleep
    )

    assert fake_time.sleeps == pytest.approx([1.0])
