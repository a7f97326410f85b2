"""The working-day clock (I-40, I-41, I-43, AMB-03, AMB-04).

A calendar day in Asia/Shanghai is a working day iff the calendar says so (weekdays that are
not holidays, plus the 调休 make-up days). Working time is the part of an interval that falls
inside working days, a working day counting its whole 24 hours. A node with a timeout of T
days times out when its working time reaches T × 24 h; time while the project is paused does
not count (the caller accrues `worked_s` up to a pause and restarts from the resume).

The calendar is a lookup that answers None for a day it does not cover: these functions then
raise `CalendarGap` rather than guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

TZ: Final = ZoneInfo("Asia/Shanghai")
DAY_S: Final = 86_400
TENTH_S: Final = DAY_S // 10  # a timeout step of 0.1 working day


class Calendar(Protocol):
    def is_workday(self, day: date) -> bool | None:
        """True or False for a covered day, None for a day the calendar does not cover."""


@dataclass(frozen=True)
class DayTable:
    """A calendar as a mapping of covered days (a slice of the `work_calendar` table)."""

    days: Mapping[date, bool]

    def is_workday(self, day: date) -> bool | None:
        return self.days.get(day)


class CalendarGap(Exception):
    """The calendar does not cover a day the arithmetic needs."""

    def __init__(self, day: date) -> None:
        super().__init__(f"the working-day calendar does not cover {day.isoformat()}")
        self.day = day


def local_day(at: datetime) -> date:
    return at.astimezone(TZ).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), TZ)


def _working(cal: Calendar, day: date) -> bool:
    answer = cal.is_workday(day)
    if answer is None:
        raise CalendarGap(day)
    return answer


def add_working(start: datetime, seconds: int, cal: Calendar) -> datetime:
    """The instant at which `seconds` of working time have elapsed from `start` (UTC).

    Starting on a non-working day counts from 00:00 of the next working day; zero seconds
    gives that first working instant."""
    day = local_day(start)
    pos = start
    remaining = seconds
    while True:
        begin = max(pos, day_start(day))
        if _working(cal, day):
            available = int((day_start(day + timedelta(days=1)) - begin).total_seconds())
            if remaining <= available:
                return (begin + timedelta(seconds=remaining)).astimezone(UTC)
            remaining -= available
        day += timedelta(days=1)


def working_seconds(start: datetime, end: datetime, cal: Calendar) -> int:
    """The working time inside [start, end), in whole seconds (0 when end ≤ start)."""
    if end <= start:
        return 0
    total = 0
    day = local_day(start)
    last = local_day(end)
    while day <= last:
        lo = max(start, day_start(day))
        hi = min(end, day_start(day + timedelta(days=1)))
        if hi > lo and _working(cal, day):
            total += int((hi - lo).total_seconds())
        day += timedelta(days=1)
    return total


def deadline(counting_since: datetime, worked_s: int, timeout_tenths: int,
             cal: Calendar) -> datetime | None:
    """When a node times out: None without a timeout (0, I-14 / AMB-52); else the instant
    its working time — `worked_s` already accrued plus what accrues from `counting_since` —
    reaches T × 24 h."""
    if timeout_tenths <= 0:
        return None
    return add_working(counting_since, max(0, timeout_tenths * TENTH_S - worked_s), cal)


def covered_until(days: Mapping[date, bool], today: date) -> date | None:
    """The last day of the unbroken run of covered days from `today` (None if today itself
    is not covered): the calendar health check wants today + 60 days inside it."""
    if today not in days:
        return None
    day = today
    while day + timedelta(days=1) in days:
        day += timedelta(days=1)
    return day
