"""Business months of the commission reports (C-04: Asia/Shanghai): a month `YYYY-MM` runs
from 00:00 on its 1st to 00:00 on the 1st of the next month, Shanghai time. The monthly
activation snapshot of a month (H-30) is due at its end."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(month: str) -> tuple[int, int]:
    """(year, month) of `YYYY-MM`; ValueError otherwise (years 1970–9998)."""
    found = _MONTH.match(month)
    if found is None:
        raise ValueError(f"not a month YYYY-MM: {month!r}")
    year, number = int(found.group(1)), int(found.group(2))
    if not 1970 <= year <= 9998:
        raise ValueError(f"month out of range: {month!r}")
    return year, number


def _next(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _name(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The instants the month starts and ends (Asia/Shanghai midnights)."""
    year, number = parse_month(month)
    after = _next(year, number)
    return (datetime(year, number, 1, tzinfo=BUSINESS_TZ),
            datetime(after[0], after[1], 1, tzinfo=BUSINESS_TZ))


def month_of(at: datetime) -> str:
    """The business month an instant falls in."""
    local = at.astimezone(BUSINESS_TZ)
    return _name(local.year, local.month)


def previous_month(month: str) -> str:
    year, number = parse_month(month)
    return _name(year - 1, 12) if number == 1 else _name(year, number - 1)


def months_between(first: str, last: str) -> list[str]:
    """`first` … `last` inclusive (empty when `last` is before `first`)."""
    year, number = parse_month(first)
    end = parse_month(last)
    found: list[str] = []
    while (year, number) <= end:
        found.append(_name(year, number))
        year, number = _next(year, number)
    return found


def snapshot_due(now: datetime) -> str:
    """H-30: the month whose activation snapshot is due at `now` — the last month that has
    ended (its end, 00:00 on the 1st of the next month Asia/Shanghai, is ≤ now). Taking a
    snapshot is idempotent, so a timer asks this on every tick."""
    return previous_month(month_of(now))

# H-30: the report says a card may count in several months ("需要业务方知道")
SAME_CARD_NOTE_ZH = "同一张卡可能计入多个月份的激活量"
SAME_CARD_NOTE_EN = "The same card may count in several months"
MAX_REPORT_MONTHS = 120
