"""The simulated operators' calendar: Beijing (Asia/Shanghai) dates of unix seconds.

Usage is kept per card per Beijing date; every cycle (OneLink and CTCC on the 1st, Jasper on
its cycle day) starts at Beijing midnight, and every time of day an operator writes is Beijing
time (see connectors/DIALECTS.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from core.operators import OPERATOR_TIMEZONE

BEIJING: Final = ZoneInfo(OPERATOR_TIMEZONE)
ONE_DAY: Final = timedelta(days=1)


def local(now: float) -> datetime:
    """`now` (unix seconds) as an aware Beijing datetime."""
    return datetime.fromtimestamp(now, BEIJING)


def day_of(now: float) -> date:
    """The Beijing date of `now`: the day its usage is counted on."""
    return local(now).date()


def stamp(now: float) -> str:
    """`YYYY-MM-DD HH:MM:SS` in Beijing time (OneLink `lastChangeDate`)."""
    return local(now).strftime("%Y-%m-%d %H:%M:%S")


def compact(now: float) -> str:
    """`YYYYMMDDHHMMSS` in Beijing time (transaction ids)."""
    return local(now).strftime("%Y%m%d%H%M%S")


def iso_utc(now: float) -> str:
    """ISO 8601 in UTC with milliseconds (Jasper dates)."""
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")


def midnight(day: date) -> float:
    """Unix seconds of Beijing midnight at the start of `day`."""
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING).timestamp()


def month_start(day: date) -> date:
    """The 1st of the month of `day`."""
    return day.replace(day=1)


def add_months(first: date, months: int) -> date:
    """The 1st of the month `months` after (or before, if negative) the month of `first`."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(first: date) -> date:
    """The last day of the month of `first`."""
    return add_months(first, 1) - ONE_DAY


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from the month of `earlier` to the month of `later`."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def cycle_start(today: date, cycle_day: int) -> date:
    """The start of the billing cycle `today` is in: the latest `cycle_day` at or before it."""
    if today.day >= cycle_day:
        return today.replace(day=cycle_day)
    return add_months(today, -1).replace(day=cycle_day)
