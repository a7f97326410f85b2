"""Queries for enterprise pools: create, change limits, the pool view."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from store.db import Conn
from store.quota import Outcome, evaluate
from store.tenants import AlreadyExists, NotFound

UNSET = object()


@dataclass(frozen=True)
class PoolView:
    pool_id: str
    enterprise_id: str
    limit_bytes: int
    per_card_limit_bytes: int | None
    cycle: str
    used_bytes: int
    card_count: int
    status: str
    warn_percents: list[int]


_VIEW = """
SELECT p.pool_id, p.enterprise_id, p.limit_bytes, p.per_card_limit_bytes,
       to_char(cp_now() AT TIME ZONE e.timezone, 'YYYY-MM'), coalesce(u.bytes, 0),
       (SELECT count(*) FROM cards c WHERE c.pool_id = p.pool_id), p.exhausted, p.warn_percents
FROM pools p
JOIN enterprises e ON e.enterprise_id = p.enterprise_id
LEFT JOIN pool_cycle_usage u ON u.pool_id = p.pool_id AND u.cycle = cp_cycle(cp_now(), e.timezone)
WHERE p.pool_id = %s
"""

# The current cycle's pool total, recomputed from its members (self-healing on every change).
_RESYNC = """
INSERT INTO pool_cycle_usage AS t (pool_id, cycle, bytes)
SELECT p.pool_id, cp_cycle(cp_now(), e.timezone),
       coalesce((SELECT sum(u.bytes) FROM cards c JOIN card_cycle_usage u
                 ON u.iccid = c.iccid AND u.cycle = cp_cycle(cp_now(), e.timezone)
                 WHERE c.pool_id = p.pool_id), 0)
FROM pools p JOIN enterprises e ON e.enterprise_id = p.enterprise_id
WHERE p.pool_id = %s
ON CONFLICT (pool_id, cycle) DO UPDATE SET bytes = excluded.bytes, updated_at = now()
"""


async def get_pool(conn: Conn, pool_id: str) -> PoolView:
    cur = await conn.execute(_VIEW, (pool_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(pool_id)
    pid, ent, limit, cap, cycle, used, count, exhausted, warn = row
    return PoolView(pid, ent, limit, cap, cycle, used, count,
                    "exhausted" if exhausted else "ok", warn)


async def create_pool(
    conn: Conn, pool_id: str, enterprise_id: str, limit_bytes: int,
    per_card_limit_bytes: int | None, warn_percents: list[int],
) -> tuple[PoolView, Outcome]:
    async with conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO pools (pool_id, enterprise_id, limit_bytes, per_card_limit_bytes,"
                " warn_percents) VALUES (%s, %s, %s, %s, %s)",
                (pool_id, enterprise_id, limit_bytes, per_card_limit_bytes, warn_percents),
            )
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(pool_id) from None
        except psycopg.errors.ForeignKeyViolation:
            raise NotFound(enterprise_id) from None
        outcome = await evaluate(conn, pool_ids=[pool_id], cause="pool_created")
    return await get_pool(conn, pool_id), outcome


async def update_pool(
    conn: Conn, pool_id: str, *, limit_bytes: object = UNSET,
    per_card_limit_bytes: object = UNSET, warn_percents: object = UNSET,
) -> tuple[PoolView, Outcome]:
    """Change a pool's limits; its state and (for the per-card cap) its members re-evaluate."""
    async with conn.transaction():
        cur = await conn.execute("SELECT 1 FROM pools WHERE pool_id = %s FOR UPDATE", (pool_id,))
        if await cur.fetchone() is None:
            raise NotFound(pool_id)
        for column, value in (("limit_bytes", limit_bytes),
                              ("per_card_limit_bytes", per_card_limit_bytes),
                              ("warn_percents", warn_percents)):
            if value is not UNSET:
                await conn.execute(
                    psycopg.sql.SQL("UPDATE pools SET {} = %s WHERE pool_id = %s").format(
                        psycopg.sql.Identifier(column)), (value, pool_id))
        await conn.execute(_RESYNC, (pool_id,))
        members = [pool_id] if per_card_limit_bytes is not UNSET else []
        outcome = await evaluate(conn, pool_ids=[pool_id], members_of=members,
                                 cause="pool_updated")
    return await get_pool(conn, pool_id), outcome
