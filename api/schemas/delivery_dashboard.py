"""The delivery dashboard (I-55 … I-60): three widgets as of 00:00 today, and live saturation."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field


class CyclePublic(BaseModel):
    days: Decimal | None = Field(description="the mean completion cycle in days, half-up to "
                                             "0.1 (I-56); null: no project completed (—)")
    projects: int = Field(description="the projects completed in the window")
    completed_from: datetime = Field(description="00:00 today − 365 days (inclusive)")


class DayCount(BaseModel):
    day: date = Field(description="an Asia/Shanghai day")
    projects: int


class MonthCount(BaseModel):
    month: str = Field(description="YYYY-MM, a natural month (Asia/Shanghai)")
    projects: int


class StatusCounts(BaseModel):
    """I-58: exclusive counts (cancelled, completed, paused, timed out, in progress) of the
    projects created in the window; they sum to `total`."""

    window_days: Literal[30, 60]
    created_from: datetime
    total: int
    completed: int = Field(description="已交付")
    in_progress: int = Field(description="执行中 (timed-out projects excluded)")
    timed_out: int = Field(description="已超时")
    paused: int = Field(description="已暂停")
    cancelled: int = Field(description="已取消")


class DashboardPublic(BaseModel):
    as_of: datetime = Field(description="00:00 today (Asia/Shanghai): nothing at or after it "
                                        "counts (I-55)")
    vendor_id: str | None
    provider_id: str | None
    cycle: CyclePublic
    per_day: list[DayCount] = Field(description="new projects, today−7 … today−1 (I-57)")
    per_month: list[MonthCount] = Field(description="new projects, the month of yesterday "
                                                    "and the 5 before (I-57)")
    status: StatusCounts


class SaturationPublic(BaseModel):
    """One provider of one product: live load ÷ max load (I-59)."""

    product_id: str
    product_no: str
    product_name: str
    provider_id: str
    provider_name: str
    current: int
    max_load: int
    percent: Decimal = Field(description="half-up to 0.1; max load 0 shows 100 (AMB-47)")
    colour: Literal["green", "blue", "red"] = Field(
        description="< 40 % green, 40 %–80 % inclusive blue, > 80 % red, on the exact "
                    "fraction (AMB-01)")
