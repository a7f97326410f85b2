"""The working-day calendar's bodies (I-40, I-62)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.common import Strict

DayName = Annotated[str, Field(max_length=40, examples=["国庆节", "国庆节调休"])]


class CalendarDayPublic(BaseModel):
    day: date
    is_workday: bool
    name: str
    source: str = Field(description="chinesecalendar (the seed) or ops (entered by the platform)")


class HolidayPublic(BaseModel):
    """One holiday: 假期时间 (first … last), 放假天数 (days_off), 调休 (makeup_days)."""

    name: str
    first: date
    last: date
    days_off: int
    makeup_days: list[date]


class CalendarYear(BaseModel):
    year: int
    days: list[CalendarDayPublic] = Field(description="every covered day of the year")
    holidays: list[HolidayPublic]


class DayUpdate(Strict):
    is_workday: bool
    name: DayName = ""


class DayChanged(CalendarDayPublic):
    rescheduled: int = Field(description="running node deadlines re-computed (I-62)")


class NamedDay(Strict):
    day: date
    name: Annotated[str, Field(min_length=1, max_length=40)]


class YearEntry(Strict):
    """A year from the State Council notice: days off and 调休 make-up workdays; every other
    day follows the weekday (Monday–Friday working)."""

    holidays: Annotated[list[NamedDay], Field(max_length=366)]
    workdays: Annotated[list[NamedDay], Field(max_length=366)] = []
    replace: bool = Field(False, description="overwrite a year already covered")


class YearEntered(BaseModel):
    year: int
    days: int
    rescheduled: int = Field(description="running node deadlines re-computed (I-62)")
