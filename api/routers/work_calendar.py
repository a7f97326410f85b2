"""The working-day calendar (I-40, I-62, AMB-38): the platform's operators (admin,
platform_operator) maintain it per year; vendor and provider admins and platform staff read it
(§7.2 "I delivery": holiday calendar). Every change re-computes the running node deadlines."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from api.deps import PLATFORM_READERS, Caller, Db, Principal, actor, forbid, is_business_writer
from api.openapi import FORBIDDEN
from api.schemas.work_calendar import (
    CalendarDayPublic,
    CalendarYear,
    DayChanged,
    DayUpdate,
    HolidayPublic,
    YearEntered,
    YearEntry,
)
from core.clock import now
from domain.delivery.calendar import holidays, year_days
from domain.delivery.workdays import local_day
from store.delivery import calendar

router = APIRouter(prefix="/v1/work-calendar", tags=["delivery"], responses=FORBIDDEN)
CALENDAR_READERS = (*PLATFORM_READERS, "vendor_admin", "provider_admin")
Year = Annotated[int, Path(ge=2000, le=2100)]


def may_read(caller: Principal) -> None:
    if caller.role not in CALENDAR_READERS:
        raise forbid(f"{caller.role} has no access to the holiday calendar")


def may_change(caller: Principal) -> None:
    may_read(caller)
    if not is_business_writer(caller):
        raise forbid(f"only platform operators change the holiday calendar, not {caller.role}")


@router.get("", response_model=CalendarYear)
async def read_year(caller: Caller, db: Db, year: Annotated[int | None, Query(
        ge=2000, le=2100, description="default: this year (Asia/Shanghai)")] = None
                    ) -> CalendarYear:
    """Every covered day of the year and its holidays (假期时间、放假天数、调休情况)."""
    may_read(caller)
    of = year if year is not None else local_day(now()).year
    days = await calendar.year(db, of)
    return CalendarYear(
        year=of, days=[CalendarDayPublic(day=d.day, is_workday=d.is_workday, name=d.name,
                                         source=d.source) for d in days],
        holidays=[HolidayPublic(name=h.name, first=h.first, last=h.last, days_off=h.days_off,
                                makeup_days=h.makeup_days)
                  for h in holidays([d.plain() for d in days])])


@router.put("/{day}", response_model=DayChanged)
async def set_day(day: date, body: DayUpdate, caller: Caller, db: Db,
                  request: Request) -> DayChanged:
    """Make one day a working day or a day off, with its name (source `ops`)."""
    may_change(caller)
    moved = await calendar.set_day(db, day, body.is_workday, body.name, actor(caller, request))
    return DayChanged(day=day, is_workday=body.is_workday, name=body.name, source="ops",
                      rescheduled=moved)


@router.post("/years/{year}", response_model=YearEntered, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "`calendar_year_exists`: send replace: true"}})
async def enter_year(year: Year, body: YearEntry, caller: Caller, db: Db,
                     request: Request) -> YearEntered:
    """Enter a whole year from the State Council notice: the listed holidays off, the listed
    make-up days on, every other day by weekday."""
    may_change(caller)
    days = year_days(year, {h.day: h.name for h in body.holidays},
                     {w.day: w.name for w in body.workdays})
    moved = await calendar.enter_year(db, year, days, actor(caller, request),
                                      replace=body.replace)
    return YearEntered(year=year, days=len(days), rescheduled=moved)
