"""When a scheduled TaskTrigger starts a run: a pure function of the spec, the time and its runs.

:func:`decide_tick` answers, for ``now``: is a tick due (the latest cron tick after the last one
handled), and what to do about it given the concurrency policy and the active runs. Missed
ticks (the operator was down) collapse into the latest one: at most one run per call, and none
when that tick is older than ``startingDeadlineSeconds``. A wall-clock time that occurs twice
when clocks go back is one tick, as cron has it. The cron text is parsed by ``croniter`` in the
schedule's time zone (``zoneinfo``); a schedule it cannot parse, or that never fires, is an
:class:`InvalidSchedule` saying what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from mission_control.errors import PermanentError
from mission_control.resources.tasktrigger import ConcurrencyPolicy, Schedule

__all__ = ["InvalidSchedule", "TickDecision", "decide_tick", "next_tick", "parse_schedule"]

Action = Literal["none", "start", "replace", "skip-active", "skip-missed"]


class InvalidSchedule(PermanentError):
    """The schedule cannot be used; the message names the field and the fix."""


@dataclass(frozen=True)
class ParsedSchedule:
    """A schedule ready to iterate: the cron text and its zone."""

    cron: str
    zone: ZoneInfo
    deadline: timedelta | None

    def _iterator(self, start: datetime) -> croniter:
        return croniter(self.cron, start.astimezone(self.zone), second_at_beginning=True)

    def latest_at_or_before(self, now: datetime) -> datetime:
        """The latest tick at or before ``now`` (second resolution)."""
        start = now.replace(microsecond=0) + timedelta(seconds=1)
        tick: datetime = self._iterator(start).get_prev(datetime)
        return tick.astimezone(UTC)

    def after(self, moment: datetime) -> datetime:
        """The first tick after ``moment`` that is not a repeat of ``moment``'s wall time."""
        iterator = self._iterator(moment)
        wall = _wall(moment, self.zone)
        for _ in range(4):
            tick: datetime = iterator.get_next(datetime)
            if _wall(tick, self.zone) != wall:
                return tick.astimezone(UTC)
        raise InvalidSchedule(f"spec.schedule.cron {self.cron!r} repeats one moment")


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The local wall-clock time, without zone or fold: equal for both passes of a repeated hour."""
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def parse_schedule(schedule: Schedule) -> ParsedSchedule:
    """The schedule ready to use, or :class:`InvalidSchedule` naming the field and the fix."""
    try:
        zone = ZoneInfo(schedule.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(
            f"spec.schedule.timeZone {schedule.time_zone!r} is not a known IANA time zone; "
            "use a name such as UTC or Europe/Berlin (see the tz database list)"
        ) from None
    deadline = (
        None
        if schedule.starting_deadline_seconds is None
        else timedelta(seconds=schedule.starting_deadline_seconds)
    )
    parsed = ParsedSchedule(cron=schedule.cron, zone=zone, deadline=deadline)
    try:
        if not croniter.is_valid(schedule.cron, second_at_beginning=True):
            raise CroniterBadCronError(schedule.cron)
        # Four years ahead covers every leap day: a schedule silent that long never fires.
        parsed.after(datetime(2024, 1, 1, tzinfo=UTC))
    except CroniterBadDateError:
        raise InvalidSchedule(
            f"spec.schedule.cron {schedule.cron!r} never fires (no such date, e.g. 31 February); "
            "choose a day that exists"
        ) from None
    except (CroniterError, ValueError, KeyError):
        raise InvalidSchedule(
            f"spec.schedule.cron {schedule.cron!r} is not a valid cron schedule; write five "
            "fields, minute hour day-of-month month day-of-week, e.g. '0 7 * * *'"
        ) from None
    return parsed


def next_tick(schedule: ParsedSchedule, *, now: datetime) -> datetime:
    """The first tick after ``now``."""
    return schedule.after(now)


@dataclass(frozen=True, kw_only=True)
class TickDecision:
    """What to do now.

    ``tick`` is the tick handled (then ``lastScheduleTime``), None when no tick is due;
    ``action`` says what to do with it; ``next_time`` is the following tick.
    """

    action: Action
    tick: datetime | None
    next_time: datetime


def decide_tick(
    schedule: ParsedSchedule,
    *,
    now: datetime,
    last_tick: datetime | None,
    created_at: datetime,
    active_runs: int,
    policy: ConcurrencyPolicy,
    suspended: bool,
) -> TickDecision:
    """The decision for ``now`` (see the module doc).

    ``last_tick`` is the last tick handled (``status.lastScheduleTime``), ``created_at`` the
    trigger's creation: ticks at or before the later of the two are done. A suspended trigger
    handles no tick, so one due when it is resumed (within the deadline) still starts.
    """
    following = schedule.after(now)
    latest = schedule.latest_at_or_before(now)
    done = max(last_tick or created_at, created_at)
    if latest <= done or _wall(latest, schedule.zone) == _wall(done, schedule.zone):
        return TickDecision(action="none", tick=None, next_time=following)
    if suspended:
        return TickDecision(action="none", tick=None, next_time=following)
    if schedule.deadline is not None and now - latest > schedule.deadline:
        return TickDecision(action="skip-missed", tick=latest, next_time=following)
    if active_runs and policy == "Forbid":
        return TickDecision(action="skip-active", tick=latest, next_time=following)
    action: Action = "replace" if active_runs and policy == "Replace" else "start"
    return TickDecision(action=action, tick=latest, next_time=following)
