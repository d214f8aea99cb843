"""When a scheduled TaskTrigger starts a run: decide_tick with an injected clock.

Time zones, the repeated and the missing hour of DST changes, missed ticks after an outage
(one run, within startingDeadlineSeconds), the concurrency policies and suspend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mission_control.resources.tasktrigger import ConcurrencyPolicy, Schedule
from mission_control.runs.schedule import (
    InvalidSchedule,
    ParsedSchedule,
    TickDecision,
    decide_tick,
    next_tick,
    parse_schedule,
)

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def parsed(cron: str, zone: str = "UTC", deadline: int | None = None) -> ParsedSchedule:
    return parse_schedule(Schedule(cron=cron, time_zone=zone, starting_deadline_seconds=deadline))


def decide(
    schedule: ParsedSchedule,
    *,
    now: datetime,
    last: datetime | None,
    created: datetime = CREATED,
    active: int = 0,
    policy: ConcurrencyPolicy = "Allow",
    suspended: bool = False,
) -> TickDecision:
    return decide_tick(
        schedule,
        now=now,
        last_tick=last,
        created_at=created,
        active_runs=active,
        policy=policy,
        suspended=suspended,
    )


def ticks(
    schedule: ParsedSchedule, *, start: datetime, end: datetime, step: timedelta
) -> list[datetime]:
    """Drive the clock from ``start`` (the trigger's creation) to ``end``: the ticks that start
    a run."""
    started: list[datetime] = []
    last: datetime | None = None
    now = start
    while now <= end:
        decision = decide(schedule, now=now, last=last, created=start)
        if decision.tick is not None:
            last = decision.tick
            if decision.action == "start":
                started.append(decision.tick)
        now += step
    return started


@pytest.mark.parametrize(
    ("cron", "start", "end", "step", "expected"),
    [
        pytest.param(
            "0 7 * * *",
            datetime(2026, 3, 27, 12, tzinfo=UTC),
            datetime(2026, 3, 31, 12, tzinfo=UTC),
            timedelta(minutes=10),
            [
                datetime(2026, 3, 28, 6, tzinfo=UTC),  # 07:00 CET
                datetime(2026, 3, 29, 5, tzinfo=UTC),  # 07:00 CEST, the day clocks go forward
                datetime(2026, 3, 30, 5, tzinfo=UTC),
                datetime(2026, 3, 31, 5, tzinfo=UTC),
            ],
            id="daily-seven-oclock-follows-summer-time",
        ),
        pytest.param(
            # 02:30 happens twice on 25 October 2026 (CEST, then CET): cron runs it once.
            "30 2 * * *",
            datetime(2026, 10, 24, 12, tzinfo=UTC),
            datetime(2026, 10, 26, 12, tzinfo=UTC),
            timedelta(minutes=5),
            [
                datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
            ],
            id="the-repeated-hour-when-clocks-go-back-runs-once",
        ),
    ],
)
def test_berlin_time_across_a_dst_change(
    cron: str, start: datetime, end: datetime, step: timedelta, expected: list[datetime]
) -> None:
    schedule = parsed(cron, "Europe/Berlin")
    assert ticks(schedule, start=start, end=end, step=step) == expected


def test_the_missing_hour_when_clocks_go_forward_still_runs_that_day() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026: the run happens once that day.
    schedule = parsed("30 2 * * *", "Europe/Berlin")
    started = ticks(
        schedule,
        start=datetime(2026, 3, 28, 12, tzinfo=UTC),
        end=datetime(2026, 3, 30, 12, tzinfo=UTC),
        step=timedelta(minutes=5),
    )
    assert len(started) == 2
    assert started[0].date() == datetime(2026, 3, 29).date()
    assert started[1] == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)


def test_a_seconds_field_in_front() -> None:
    schedule = parsed("*/20 * * * * *")
    now = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert next_tick(schedule, now=now) == datetime(2026, 1, 1, 0, 0, 20, tzinfo=UTC)


def test_an_outage_across_two_ticks_starts_one_run_for_the_latest() -> None:
    schedule = parsed("0 * * * *", deadline=600)
    last = datetime(2026, 1, 2, 10, tzinfo=UTC)
    # The operator was down from 10:30 to 12:05: the 11:00 and 12:00 ticks were missed.
    decision = decide(schedule, now=datetime(2026, 1, 2, 12, 5, tzinfo=UTC), last=last)
    assert (decision.action, decision.tick) == ("start", datetime(2026, 1, 2, 12, tzinfo=UTC))
    assert decision.next_time == datetime(2026, 1, 2, 13, tzinfo=UTC)
    # The tick is recorded: asked again a moment later, nothing more starts.
    again = decide(schedule, now=datetime(2026, 1, 2, 12, 6, tzinfo=UTC), last=decision.tick)
    assert (again.action, again.tick) == ("none", None)


@pytest.mark.parametrize(
    ("cron", "deadline", "now", "last", "action", "tick"),
    [
        pytest.param(
            "0 * * * *",
            600,
            datetime(2026, 1, 2, 12, 11, tzinfo=UTC),
            datetime(2026, 1, 2, 10, tzinfo=UTC),
            "skip-missed",
            datetime(2026, 1, 2, 12, tzinfo=UTC),
            id="missed-by-more-than-the-deadline-is-skipped",
        ),
        pytest.param(
            "0 7 * * *",
            None,
            datetime(2026, 1, 5, 23, tzinfo=UTC),
            datetime(2026, 1, 2, 7, tzinfo=UTC),
            "start",
            datetime(2026, 1, 5, 7, tzinfo=UTC),
            id="without-a-deadline-still-starts",
        ),
    ],
)
def test_a_late_tick(
    cron: str, deadline: int | None, now: datetime, last: datetime, action: str, tick: datetime
) -> None:
    decision = decide(parsed(cron, deadline=deadline), now=now, last=last)
    assert (decision.action, decision.tick) == (action, tick)


def test_no_tick_before_the_trigger_existed() -> None:
    schedule = parsed("0 7 * * *")
    decision = decide(
        schedule,
        now=datetime(2026, 1, 5, 7, 30, tzinfo=UTC),
        last=None,
        created=datetime(2026, 1, 5, 7, 10, tzinfo=UTC),
    )
    assert (decision.action, decision.next_time) == ("none", datetime(2026, 1, 6, 7, tzinfo=UTC))


@pytest.mark.parametrize(
    ("policy", "active", "action"),
    [
        ("Allow", 1, "start"),
        ("Forbid", 1, "skip-active"),
        ("Replace", 1, "replace"),
        ("Forbid", 0, "start"),
        ("Replace", 0, "start"),
    ],
)
def test_concurrency_policy(policy: ConcurrencyPolicy, active: int, action: str) -> None:
    schedule = parsed("*/5 * * * *")
    decision = decide(
        schedule,
        now=datetime(2026, 1, 2, 0, 5, 30, tzinfo=UTC),
        last=datetime(2026, 1, 2, 0, 0, tzinfo=UTC),
        active=active,
        policy=policy,
    )
    assert (decision.action, decision.tick) == (action, datetime(2026, 1, 2, 0, 5, tzinfo=UTC))


def test_suspended_handles_no_tick_and_resuming_within_the_deadline_starts_it() -> None:
    schedule = parsed("*/5 * * * *", deadline=120)
    last = datetime(2026, 1, 2, 0, 0, tzinfo=UTC)
    now = datetime(2026, 1, 2, 0, 6, tzinfo=UTC)
    suspended = decide(schedule, now=now, last=last, suspended=True)
    assert (suspended.action, suspended.tick) == ("none", None)
    resumed = decide(schedule, now=now, last=last)
    assert resumed.action == "start"


@pytest.mark.parametrize(
    ("cron", "zone", "words"),
    [
        ("0 7 * * *", "Europe/Atlantis", "spec.schedule.timeZone 'Europe/Atlantis' is not a known"),
        ("0 0 31 2 *", "UTC", "never fires"),
        ("0 7 * * XYZ", "UTC", "spec.schedule.cron '0 7 * * XYZ' is not a valid cron"),
    ],
)
def test_an_unusable_schedule_names_the_field_and_the_fix(cron: str, zone: str, words: str) -> None:
    with pytest.raises(InvalidSchedule) as raised:
        parse_schedule(Schedule(cron=cron, time_zone=zone))
    assert words in str(raised.value)
