"""Usage over time for cards and pools, top cards, utilisation, and the CSV export."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import astuple, fields
from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from api.deps import Caller, Db, visible_card, visible_enterprise, visible_pool
from api.errors import invalid
from api.forecasts import PoolOutlook, pool_outlook
from api.schemas.series import Bucket, Point, PoolForecast, Series, TopCard, UtilisationPoint
from core.clock import now
from domain.quota.forecast import method
from domain.usage.cycles import cycle_label, cycle_of
from store import series

router = APIRouter(tags=["usage"])
MAX_SPAN = {"1h": timedelta(days=31), "1d": timedelta(days=400)}
DEFAULT_SPAN = {"1h": timedelta(days=1), "1d": timedelta(days=31)}


Start = Annotated[AwareDatetime | None, Query(alias="from", description="default: one span ago")]
End = Annotated[AwareDatetime | None, Query(alias="to", description="default: now")]


def window(bucket: Bucket, start: datetime | None, end: datetime | None
           ) -> tuple[datetime, datetime]:
    """The time range asked for, checked against what a bucket allows."""
    end = end or now()
    try:
        start = start or end - DEFAULT_SPAN[bucket]
    except OverflowError:
        raise invalid("query", "to", "lies too early for a default `from`; send one") from None
    if start >= end:
        raise invalid("query", "from", "must be before to")
    if end - start > MAX_SPAN[bucket]:
        raise invalid("query", "from",
                      f"at most {MAX_SPAN[bucket].days} days before `to` with bucket={bucket}")
    return start, end


@router.get("/v1/cards/{iccid}/usage", response_model=Series)
async def card_usage(iccid: str, caller: Caller, db: Db, bucket: Bucket = "1h",
                     start: Start = None, end: End = None) -> Series:
    await visible_card(db, iccid, caller)
    first, last = window(bucket, start, end)
    points = await series.card_series(db, iccid, bucket, first, last)
    return Series(subject=iccid, bucket=bucket, start=first, end=last,
                  points=[Point(time=p.time, bytes=p.bytes) for p in points])


@router.get("/v1/pools/{pool_id}/usage", response_model=Series)
async def pool_usage(pool_id: str, caller: Caller, db: Db, bucket: Bucket = "1h",
                     start: Start = None, end: End = None) -> Series:
    await visible_pool(db, pool_id, caller)
    first, last = window(bucket, start, end)
    points = await series.pool_series(db, pool_id, bucket, first, last)
    return Series(subject=pool_id, bucket=bucket, start=first, end=last,
                  points=[Point(time=p.time, bytes=p.bytes) for p in points])


@router.get("/v1/pools/{pool_id}/utilisation", response_model=list[UtilisationPoint])
async def pool_utilisation(pool_id: str, caller: Caller, db: Db) -> list[UtilisationPoint]:
    """Cumulative usage of the current cycle against the pool limit, by hour."""
    await visible_pool(db, pool_id, caller)
    return [UtilisationPoint(time=u.time, used_bytes=u.used_bytes,
                             percent=float(u.percent) if u.percent is not None else None)
            for u in await series.pool_utilisation(db, pool_id)]


@router.get("/v1/pools/{pool_id}/top-cards", response_model=list[TopCard])
async def top_cards(pool_id: str, caller: Caller, db: Db,
                    n: Annotated[int, Query(ge=1, le=1000)] = 10) -> list[TopCard]:
    await visible_pool(db, pool_id, caller)
    return [TopCard(iccid=t.iccid, cycle_usage_bytes=t.cycle_usage_bytes)
            for t in await series.pool_top_cards(db, pool_id, n)]


def forecast_public(outlook: PoolOutlook) -> PoolForecast:
    result = outlook.forecast
    return PoolForecast(
        pool_id=outlook.pool.pool_id, limit_bytes=result.limit_bytes, used_bytes=result.used_bytes,
        cycle=cycle_label(cycle_of(outlook.cycle_start, outlook.timezone)),
        cycle_ends_at=outlook.cycle_end, rate_bytes_per_hour=result.rate_bytes_per_hour,
        window_start=result.window_start, window_end=result.window_end,
        exhausts_at=result.exhausts_at,
        runs_dry_before_cycle_end=result.runs_dry_before_cycle_end, outlook=result.outlook,
        method=method())


@router.get("/v1/pools/{pool_id}/forecast", response_model=PoolForecast)
async def pool_forecast(pool_id: str, caller: Caller, db: Db) -> PoolForecast:
    """When the pool reaches its limit at its recent rate of use: the average use per hour
    over the last 24 hours of this cycle (less at the start of a cycle), projected in a
    straight line from this cycle's use so far. `exhausts_at` is null when nothing was used in
    that window; `outlook` says whether the instant falls before or after the cycle's end."""
    return forecast_public(await pool_outlook(db, await visible_pool(db, pool_id, caller)))


CYCLE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"  # [0-9]: in Python, \d takes any script's digits
_CYCLE = re.compile(CYCLE_PATTERN)
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
CSV_COLUMNS = [f.name for f in fields(series.CardUsage)]


def cycle_start(cycle: str) -> date:
    """The first day of a billing cycle written YYYY-MM; 422 for anything else."""
    if not _CYCLE.fullmatch(cycle):
        raise invalid("query", "cycle", "must be YYYY-MM", cycle)
    try:
        return date(int(cycle[:4]), int(cycle[5:]), 1)
    except ValueError:  # year 0000
        raise invalid("query", "cycle", "must be a month of the years 0001-9999", cycle) from None


def attachment(filename: str) -> str:
    """A Content-Disposition for `filename`, which may hold any text of the request: an ASCII
    fallback (a header is Latin-1, and quotes or line breaks must not end up in it) and the
    exact name, percent-encoded as RFC 6266 says."""
    fallback = _UNSAFE_IN_FILENAME.sub("_", filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/v1/enterprises/{enterprise_id}/cards.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def export_cards(enterprise_id: str, caller: Caller, db: Db,
                       cycle: Annotated[str, Query(description="YYYY-MM", json_schema_extra={
                           "pattern": CYCLE_PATTERN})]) -> Response:
    """Every card of the enterprise with its usage in `cycle`, as CSV."""
    await visible_enterprise(db, enterprise_id, caller)
    rows = await series.enterprise_cards(db, enterprise_id, cycle_start(cycle))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(astuple(row) for row in rows)
    return Response(out.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": attachment(f"{enterprise_id}-{cycle}-cards.csv")})
