"""The delivery dashboard's rules (specs/business.md §6.7, I-55 … I-60): the windows it counts
in, the status of a project as of a cutoff, the mean completion cycle and the saturation colour.

Everything but saturation is "as of 00:00 today" in Asia/Shanghai, today excluded (I-55);
saturation is live (AMB-28). Numbers are compared and rounded exactly: fractions for the
colour thresholds (AMB-01: 40 % and 80 % are blue), half-up to 0.1 day for the cycle (AMB-27).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal

from domain.delivery.workdays import TZ

Colour = Literal["green", "blue", "red"]
Status = Literal["cancelled", "completed", "paused", "timed_out", "in_progress"]
# The exclusive statuses of I-58, in their order of precedence.
STATUSES: Final[tuple[Status, ...]] = ("cancelled", "completed", "paused", "timed_out",
                                       "in_progress")
WINDOWS: Final = (30, 60)  # the project-status selector (AMB-02: the window follows it)
CYCLE_DAYS: Final = 365  # I-56
DAYS_SHOWN: Final = 7  # I-57, day view
MONTHS_SHOWN: Final = 6  # I-57, month view
GREEN_BELOW: Final = Fraction(2, 5)  # < 40 % green
BLUE_UP_TO: Final = Fraction(4, 5)  # 40 % … 80 % inclusive blue, above red
DAY_S: Final = 86_400


@dataclass(frozen=True)
class Scope:
    """Whose projects a dashboard counts: a vendor's, a provider's, or (both None, platform
    roles only) every project."""

    vendor_id: str | None = None
    provider_id: str | None = None


def today_start(at: datetime) -> datetime:
    """00:00 of the day `at` falls in, Asia/Shanghai: the cutoff of every statistic (I-55)."""
    return datetime.combine(at.astimezone(TZ).date(), time(), TZ)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _months_before(first: date, count: int) -> date:
    """The first day of the month `count` months before the month starting at `first`."""
    index = first.year * 12 + first.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Windows:
    """The instants the dashboard counts between, all computed from one "now"."""

    cutoff: datetime  # 00:00 today: nothing at or after it counts
    cycle_from: datetime  # completions in [cycle_from, cutoff) make the mean cycle
    days: tuple[date, ...]  # today−7 … today−1
    months: tuple[date, ...]  # first days of the 6 natural months ending with yesterday's
    status_from: datetime  # projects created in [status_from, cutoff) make the status counts
    status_days: int

    @property
    def created_from(self) -> datetime:
        """The earliest creation instant any "new projects" count needs."""
        return datetime.combine(min(self.days[0], self.months[0]), time(), TZ)


def windows(at: datetime, status_days: int = 30) -> Windows:
    """The windows of a dashboard looked at `at` with the 30/60-day status selector."""
    if status_days not in WINDOWS:
        raise ValueError(f"status window {status_days} not in {WINDOWS}")
    cutoff = today_start(at)
    today = cutoff.date()
    yesterday = today - timedelta(days=1)
    last_month = _month_start(yesterday)
    return Windows(
        cutoff=cutoff, cycle_from=cutoff - timedelta(days=CYCLE_DAYS),
        days=tuple(today - timedelta(days=n) for n in range(DAYS_SHOWN, 0, -1)),
        months=tuple(_months_before(last_month, n) for n in range(MONTHS_SHOWN - 1, -1, -1)),
        status_from=cutoff - timedelta(days=status_days), status_days=status_days)


def per_day(w: Windows, counts: Mapping[date, int]) -> list[tuple[date, int]]:
    """New projects per local day of the day view, zero-filled."""
    return [(day, counts.get(day, 0)) for day in w.days]


def per_month(w: Windows, counts: Mapping[date, int]) -> list[tuple[date, int]]:
    """New projects per natural month of the month view (keys: local days), zero-filled; the
    last month counts up to 00:00 today, since `counts` stops there."""
    totals = dict.fromkeys(w.months, 0)
    for day, count in counts.items():
        month = _month_start(day)
        if month in totals and day < w.cutoff.date():
            totals[month] += count
    return list(totals.items())


# The flow log's actions of 暂停项目 / 启动项目 (I-43, I-50), as the engine writes them
# (`domain.delivery.machines.PAUSED` / `RESUMED`): the pause history the dashboard reads.
PAUSE_ACTION: Final = "暂停项目"
RESUME_ACTION: Final = "启动项目"


@dataclass(frozen=True)
class ProjectTimes:
    """What decides a project's status at a cutoff: its end instants, its pause (the last
    pause or resume logged before the cutoff, else the current pause's `paused_at`), and
    whether its node run current at the cutoff had timed out by then."""

    cancelled_at: datetime | None
    completed_at: datetime | None
    paused_at: datetime | None
    timed_out: bool
    pause_logged: bool | None = None  # True: paused, False: resumed, None: nothing logged


def status_at(p: ProjectTimes, cutoff: datetime) -> Status:
    """The one status of I-58 as of `cutoff`, by precedence: cancelled, completed, paused,
    timed out, in progress. A project paused before the cutoff and resumed after it was
    paused; one resumed before it was not (the flow log says which)."""
    if p.cancelled_at is not None and p.cancelled_at < cutoff:
        return "cancelled"
    if p.completed_at is not None and p.completed_at < cutoff:
        return "completed"
    paused = (p.pause_logged if p.pause_logged is not None
              else p.paused_at is not None and p.paused_at < cutoff)
    if paused:
        return "paused"
    return "timed_out" if p.timed_out else "in_progress"


def status_counts(projects: Iterable[ProjectTimes], cutoff: datetime) -> dict[Status, int]:
    """How many projects in each exclusive status; the counts sum to the projects given."""
    counts: dict[Status, int] = dict.fromkeys(STATUSES, 0)
    for project in projects:
        counts[status_at(project, cutoff)] += 1
    return counts


def half_up_tenth(value: Fraction) -> Decimal:
    """`value` rounded half-up to one decimal, exactly (no float on the way)."""
    tenths = math.floor(value * 10 + Fraction(1, 2))
    return Decimal(tenths).scaleb(-1)


def mean_cycle_days(total_s: Decimal | int, projects: int) -> Decimal | None:
    """The mean completion cycle in days from the summed cycles in seconds (calendar time,
    paused time included: AMB-27), half-up to 0.1; None ("—") without a project."""
    if projects == 0:
        return None
    return half_up_tenth(Fraction(total_s) / (projects * DAY_S))


def saturation_colour(current: int, max_load: int) -> Colour:
    """The progress bar's colour of I-59 on the exact fraction current ÷ max; max load 0 is
    full (AMB-47)."""
    if max_load <= 0:
        return "red"
    share = Fraction(current, max_load)
    if share < GREEN_BELOW:
        return "green"
    return "blue" if share <= BLUE_UP_TO else "red"


def saturation_percent(current: int, max_load: int) -> Decimal:
    """The share shown beside the bar, half-up to 0.1 %; max load 0 shows 100 % (AMB-47)."""
    if max_load <= 0:
        return Decimal("100.0")
    return half_up_tenth(Fraction(current * 100, max_load))


def days_label(days: Sequence[date]) -> list[str]:
    """Axis labels of the day view: MM-DD."""
    return [d.strftime("%m-%d") for d in days]
