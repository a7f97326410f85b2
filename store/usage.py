"""Batched, idempotent usage writes: per batch one binary COPY, one set-based statement for
the records, card totals and rollups, and a short one for the pool totals.

The dedupe key of a record (`record_key`: the hour of its end, then a hash of operator and
record_id) is the primary key of `usage_records`; a record already stored inserts nothing and
adds nothing to the cycle totals, so redelivery from Kafka and repeated operator pushes never
count twice. Records for cards CardPulse does not know are kept in `dead_letters` with the
reason `unknown_card`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor, postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.rows import TupleRow

from domain.usage.keys import KeyBytes, key_bytes
from domain.usage.records import UsageRecord
from store.db import Conn
from store.errors import Rejected
from store.quota import Outcome, evaluate

# Times travel as epoch milliseconds and become timestamptz in SQL: cheaper than building
# three datetime objects per record in Python.
_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS usage_stage (
    record_key uuid, operator text, record_id text, iccid text, bytes bigint,
    start_ms bigint, end_ms bigint, received_ms bigint
) ON COMMIT DELETE ROWS
"""
_STAGE_COPY = (
    "COPY usage_stage (record_key, operator, record_id, iccid, bytes, start_ms, end_ms,"
    " received_ms) FROM STDIN (FORMAT BINARY)"
)
_STAGE_TYPES = ["uuid", "text", "text", "text", "int8", "int8", "int8", "int8"]

# Taken shared by every usage batch and exclusively by a change of pool membership, so that a
# batch never adds a card's usage to a pool the card is leaving (cheaper than locking every
# card row of every batch).
MEMBERSHIP_LOCK = 0x43504D42  # "CPMB"

# One statement: insert new records, add them to per-cycle totals and hourly rollups,
# dead-letter unknown cards, and name the cards whose quota rules may now give a different
# answer (their total reached `next_check`, see migration 0010): only those are re-evaluated.
# Pool totals follow in `_APPLY_POOLS`.
_APPLY = """
WITH staged AS (
    -- One index lookup per staged record (OFFSET 0 keeps the planner from hashing every card).
    SELECT s.record_key, s.operator, s.record_id, s.iccid, s.bytes, t.start_at, t.end_at,
           t.received_at, c.*, cp_cycle(t.end_at, c.timezone) AS cycle
    FROM usage_stage s
    CROSS JOIN LATERAL (
        SELECT to_timestamp(s.start_ms / 1000::float8) AS start_at,
               to_timestamp(s.end_ms / 1000::float8) AS end_at,
               to_timestamp(s.received_ms / 1000::float8) AS received_at
    ) t
    LEFT JOIN LATERAL (
        SELECT c.iccid AS card, c.pool_id, e.timezone
        FROM cards c JOIN enterprises e ON e.enterprise_id = c.enterprise_id
        WHERE c.iccid = s.iccid OFFSET 0
    ) c ON true
), inserted AS (
    INSERT INTO usage_records (record_key, operator, record_id, iccid, bytes, start_at,
                               end_at, cycle, received_at)
    SELECT record_key, operator, record_id, iccid, bytes, start_at, end_at, cycle, received_at
    FROM staged WHERE card IS NOT NULL
    ON CONFLICT (record_key) DO NOTHING
    RETURNING iccid, cycle, bytes, date_trunc('hour', end_at) AS hour
), per_card AS (
    SELECT iccid, cycle, sum(bytes)::bigint AS bytes, count(*) AS n
    FROM inserted GROUP BY iccid, cycle
), members AS (
    SELECT DISTINCT ON (card) card AS iccid, pool_id FROM staged WHERE card IS NOT NULL
), totals AS (
    INSERT INTO card_cycle_usage AS t (iccid, cycle, bytes, records)
    SELECT iccid, cycle, bytes, n FROM per_card ORDER BY iccid, cycle
    ON CONFLICT (iccid, cycle) DO UPDATE
        SET bytes = t.bytes + excluded.bytes, records = t.records + excluded.records,
            updated_at = now()
    RETURNING iccid, bytes >= next_check AS due
), pool_added AS (
    SELECT m.pool_id, p.cycle, sum(p.bytes)::bigint AS bytes
    FROM per_card p JOIN members m ON m.iccid = p.iccid
    WHERE m.pool_id IS NOT NULL
    GROUP BY m.pool_id, p.cycle
), hourly AS (
    INSERT INTO usage_hourly AS t (iccid, hour, bytes, records)
    SELECT iccid, hour, sum(bytes)::bigint, count(*) FROM inserted
    GROUP BY iccid, hour ORDER BY iccid, hour
    ON CONFLICT (iccid, hour) DO UPDATE SET bytes = t.bytes + excluded.bytes,
                                            records = t.records + excluded.records
    RETURNING 1
), pool_hour_added AS (
    SELECT m.pool_id, i.hour, sum(i.bytes)::bigint AS bytes
    FROM inserted i JOIN members m ON m.iccid = i.iccid
    WHERE m.pool_id IS NOT NULL
    GROUP BY m.pool_id, i.hour
), dead AS (
    INSERT INTO dead_letters (source, reason, record_key, operator, iccid, payload)
    SELECT 'usage', 'unknown_card', s.record_key, s.operator, s.iccid,
           jsonb_build_object('record_id', s.record_id, 'iccid', s.iccid, 'bytes', s.bytes,
                              'start', s.start_at, 'end', s.end_at)
    FROM staged s WHERE s.card IS NULL
    ON CONFLICT (record_key, reason) WHERE record_key IS NOT NULL DO NOTHING
    RETURNING payload
), card_candidates AS (
    SELECT DISTINCT iccid FROM totals WHERE due  -- a late cycle's row too: harmless
)
SELECT (SELECT count(*) FROM inserted) AS inserted, (SELECT count(*) FROM dead) AS dead,
       array(SELECT iccid FROM card_candidates ORDER BY iccid) AS candidate_cards,
       (SELECT coalesce(jsonb_agg(payload), '[]'::jsonb) FROM dead) AS dead_payloads,
       array(SELECT pool_id FROM pool_added ORDER BY pool_id, cycle) AS pool_ids,
       array(SELECT cycle FROM pool_added ORDER BY pool_id, cycle) AS pool_cycles,
       array(SELECT bytes FROM pool_added ORDER BY pool_id, cycle) AS pool_bytes,
       array(SELECT pool_id FROM pool_hour_added ORDER BY pool_id, hour) AS hour_pool_ids,
       array(SELECT hour FROM pool_hour_added ORDER BY pool_id, hour) AS hours,
       array(SELECT bytes FROM pool_hour_added ORDER BY pool_id, hour) AS hour_bytes
"""

