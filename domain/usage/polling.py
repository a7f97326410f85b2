"""Turning polled cumulative counters into usage deltas, in the operator's own cycle (pure).

Operators report totals cumulative over their billing cycle, which starts on a fixed day of
the month at Beijing midnight (China Mobile and Telecom the 1st, China Unicom the 27th) and
resets the counter. A delta is counted only above the highest total seen for the (card,
operator cycle): a repeated snapshot adds nothing, a reset starts a new cycle's mark, and a
counter corrected downwards never makes usage negative nor counts the same bytes twice when
it grows again. The record id is derived from (card, cycle, new total), so re-publishing the
same delta after a crash is deduplicated by the usage pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.operators import OPERATOR_TIMEZONE

_BEIJING = ZoneInfo(OPERATOR_TIMEZONE)


@dataclass(frozen=True)
class Delta:
    iccid: str
    cycle: str
    record_id: str
    bytes: int
    high: int


def delta(iccid: str, cycle: str, previous_high: int | None, total: int,
          kind: str = "poll") -> Delta | None:
    """The usage to count for a new cumulative `total`, or None when there is nothing new.
    `kind` names where the total came from (`poll`, or `close` for a closed cycle's total)."""
    base = previous_high or 0
    if total <= base:
        return None
    return Delta(iccid, cycle, f"{kind}:{iccid}:{cycle}:{total}", total - base, total)


@dataclass(frozen=True)
class OperatorCycle:
    """One operator billing cycle: its label, its days (inclusive) and its bounds."""

    label: str
    first_day: date
    last_day: date
    start: datetime
    end: datetime  # the next cycle's start

    def previous(self, cycle_day: int) -> OperatorCycle:
        return operator_cycle(self.start - timedelta(microseconds=1), cycle_day)


def _month_day(year: int, month: int, day: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, day)


def operator_cycle(at: datetime, cycle_day: int = 1) -> OperatorCycle:
    """The operator cycle that `at` falls in, for a cycle starting on `cycle_day` (1..28) at
    Beijing midnight. Labelled `YYYY-MM` when it starts on the 1st (the calendar month),
    else by its first day, `YYYY-MM-DD`."""
    if not 1 <= cycle_day <= 28:
        raise ValueError(f"cycle day {cycle_day} is not 1..28")
    local = at.astimezone(_BEIJING).date()
    months = local.year * 12 + local.month - 1 - (1 if local.day < cycle_day else 0)
    first = _month_day(months // 12, months % 12 + 1, cycle_day)
    following = _month_day(months // 12, months % 12 + 2, cycle_day)
    label = first.strftime("%Y-%m") if cycle_day == 1 else first.isoformat()
    return OperatorCycle(label, first, following - timedelta(days=1),
                         datetime.combine(first, time(), _BEIJING),
                         datetime.combine(following, time(), _BEIJING))
