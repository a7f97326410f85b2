"""Usage over time: series, utilisation and top cards."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from store.series import Bucket

__all__ = ["Bucket", "Point", "Series", "TopCard", "UtilisationPoint"]


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
