"""Usage series, top cards, utilisation and the CSV export on real PostgreSQL, and the same
queries rendered for Grafana (macros expanded) returning the same rows."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from dashboards.build import all_dashboards, sql_targets
from domain.usage.records import UsageRecord
from store import series
from store.usage import OperatorRecords, write_usage
from tests.support.api import ADMIN
from tests.support.dates import cycle_of, mid_cycle, move_clock

pytestmark = pytest.mark.integration
A, B = "89860000000000000777", "89860000000000000888"


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@pytest.fixture
async def seeded(client: httpx.AsyncClient, db_url: str) -> datetime:
    """Two cards in a pool with usage around `now` (returned): half past the hour, two hours
    ago on a platform clock moved to the middle of a cycle, so the records and the reads of
    the current cycle agree whatever the date."""
    moved = await move_clock(client, mid_cycle())
    now = moved.now().replace(minute=30, second=0, microsecond=0) - timedelta(hours=2)
    await client.post("/v1/enterprises", json={"enterprise_id": "acme", "name": "A"},
                      headers=ADMIN)
    await client.post("/v1/pools", json={"pool_id": "fleet", "enterprise_id": "acme",
                                         "limit_bytes": 10_000}, headers=ADMIN)
    for iccid in (A, B):
        answer = await client.post("/v1/cards", headers=ADMIN, json={
            "iccid": iccid, "enterprise_id": "acme", "operator": "onelink", "pool_id": "fleet"})
        assert answer.status_code == 201, answer.text
    hour = now.replace(minute=0)
    records = [UsageRecord("a1", A, 100, ms(now) - 60_000, ms(now)),
               UsageRecord("a2", A, 200, ms(now) - 60_000, ms(now + timedelta(minutes=10))),
               UsageRecord("a3", A, 400, ms(hour + timedelta(hours=1)) - 1,
                           ms(hour + timedelta(hours=1, minutes=5))),
               UsageRecord("b1", B, 1000, ms(now) - 60_000, ms(now))]
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await write_usage(conn, [OperatorRecords("onelink", ms(now), records)])
    return now


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    answer = await client.get(path, params=params, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_card_and_pool_series(client: httpx.AsyncClient, seeded: datetime) -> None:
    now = seeded
    hour = now.replace(minute=0)
    window = {"from": (hour - timedelta(hours=1)).isoformat(),
              "to": (hour + timedelta(hours=3)).isoformat()}
    card = await get(client, f"/v1/cards/{A}/usage", bucket="1h", **window)
    assert [(p["time"], p["bytes"]) for p in card["points"]] == [
        (hour.isoformat().replace("+00:00", "Z"), 300),
        ((hour + timedelta(hours=1)).isoformat().replace("+00:00", "Z"), 400)]
    daily = await get(client, f"/v1/cards/{A}/usage", bucket="1d",
                      **{"from": (now - timedelta(days=2)).isoformat(),
                         "to": (now + timedelta(days=2)).isoformat()})
    assert sum(p["bytes"] for p in daily["points"]) == 700
    pool = await get(client, "/v1/pools/fleet/usage", bucket="1h", **window)
    assert [p["bytes"] for p in pool["points"]] == [1300, 400]
    top = await get(client, "/v1/pools/fleet/top-cards", n=1)
    assert top == [{"iccid": B, "cycle_usage_bytes": 1000}]
    used = await get(client, "/v1/pools/fleet/utilisation")
    assert [(p["used_bytes"], p["percent"]) for p in used][-1] == (1700, 17.0)


async def test_windows_are_checked(client: httpx.AsyncClient, seeded: datetime) -> None:
    wide = await client.get(f"/v1/cards/{A}/usage", headers=ADMIN, params={
        "bucket": "1h", "from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"})
    assert wide.status_code == 422 and "at most 31 days" in wide.text
    naive = await client.get(f"/v1/cards/{A}/usage", headers=ADMIN,
                             params={"from": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


async def test_csv_export(client: httpx.AsyncClient, seeded: datetime) -> None:
    cycle = cycle_of(seeded)  # the Shanghai month of the records
    answer = await client.get("/v1/enterprises/acme/cards.csv", params={"cycle": cycle},
                              headers=ADMIN)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["iccid"], r["usage_bytes"], r["pool_id"]) for r in rows] == [
        (A, "700", "fleet"), (B, "1000", "fleet")]
    bad = await client.get("/v1/enterprises/acme/cards.csv", params={"cycle": "2026-13"},
                           headers=ADMIN)
    assert bad.status_code == 422


def expand(sql: str, start: datetime, end: datetime) -> str:
    """What Grafana's PostgreSQL data source does to macros and variables."""
    return (sql.replace("$__timeFrom()", f"'{start.isoformat()}'::timestamptz")
            .replace("$__timeTo()", f"'{end.isoformat()}'::timestamptz")
            .replace("${iccid}", A).replace("${pool}", "fleet").replace("${top:raw}", "5")
            .replace("${enterprise}", "acme"))


async def test_every_dashboard_sql_panel_runs_on_postgres(db_url: str, seeded: datetime
                                                          ) -> None:
    start, end = seeded - timedelta(days=1), seeded + timedelta(days=1)
    targets = [t for board in all_dashboards() for t in sql_targets(board)]
    assert len(targets) >= 5
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        for title, sql in targets:
            cur = await conn.execute(expand(sql, start, end).encode())
            assert await cur.fetchall() is not None, title
        grafana = series.for_grafana(series.CARD_HOURLY)
        cur = await conn.execute(expand(grafana, start, end).encode())
        from_grafana = [(t, int(b)) for t, b in await cur.fetchall()]
        from_api = await series.card_series(conn, A, "1h", start, end)
        assert from_grafana == [(p.time, p.bytes) for p in from_api]
        assert sum(b for _, b in from_grafana) == 700
