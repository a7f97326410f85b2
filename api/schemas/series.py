"""Usage over time: series, utilisation and top cards."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.quota.forecast import Outlook
from store.series import Bucket

__all__ = ["Bucket", "Outlook", "Point", "PoolForecast", "Series", "TopCard", "UtilisationPoint"]


class Point(BaseModel):
    time: datetime
    bytes: int


class Series(BaseModel):
    subject: str
    bucket: Bucket
    start: datetime
    end: datetime
    points: list[Point]


class UtilisationPoint(BaseModel):
    time: datetime
    used_bytes: int
    percent: float | None


class TopCard(BaseModel):
    iccid: str
    cycle_usage_bytes: int


class PoolForecast(BaseModel):
    """Where a pool is heading this cycle at its recent rate of use."""

    pool_id: str
    limit_bytes: int
    used_bytes: int = Field(description="this cycle's use so far, as the quota rules count it")
    cycle: str = Field(description="the billing cycle, YYYY-MM in the enterprise's time zone")
    cycle_ends_at: datetime = Field(description="when the cycle ends and the pool resets")
    rate_bytes_per_hour: float = Field(description="the average use per hour over the window")
    window_start: datetime = Field(description="start of the window the rate is taken over "
                                               "(24 hours ago, or the cycle's start)")
    window_end: datetime = Field(description="end of that window: now")
    exhausts_at: datetime | None = Field(description=(
        "when the pool reached its limit (outlook `exhausted`) or reaches it at the current "
        "rate, also when that falls after the cycle end; null when nothing was used in the "
        "window (or the instant lies more than a century ahead)"))
    runs_dry_before_cycle_end: bool = Field(description="exhausted already, or will be before "
                                                        "the cycle ends at the current rate")
    outlook: Outlook = Field(description=(
        "`exhausted`: the limit is reached; `runs_dry`: it will be before the cycle ends; "
        "`after_cycle_end`: only after the cycle ends (it resets first); `never`: no use in "
        "the window"))
    method: str = Field(description="how the forecast was computed, in a sentence")
