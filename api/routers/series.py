"""Usage over time for cards and pools, top cards, utilisation, and the CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel

from api.deps import Caller, Db
from api.errors import invalid
from api.routers.cards import visible_card
from api.routers.enterprises import own
from api.routers.pools import visible_pool
from store import series
from store.series import Bucket

router = APIRouter(tags=["usage"])
MAX_SPAN = {"1h": timedelta(days=31), "1d": timedelta(days=400)}
DEFAULT_SPAN = {"1h": timedelta(days=1), "1d": timedelta(days=31)}


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


Start = Annotated[AwareDatetime | None, Query(alias="from", description="default: one span ago")]
End = Annotated[AwareDatetime | None, Query(alias="to", description="default: now")]


def window(bucket: Bucket, start: datetime | None, end: datetime | None
           ) -> tuple[datetime, datetime]:
    """The time range asked for, checked against what a bucket allows."""
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_SPAN[bucket]
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
                  points=[Point(time=t, bytes=b) for t, b in points])


@router.get("/v1/pools/{pool_id}/usage", response_model=Series)
async def pool_usage(pool_id: str, caller: Caller, db: Db, bucket: Bucket = "1h",
                     start: Start = None, end: End = None) -> Series:
    await visible_pool(db, pool_id, caller)
    first, last = window(bucket, start, end)
    points = await series.pool_series(db, pool_id, bucket, first, last)
    return Series(subject=pool_id, bucket=bucket, start=first, end=last,
                  points=[Point(time=t, bytes=b) for t, b in points])


@router.get("/v1/pools/{pool_id}/utilisation", response_model=list[UtilisationPoint])
async def pool_utilisation(pool_id: str, caller: Caller, db: Db) -> list[UtilisationPoint]:
    """Cumulative usage of the current cycle against the pool limit, by hour."""
    await visible_pool(db, pool_id, caller)
    return [UtilisationPoint(time=t, used_bytes=u, percent=p)
            for t, u, p in await series.pool_utilisation(db, pool_id)]


@router.get("/v1/pools/{pool_id}/top-cards", response_model=list[TopCard])
async def top_cards(pool_id: str, caller: Caller, db: Db,
                    n: Annotated[int, Query(ge=1, le=1000)] = 10) -> list[TopCard]:
    await visible_pool(db, pool_id, caller)
    return [TopCard(iccid=i, cycle_usage_bytes=b)
            for i, b in await series.pool_top_cards(db, pool_id, n)]


_CYCLE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CSV_COLUMNS = ["iccid", "operator", "pool_id", "package_bytes", "usage_bytes", "stop_reasons",
               "network_status"]


@router.get("/v1/enterprises/{enterprise_id}/cards.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def export_cards(enterprise_id: str, caller: Caller, db: Db,
                       cycle: Annotated[str, Query(description="YYYY-MM")]) -> Response:
    """Every card of the enterprise with its usage in `cycle`, as CSV."""
    own(caller, enterprise_id, write=False)
    if not _CYCLE.match(cycle):
        raise invalid("query", "cycle", "must be YYYY-MM", cycle)
    rows = await series.enterprise_cards(db, enterprise_id, date.fromisoformat(cycle + "-01"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{enterprise_id}-{cycle}-cards.csv"'})