# Pool totals in their own statement, last before the quota rules and the commit: every batch
# adds to the same few pool rows, so the row locks are held for as short a time as possible
# (concurrent workers queue on them).
_APPLY_POOLS = """
WITH added AS (
    SELECT * FROM unnest(%(pool_ids)s::text[], %(pool_cycles)s::date[], %(pool_bytes)s::int8[])
        AS a(pool_id, cycle, bytes)
), hour_added AS (
    SELECT * FROM unnest(%(hour_pool_ids)s::text[], %(hours)s::timestamptz[],
                         %(hour_bytes)s::int8[]) AS h(pool_id, hour, bytes)
), pool_totals AS (
    INSERT INTO pool_cycle_usage AS t (pool_id, cycle, bytes)
    SELECT pool_id, cycle, bytes FROM added ORDER BY pool_id, cycle
    ON CONFLICT (pool_id, cycle) DO UPDATE SET bytes = t.bytes + excluded.bytes,
                                               updated_at = now()
    RETURNING pool_id, cycle, bytes
), pool_hourly AS (
    INSERT INTO pool_usage_hourly AS t (pool_id, hour, bytes)
    SELECT pool_id, hour, bytes FROM hour_added ORDER BY pool_id, hour
    ON CONFLICT (pool_id, hour) DO UPDATE SET bytes = t.bytes + excluded.bytes
    RETURNING 1
), pool_candidates AS (
    SELECT t.pool_id FROM pool_totals t
    JOIN added a ON a.pool_id = t.pool_id AND a.cycle = t.cycle
    JOIN pools pl ON pl.pool_id = t.pool_id
    JOIN enterprises e ON e.enterprise_id = pl.enterprise_id
    WHERE t.cycle = cp_cycle(cp_now(), e.timezone)
      AND (pl.state_cycle IS DISTINCT FROM t.cycle
           OR (cp_pool_exhausted(t.bytes, pl.limit_bytes) AND NOT pl.exhausted)
           OR cp_crossed(t.bytes - a.bytes, t.bytes, pl.limit_bytes, pl.warn_percents))
)
SELECT array(SELECT DISTINCT pool_id FROM pool_candidates ORDER BY pool_id) AS candidates,
       (SELECT count(*) FROM pool_hourly) AS hourly_rows
"""


