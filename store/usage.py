"""Batched, idempotent usage writes: one binary COPY and one set-based statement per batch.

The dedupe key of a record is a 128-bit hash of (operator, record_id), which is the primary key
of `usage_records`; a record already stored inserts nothing and adds nothing to the cycle
totals, so redelivery from Kafka and repeated operator pushes never count twice. Records for
cards CardPulse does not know are kept in `dead_letters` with the reason `unknown_card`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from streams.events import UsageRecord

_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS usage_stage (
    record_key uuid, operator text, record_id text, iccid text, bytes bigint,
    start_at timestamptz, end_at timestamptz, received_at timestamptz
) ON COMMIT DELETE ROWS
"""
_STAGE_COPY = (
    "COPY usage_stage (record_key, operator, record_id, iccid, bytes, start_at, end_at,"
    " received_at) FROM STDIN (FORMAT BINARY)"
)
_STAGE_TYPES = ["uuid", "text", "text", "text", "int8", "timestamptz", "timestamptz",
                "timestamptz"]

# One statement: insert new records, add them to per-cycle totals, dead-letter unknown cards.
_APPLY = """
WITH known AS (
    SELECT s.*, cp_cycle(s.end_at, e.timezone) AS cycle, c.pool_id,
           cp_cycle(cp_now(), e.timezone) AS current_cycle
    FROM usage_stage s
    JOIN cards c ON c.iccid = s.iccid
    JOIN enterprises e ON e.enterprise_id = c.enterprise_id
    FOR SHARE OF c
), inserted AS (
    INSERT INTO usage_records (record_key, operator, record_id, iccid, bytes, start_at,
                               end_at, cycle, received_at)
    SELECT record_key, operator, record_id, iccid, bytes, start_at, end_at, cycle, received_at
    FROM known
    ON CONFLICT (record_key) DO NOTHING
    RETURNING iccid, cycle, bytes, date_trunc('hour', end_at) AS hour
), per_card AS (
    SELECT iccid, cycle, sum(bytes)::bigint AS bytes, count(*) AS n
    FROM inserted GROUP BY iccid, cycle
), members AS (
    SELECT DISTINCT iccid, pool_id, current_cycle FROM known
), totals AS (
    INSERT INTO card_cycle_usage AS t (iccid, cycle, bytes, records)
    SELECT iccid, cycle, bytes, n FROM per_card ORDER BY iccid, cycle
    ON CONFLICT (iccid, cycle) DO UPDATE
        SET bytes = t.bytes + excluded.bytes, records = t.records + excluded.records,
            updated_at = now()
    RETURNING 1
), pool_totals AS (
    INSERT INTO pool_cycle_usage AS t (pool_id, cycle, bytes)
    SELECT m.pool_id, p.cycle, sum(p.bytes)::bigint
    FROM per_card p JOIN members m ON m.iccid = p.iccid
    WHERE m.pool_id IS NOT NULL
    GROUP BY m.pool_id, p.cycle ORDER BY m.pool_id, p.cycle
    ON CONFLICT (pool_id, cycle) DO UPDATE SET bytes = t.bytes + excluded.bytes,
                                               updated_at = now()
    RETURNING 1
), hourly AS (
    INSERT INTO usage_hourly AS t (iccid, hour, bytes, records)
    SELECT iccid, hour, sum(bytes)::bigint, count(*) FROM inserted
    GROUP BY iccid, hour ORDER BY iccid, hour
    ON CONFLICT (iccid, hour) DO UPDATE SET bytes = t.bytes + excluded.bytes,
                                            records = t.records + excluded.records
    RETURNING 1
), pool_hourly AS (
    INSERT INTO pool_usage_hourly AS t (pool_id, hour, bytes)
    SELECT m.pool_id, i.hour, sum(i.bytes)::bigint
    FROM inserted i JOIN members m ON m.iccid = i.iccid
    WHERE m.pool_id IS NOT NULL
    GROUP BY m.pool_id, i.hour ORDER BY m.pool_id, i.hour
    ON CONFLICT (pool_id, hour) DO UPDATE SET bytes = t.bytes + excluded.bytes
    RETURNING 1
), dead AS (
    INSERT INTO dead_letters (source, reason, record_key, operator, iccid, payload)
    SELECT 'usage', 'unknown_card', s.record_key, s.operator, s.iccid,
           jsonb_build_object('record_id', s.record_id, 'iccid', s.iccid, 'bytes', s.bytes,
                              'start', s.start_at, 'end', s.end_at)
    FROM usage_stage s
    WHERE NOT EXISTS (SELECT 1 FROM cards c WHERE c.iccid = s.iccid)
    ON CONFLICT (record_key, reason) WHERE record_key IS NOT NULL DO NOTHING
    RETURNING payload
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM dead),
       (SELECT count(*) FROM totals) + (SELECT count(*) FROM pool_totals)
       + (SELECT count(*) FROM hourly) + (SELECT count(*) FROM pool_hourly),
       array(SELECT p.iccid FROM per_card p JOIN members m
             ON m.iccid = p.iccid AND p.cycle = m.current_cycle ORDER BY p.iccid),
       (SELECT coalesce(jsonb_agg(payload), '[]'::jsonb) FROM dead)
"""


