"""GET /v1/pools/{id}/forecast on real PostgreSQL: a worked example with usage at known times
(on a platform clock moved to the middle of a cycle), a pool with no recent use, and another
tenant's pool not found."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import psycopg
import pytest

from domain.usage.records import UsageRecord
from store.usage import OperatorRecords, write_usage
from tests.support.api import ADMIN, setup_tenant
from tests.support.dates import cycle_of, mid_cycle, move_clock

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
GiB = 1 << 30
A, B = "89860000000000000901", "89860000000000000902"


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def pool_with_cards(client: httpx.AsyncClient, limit: int) -> dict[str, str]:
    key = await setup_tenant(client)
    made = await client.post("/v1/pools", headers=ADMIN, json={
        "pool_id": "fleet", "enterprise_id": "acme", "limit_bytes": limit})
    assert made.status_code == 201, made.text
    for iccid in (A, B):
        answer = await client.post("/v1/cards", headers=ADMIN, json={
            "iccid": iccid, "enterprise_id": "acme", "operator": "onelink", "pool_id": "fleet"})
        assert answer.status_code == 201, answer.text
    return key


async def use(db_url: str, uses: list[tuple[str, int, datetime]]) -> None:
    """Store usage records (card, bytes, end) as the worker would count a push."""
    records = [UsageRecord(f"r{n}", iccid, nbytes, ms(end) - 60_000, ms(end))
               for n, (iccid, nbytes, end) in enumerate(uses)]
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await write_usage(conn, [OperatorRecords("onelink", ms(uses[-1][2]), records)])


async def test_a_worked_forecast(client: httpx.AsyncClient, db_url: str) -> None:
    moved = await move_clock(client, mid_cycle())
    key = await pool_with_cards(client, 100 * GiB)
    now = moved.now()
    # 10 GiB three days ago (before the 24-hour window), 24 GiB within it: 1 GiB an hour.
    await use(db_url, [(A, 10 * GiB, now - timedelta(days=3)),
                       (A, 6 * GiB, now - timedelta(hours=20)),
                       (B, 6 * GiB, now - timedelta(hours=10)),
                       (A, 12 * GiB, now - timedelta(hours=2))])
    answer = await client.get("/v1/pools/fleet/forecast", headers=key)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    start, end = (datetime.fromisoformat(body[k]) for k in ("window_start", "window_end"))
    assert end - start == timedelta(hours=24) and abs(end - now) < timedelta(minutes=5)
    assert (body["limit_bytes"], body["used_bytes"]) == (100 * GiB, 34 * GiB)
    assert body["rate_bytes_per_hour"] == GiB
    # 66 GiB left at 1 GiB an hour: 66 hours after now, before the cycle ends (16 days away).
    assert datetime.fromisoformat(body["exhausts_at"]) == end + timedelta(hours=66)
    assert body["runs_dry_before_cycle_end"] is True and body["outlook"] == "runs_dry"
    assert body["cycle"] == cycle_of(now)
    assert datetime.fromisoformat(body["cycle_ends_at"]) > end + timedelta(days=13)
    assert "24 hours" in body["method"]


async def test_no_recent_use_never_runs_dry_and_other_tenants_see_nothing(
        client: httpx.AsyncClient, db_url: str) -> None:
    moved = await move_clock(client, mid_cycle())
    await pool_with_cards(client, 100 * GiB)
    await use(db_url, [(A, GiB, moved.now() - timedelta(days=5))])
    body = (await client.get("/v1/pools/fleet/forecast", headers=ADMIN)).json()
    assert (body["used_bytes"], body["rate_bytes_per_hour"]) == (GiB, 0)
    assert (body["exhausts_at"], body["outlook"]) == (None, "never")
    assert body["runs_dry_before_cycle_end"] is False
    other = await setup_tenant(client, "other")
    hidden = await client.get("/v1/pools/fleet/forecast", headers=other)
    assert hidden.status_code == 404, hidden.text
    unknown = await client.get("/v1/pools/nope/forecast", headers=ADMIN)
    assert unknown.status_code == 404