@dataclass(frozen=True)
class OperatorRecords:
    """Records of one operator, as they arrived in one usage message."""

    operator: str
    received_ms: int
    records: Sequence[UsageRecord]


@dataclass(frozen=True)
class WriteResult:
    """What one batch did: new records counted, records seen before, unknown-card letters,
    and the cards and pools whose quota rules must run again."""

    inserted: int
    duplicates: int
    dead_lettered: int
    candidate_cards: list[str] = field(default_factory=list)
    candidate_pools: list[str] = field(default_factory=list)
    unknown_card_payloads: list[object] = field(default_factory=list)


def _rows(batches: Sequence[OperatorRecords]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for batch in batches:
        received, op = batch.received_ms, batch.operator
        rows.extend(
            (key_bytes(op, r.record_id, r.end_ms), op, r.record_id, r.iccid, r.bytes,
             r.start_ms, r.end_ms, received)
            for r in batch.records
        )
    return rows


class _KeyDumper(Dumper):
    """Binary uuid from the 16 raw bytes of a record key (no uuid.UUID per record). Registered
    for `KeyBytes` only, it is also what a COPY typed `uuid` finds by oid, hence `UUID` too."""

    format = Format.BINARY
    oid = postgres.types["uuid"].oid

    def dump(self, obj: bytes | uuid.UUID) -> bytes:
        return obj if isinstance(obj, bytes) else obj.bytes


async def write_usage(
    conn: AsyncConnection[TupleRow], batches: Sequence[OperatorRecords]
) -> WriteResult:
    """Store a batch of usage in one transaction; safe to repeat after any failure."""
    rows = _rows(batches)
    if not rows:
        return WriteResult(0, 0, 0)
    conn.adapters.register_dumper(KeyBytes, _KeyDumper)
    async with conn.transaction():
        cur = conn.cursor()
        await cur.execute(_STAGE_DDL)
        async with cur.copy(_STAGE_COPY) as copy:
            copy.set_types(_STAGE_TYPES)
            for row in rows:
                await copy.write_row(row)
        # Room to aggregate in memory, and the shared side of the membership lock.
        await cur.execute("SELECT set_config('work_mem', '64MB', true),"
                          " pg_advisory_xact_lock_shared(%s)", (MEMBERSHIP_LOCK,))
        applied = await _one(cur, _APPLY, None)
        pools: list[str] = []
        if applied["pool_ids"]:
            pools = list((await _one(cur, _APPLY_POOLS, applied))["candidates"])
    inserted, dead = int(applied["inserted"]), int(applied["dead"])
    return WriteResult(inserted, len(rows) - inserted - dead, dead,
                       list(applied["candidate_cards"]), pools, list(applied["dead_payloads"]))


async def _one(cur: AsyncCursor[TupleRow], query: str, params: dict[str, Any] | None
               ) -> dict[str, Any]:
    """The one row a statement returns, by column name."""
    await cur.execute(query, params)
    row = await cur.fetchone()
    if row is None or cur.description is None:
        raise RuntimeError("a usage statement returned no row")
    return {column.name: value for column, value in zip(cur.description, row, strict=True)}


async def account(conn: Conn, batches: Sequence[OperatorRecords]) -> tuple[WriteResult, Outcome]:
    """Store usage and re-run the quota rules for the cards and pools it pushed over a
    threshold, in one transaction. Raises `Rejected` when PostgreSQL refuses the data."""
    received = min((b.received_ms for b in batches), default=None)
    since = datetime.fromtimestamp(received / 1000, UTC) if received else None
    try:
        async with conn.transaction():
            result = await write_usage(conn, batches)
            outcome = await evaluate(conn, iccids=result.candidate_cards,
                                     pool_ids=result.candidate_pools, cause="usage", since=since)
    except psycopg.DataError as exc:
        raise Rejected(str(exc)) from exc
    return result, outcome
