"""BOUNDARIES ON PURPOSE, on real PostgreSQL (and, for the rollover, the real API, broker and
worker): the last second of a month against the first second of the next, in Asia/Shanghai
and in UTC, and 31 December against 1 January.

- `cp_cycle` in SQL: a billing cycle is the month of an instant in the enterprise's zone;
- the usage writer (store.usage): a record counts in the month of its `end` in its card's
  enterprise's zone (2026-11-30T23:59:59+08:00 is November, a second later December, and an
  enterprise in UTC is still in November until 08:00 in Shanghai);
- the cycle rollover: a quota-stopped card resumes when the platform clock itself crosses from
  31 December 23:59:59 to 1 January (the test clock moved to a few seconds before midnight).

The operators' poll cycle is in tests/unit/test_cycle_boundaries.py. Also here: PostgreSQL and
this process read the same clock (what `make test-dates` relies on when it shifts them all).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from core.clock import now
from domain.usage.records import UsageRecord
from store.usage import OperatorRecords, write_usage
from tests.support.api import ADMIN, signed_body
from tests.support.dates import last_second_of_year, move_clock
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration
SH_CARD, UTC_CARD = "89860000000000000441", "89860000000000000442"
Conn = psycopg.AsyncConnection[tuple[Any, ...]]


def ms(at: str) -> int:
    return int(datetime.fromisoformat(at).timestamp() * 1000)


# (instant, its cycle in Asia/Shanghai, its cycle in UTC)
BOUNDARIES = [
    ("2026-11-30T23:59:59+08:00", date(2026, 11, 1), date(2026, 11, 1)),
    ("2026-11-30T23:59:59.999+08:00", date(2026, 11, 1), date(2026, 11, 1)),
    ("2026-12-01T00:00:00+08:00", date(2026, 12, 1), date(2026, 11, 1)),
    ("2026-11-30T23:59:59Z", date(2026, 12, 1), date(2026, 11, 1)),
    ("2026-12-01T00:00:00Z", date(2026, 12, 1), date(2026, 12, 1)),
    ("2026-12-31T23:59:59+08:00", date(2026, 12, 1), date(2026, 12, 1)),
    ("2027-01-01T00:00:00+08:00", date(2027, 1, 1), date(2026, 12, 1)),
    ("2026-12-31T23:59:59Z", date(2027, 1, 1), date(2026, 12, 1)),
    ("2027-01-01T00:00:00Z", date(2027, 1, 1), date(2027, 1, 1)),
]
IDS = [at for at, _, _ in BOUNDARIES]


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[Conn]:
    """A connection to this test's database with a card in Shanghai and one in UTC."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('sh', 'SH')")
        await conn.execute("INSERT INTO enterprises (enterprise_id, name, timezone)"
                           " VALUES ('utc', 'UTC', 'UTC')")
        await conn.execute("INSERT INTO cards (iccid, enterprise_id, operator) VALUES"
                           " (%s, 'sh', 'onelink'), (%s, 'utc', 'onelink')", (SH_CARD, UTC_CARD))
        yield conn


@pytest.mark.parametrize("session_zone", ["UTC", "America/Los_Angeles"])
async def test_cp_cycle_at_month_and_year_boundaries(conn: Conn, session_zone: str) -> None:
    await conn.execute(f"SET TimeZone = '{session_zone}'")  # the session's zone plays no part
    for at, shanghai, utc in BOUNDARIES:
        cur = await conn.execute(
            "SELECT cp_cycle(%(at)s::timestamptz, 'Asia/Shanghai'),"
            " cp_cycle(%(at)s::timestamptz, 'UTC')", {"at": at})
        assert await cur.fetchone() == (shanghai, utc), at


@pytest.mark.parametrize(("end", "shanghai", "utc"), BOUNDARIES, ids=IDS)
async def test_usage_writer_counts_a_record_in_the_month_of_its_end(
    conn: Conn, end: str, shanghai: date, utc: date,
) -> None:
    records = [UsageRecord(f"r-{iccid}", iccid, 10, ms(end) - 60_000, ms(end))
               for iccid in (SH_CARD, UTC_CARD)]
    await write_usage(conn, [OperatorRecords("onelink", ms(end), records)])
    cur = await conn.execute("SELECT iccid, cycle, bytes FROM card_cycle_usage ORDER BY iccid")
    assert await cur.fetchall() == [(SH_CARD, shanghai, 10), (UTC_CARD, utc, 10)]
    cur = await conn.execute("SELECT iccid, cycle FROM usage_records ORDER BY iccid")
    assert await cur.fetchall() == [(SH_CARD, shanghai), (UTC_CARD, utc)]