@dataclass(frozen=True)
class OperatorRecords:
    """Records of one operator, as they arrived in one usage message."""

    operator: str
    received_ms: int
    records: Sequence[UsageRecord]


@dataclass(frozen=True)
class WriteResult:
    """What one batch did: new records counted, records seen before, unknown-card letters."""

    inserted: int
    duplicates: int
    dead_lettered: int
    current_cycle_cards: list[str] = field(default_factory=list)
    unknown_card_payloads: list[object] = field(default_factory=list)


def record_key(operator: str, record_id: str) -> uuid.UUID:
    """The dedupe key of a record: a 128-bit BLAKE2b hash of operator and record id."""
    digest = hashlib.blake2b(f"{operator}\x1f{record_id}".encode(), digest_size=16).digest()
    return uuid.UUID(bytes=digest)


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def _rows(batches: Sequence[OperatorRecords]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for batch in batches:
        received = _ms(batch.received_ms)
        op = batch.operator
        rows.extend(
            (record_key(op, r.record_id), op, r.record_id, r.iccid, r.bytes,
             _ms(r.start_ms), _ms(r.end_ms), received)
            for r in batch.records
        )
    return rows


async def write_usage(
    conn: AsyncConnection[TupleRow], batches: Sequence[OperatorRecords]
) -> WriteResult:
    """Store a batch of usage in one transaction; safe to repeat after any failure."""
    rows = _rows(batches)
    if not rows:
        return WriteResult(0, 0, 0)
    async with conn.transaction():
        cur = conn.cursor()
        await cur.execute(_STAGE_DDL)
        async with cur.copy(_STAGE_COPY) as copy:
            copy.set_types(_STAGE_TYPES)
            for row in rows:
                await copy.write_row(row)
        await cur.execute(_APPLY)
        found = await cur.fetchone()
    if found is None:
        raise RuntimeError("usage apply statement returned no row")
    inserted, dead, cards = int(found[0]), int(found[1]), list(found[3])
    return WriteResult(inserted, len(rows) - inserted - dead, dead, cards, list(found[4]))


async def dead_letter(
    conn: AsyncConnection[TupleRow], source: str, reason: str, payload: object,
    *, operator: str | None = None, iccid: str | None = None,
) -> None:
    """Keep input the streams cannot use, with the reason, instead of dropping it.

    PostgreSQL text cannot hold NUL, which bad input may carry: it is replaced by U+FFFD here
    so that keeping the evidence can never fail.
    """
    document = orjson.dumps(payload).decode().replace("\\u0000", "\\ufffd")
    await conn.execute(
        "INSERT INTO dead_letters (source, reason, operator, iccid, payload)"
        " VALUES (%s, %s, %s, %s, %s::jsonb)",
        (source, _text(reason), _text(operator), _text(iccid), document),
    )


def _text(value: str | None) -> str | None:
    return value.replace("\x00", "\ufffd") if value is not None else None
