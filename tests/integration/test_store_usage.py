"""The batched usage writer against real PostgreSQL: dedupe, cycles, unknown cards."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from domain.usage.records import UsageRecord
from store.usage import OperatorRecords, write_usage

pytestmark = pytest.mark.integration
CARD = "8986001234567890123"
UTC_CARD = "8986001234567890124"


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
async def conn(db_url: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    conn = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    await conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('sh', 'Shanghai')")
    await conn.execute(
        "INSERT INTO enterprises (enterprise_id, name, timezone) VALUES ('utc', 'UTC', 'UTC')")
    await conn.execute("INSERT INTO cards (iccid, enterprise_id, operator) VALUES (%s, 'sh', "
                       "'onelink'), (%s, 'utc', 'onelink')", (CARD, UTC_CARD))
    return conn


async def totals(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> list[tuple[object, ...]]:
    cur = await conn.execute(
        "SELECT iccid, to_char(cycle, 'YYYY-MM'), bytes, records FROM card_cycle_usage"
        " ORDER BY iccid, cycle")
    return await cur.fetchall()


async def test_redelivered_and_repeated_records_count_once(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
) -> None:
    records = [UsageRecord(f"r{n}", CARD, 100, ms(2026, 11, 1, 4), ms(2026, 11, 1, 5))
               for n in range(3)]
    batch = OperatorRecords("onelink", ms(2026, 11, 1, 6), records + records[:1])
    first = await write_usage(conn, [batch])
    assert (first.inserted, first.duplicates, first.dead_lettered) == (3, 1, 0)
    again = await write_usage(conn, [batch, batch])
    assert (again.inserted, again.duplicates) == (0, 8)
    assert await totals(conn) == [(CARD, "2026-11", 300, 3)]


async def test_same_record_id_from_two_operators_are_two_records(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
) -> None:
    record = UsageRecord("same", CARD, 7, ms(2026, 11, 2), ms(2026, 11, 2, 1))
    await write_usage(conn, [OperatorRecords("onelink", 0, [record]),
                             OperatorRecords("jasper", 0, [record])])
    assert await totals(conn) == [(CARD, "2026-11", 14, 2)]


async def test_cycle_is_the_month_of_end_in_the_enterprise_time_zone(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
) -> None:
    # 2026-10-31 17:30 UTC is already November in Shanghai (+08:00) but October in UTC.
    end = ms(2026, 10, 31, 17, 30)
    await write_usage(conn, [OperatorRecords("ctcc", 0, [
        UsageRecord("a", CARD, 1, end - 60_000, end),
        UsageRecord("b", UTC_CARD, 2, end - 60_000, end),
    ])])
    assert await totals(conn) == [(CARD, "2026-11", 1, 1), (UTC_CARD, "2026-10", 2, 1)]


async def test_unknown_card_is_kept_aside_once(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
) -> None:
    stranger = UsageRecord("x1", "8986009999999999999", 50, 0, 1000)
    for _ in range(2):
        result = await write_usage(conn, [OperatorRecords("onelink", 0, [stranger])])
        assert result.inserted == 0
    cur = await conn.execute("SELECT reason, iccid, payload->>'record_id' FROM dead_letters")
    assert await cur.fetchall() == [("unknown_card", "8986009999999999999", "x1")]
    assert await totals(conn) == []
