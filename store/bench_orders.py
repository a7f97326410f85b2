"""Queries of the orders benchmark (`cardpulse bench --orders`): its progress, and the plain
INSERT floor it compares the ledger with."""

from __future__ import annotations

from datetime import datetime

from store.db import Conn

_COMPLETED = """
SELECT count(*) FROM orders WHERE kind = 'package' AND agent_id = %s AND state = 'completed'
"""
_FLOOR_TABLE = """
CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, k text NOT NULL,
                                        v bigint NOT NULL)
"""
_FLOOR_ROW = "INSERT INTO bench_floor (k, v) VALUES (%s, %s)"


async def completed_orders(conn: Conn, agent_id: str) -> int:
    """The agent's package orders completed so far."""
    row = await (await conn.execute(_COMPLETED, (agent_id,))).fetchone()
    return int(row[0]) if row else 0


async def make_floor_table(conn: Conn) -> None:
    await conn.execute(_FLOOR_TABLE)


async def insert_floor_row(conn: Conn, index: int) -> None:
    """One plain row, in the caller's transaction (autocommit: its own)."""
    await conn.execute(_FLOOR_ROW, (f"k{index}", index))


_DB_NOW = "SELECT cp_now()"
_RULE_RECORDS = "SELECT count(*) FROM commission_records WHERE rule_id = ANY(%s)"


async def db_now(conn: Conn) -> datetime:
    """The platform clock as the database reads it (what stamps the orders)."""
    row = await (await conn.execute(_DB_NOW)).fetchone()
    if row is None:
        raise RuntimeError("cp_now() answered no row")
    at: datetime = row[0]
    return at


async def rule_records(conn: Conn, rule_ids: list[str]) -> int:
    """Commission records the rules have produced so far."""
    row = await (await conn.execute(_RULE_RECORDS, (rule_ids,))).fetchone()
    return int(row[0]) if row else 0
