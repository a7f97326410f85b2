"""Turning polled cumulative counters into usage deltas (pure).

Operators report month-to-date totals. A delta is counted only above the highest total seen
for the (card, cycle): a repeated snapshot adds nothing, and a counter corrected downwards
never makes usage negative nor counts the same bytes twice when it grows again. The record id
is derived from (card, cycle, new total), so re-publishing the same delta after a crash is
deduplicated by the usage pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.operators import OPERATOR_TIMEZONE
from domain.usage.cycles import cycle_label, cycle_of


@dataclass(frozen=True)
class Delta:
    iccid: str
    cycle: str
    record_id: str
    bytes: int
    high: int


def delta(iccid: str, cycle: str, previous_high: int | None, total: int) -> Delta | None:
    """The usage to count for a new cumulative `total`, or None when there is nothing new."""
    base = previous_high or 0
    if total <= base:
        return None
    return Delta(iccid, cycle, f"poll:{iccid}:{cycle}:{total}", total - base, total)


def operator_cycle(at: datetime) -> str:
    """The month (`YYYY-MM`) whose counters an operator reports at `at`: Chinese operators
    count months in Beijing time."""
    return cycle_label(cycle_of(at, OPERATOR_TIMEZONE))