async def test_postgres_and_this_process_read_the_same_clock(conn: Conn) -> None:
    cur = await conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8")
    row = await cur.fetchone()
    assert row is not None
    assert abs(row[0] - time.time()) < 5, "PostgreSQL's clock is not this process's clock"


# --- the rollover, with the platform clock crossing midnight on 31 December by itself ---

SECRET = "boundary-push-secret-0123"
PACKAGE, POOLED = "89860000000000000551", "89860000000000000552"


async def view(client: httpx.AsyncClient, iccid: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/cards/{iccid}", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def becomes(client: httpx.AsyncClient, iccid: str, cycle: str, reasons: list[str],
                  usage: int, timeout: float = 30) -> None:
    async def check() -> dict[str, Any] | None:
        seen = await view(client, iccid)
        wanted = (seen["cycle"], seen["stop_reasons"], seen["cycle_usage_bytes"])
        return seen if wanted == (cycle, reasons, usage) else None

    try:
        await eventually_async(check, timeout=timeout, what=f"{iccid}: {cycle} {reasons}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; card is {await view(client, iccid)}") from None


async def test_quota_stopped_cards_resume_when_the_clock_crosses_into_january(
    client: httpx.AsyncClient, running_worker: WorkerProcess,
) -> None:
    for path, body in [
        ("/v1/enterprises", {"enterprise_id": "acme", "name": "Acme"}),  # Asia/Shanghai
        ("/v1/pools", {"pool_id": "fleet", "enterprise_id": "acme", "limit_bytes": 100}),
        ("/v1/cards", {"iccid": PACKAGE, "enterprise_id": "acme", "operator": "onelink",
                       "package_bytes": 100}),
        ("/v1/cards", {"iccid": POOLED, "enterprise_id": "acme", "operator": "onelink",
                       "pool_id": "fleet"}),
    ]:
        answer = await client.post(path, json=body, headers=ADMIN)
        assert answer.status_code == 201, answer.text
    put = await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET},
                           headers=ADMIN)
    assert put.status_code == 204

    midnight = last_second_of_year() + timedelta(seconds=1)  # 1 January, 00:00 Shanghai
    december, january = f"{midnight.year - 1}-12", f"{midnight.year}-01"
    await move_clock(client, midnight - timedelta(minutes=10))
    end = now() - timedelta(seconds=5)
    records = [{"record_id": f"dec-{iccid}", "iccid": iccid, "bytes": 150,
                "start": (end - timedelta(minutes=5)).isoformat(), "end": end.isoformat()}
               for iccid in (PACKAGE, POOLED)]
    raw, headers = signed_body({"records": records}, SECRET)
    pushed = await client.post("/v1/upstream/onelink/usage", content=raw, headers=headers)
    assert pushed.status_code == 202, pushed.text
    await becomes(client, PACKAGE, december, ["package_quota"], 150)
    await becomes(client, POOLED, december, ["pool_exhausted"], 150)

    # 23:59:45 on 31 December: still December, still stopped; then the clock runs on alone.
    await move_clock(client, midnight - timedelta(seconds=15))
    still = await view(client, PACKAGE)
    assert (still["cycle"], still["stop_reasons"]) == (december, ["package_quota"])
    await becomes(client, PACKAGE, january, [], 0, timeout=60)
    await becomes(client, POOLED, january, [], 0, timeout=30)
    pool = await client.get("/v1/pools/fleet", headers=ADMIN)
    assert (pool.json()["status"], pool.json()["used_bytes"]) == ("ok", 0)
    assert now() >= midnight
    closed = await client.get("/v1/enterprises/acme/cards.csv", params={"cycle": december},
                              headers=ADMIN)
    assert closed.status_code == 200, closed.text
    rows = csv.DictReader(io.StringIO(closed.text))
    assert {(r["iccid"], r["usage_bytes"]) for r in rows} == {(PACKAGE, "150"), (POOLED, "150")}
