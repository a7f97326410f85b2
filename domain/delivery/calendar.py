"""The holiday calendar as people read and maintain it (I-40, I-61, I-62, AMB-38).

Pure: the summary of a year's holidays (假期时间、放假天数、调休情况) from its days, the days of a
year operations enter from the State Council notice, and the coverage health rule (the
calendar must reach today + 60 days, or deadlines become unknown soon)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

from domain.refusals import Refusal

COVERAGE_DAYS: Final = 60  # the calendar must cover today + this many days
MAKEUP_SUFFIX: Final = "调休"
_NEAR: Final = timedelta(days=45)  # a make-up day belongs to the holiday it is this close to


@dataclass(frozen=True)
class Day:
    day: date
    is_workday: bool
    name: str = ""


@dataclass(frozen=True)
class Holiday:
    """One holiday of a year: its off days in a row (weekends inside it included) and the
    weekend days worked in exchange (调休)."""

    name: str
    first: date
    last: date
    days_off: int
    makeup_days: list[date] = field(default_factory=list)


def _runs(days: Sequence[Day]) -> list[list[Day]]:
    """Consecutive off days in date order."""
    runs: list[list[Day]] = []
    for d in sorted(days, key=lambda d: d.day):
        if d.is_workday:
            continue
        if runs and runs[-1][-1].day + timedelta(days=1) == d.day:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def holidays(days: Sequence[Day]) -> list[Holiday]:
    """The named holidays among `days`: each maximal run of off days holding a named day,
    its days off counted over the run, with the make-up workdays named "<name>调休" near it."""
    makeup = [d for d in days if d.is_workday and d.name.endswith(MAKEUP_SUFFIX)]
    found = []
    for run in _runs(days):
        names = [d.name for d in run if d.name]
        if not names:
            continue  # an ordinary weekend
        name = names[0]
        first, last = run[0].day, run[-1].day
        near = sorted(d.day for d in makeup if d.name == name + MAKEUP_SUFFIX
                      and first - _NEAR <= d.day <= last + _NEAR)
        found.append(Holiday(name, first, last, len(run), near))
    return found


class CalendarYearInvalid(Refusal):
    code = "calendar_year_invalid"
    message_zh = "节假日数据有误：日期须在该年内，且同一天不能既放假又调休上班"
    message_en = ("The calendar is invalid: every day must lie in the year, and no day may be "
                  "both a holiday and a make-up working day")
    field = "holidays"


class CalendarYearExists(Refusal):
    code = "calendar_year_exists"
    message_zh = "该年份的节假日已录入；如需覆盖请设置 replace 为 true"
    message_en = "This year's calendar is already entered; send replace: true to overwrite it"


def year_days(year: int, holidays_off: Mapping[date, str], workdays_on: Mapping[date, str]
              ) -> list[Day]:
    """Every day of `year`: listed holidays off, listed make-up days on, the rest by weekday
    (Monday–Friday on, weekends off). Refuses a day outside the year or in both lists."""
    listed: Iterable[date] = [*holidays_off, *workdays_on]
    if any(d.year != year for d in listed) or set(holidays_off) & set(workdays_on):
        raise CalendarYearInvalid
    day, out = date(year, 1, 1), []
    while day.year == year:
        if day in holidays_off:
            out.append(Day(day, False, holidays_off[day]))
        elif day in workdays_on:
            out.append(Day(day, True, workdays_on[day]))
        else:
            out.append(Day(day, day.isoweekday() < 6))
        day += timedelta(days=1)
    return out


@dataclass(frozen=True)
class Coverage:
    """How far the calendar reaches from today: `last` covered day of the unbroken run from
    today (None: today itself is not covered), `days_left` after today (-1 without today)."""

    today: date
    last: date | None

    @property
    def days_left(self) -> int:
        return -1 if self.last is None else (self.last - self.today).days

    @property
    def ok(self) -> bool:
        return self.days_left >= COVERAGE_DAYS

    def problem(self) -> str | None:
        """What the people on watch read when the calendar is too short, with what to do."""
        if self.ok:
            return None
        year = (self.last or self.today).year + (1 if self.last is not None else 0)
        reach = ("does not cover today" if self.last is None else
                 f"ends on {self.last.isoformat()} ({self.days_left} days left)")
        return (f"work calendar: {reach}; it must cover today + {COVERAGE_DAYS} days "
                f"(Asia/Shanghai) or node deadlines become unknown — enter the State Council "
                f"holidays: POST /v1/work-calendar/years/{year} "
                '{"holidays": [{"day", "name"}], "workdays": [{"day", "name"}]}')
