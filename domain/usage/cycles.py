"""Billing cycles: a usage record belongs to the calendar month in which its `end` falls, in
the time zone of the card's enterprise (SQL: `cp_cycle`, property-tested against this)."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def cycle_of(at: datetime, timezone: str) -> date:
    """The first day of the month containing the aware instant `at` in `timezone`."""
    local = at.astimezone(_zone(timezone))
    return date(local.year, local.month, 1)


def cycle_label(cycle: date) -> str:
    """A cycle as the API shows it: `YYYY-MM`."""
    return f"{cycle.year:04d}-{cycle.month:02d}"


def cycle_bounds(at: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The instants the cycle of `at` starts and ends (the next one's start), in `timezone`."""
    first = cycle_of(at, timezone)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    zone = _zone(timezone)
    return (datetime(first.year, first.month, 1, tzinfo=zone),
            datetime(following.year, following.month, 1, tzinfo=zone))
