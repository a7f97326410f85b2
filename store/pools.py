"""Queries for enterprise pools: create, change limits, the pool view, the fullest pools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg.rows import class_row

from store.db import KEEP, Conn, Keep, set_fields
from store.errors import AlreadyExists, NotFound
from store.quota import Outcome, evaluate


@dataclass(frozen=True)
class PoolView:
    pool_id: str
    enterprise_id: str
    limit_bytes: int
    per_card_limit_bytes: int | None
    cycle: str
    used_bytes: int
    card_count: int
    status: Literal["ok", "exhausted"]
    warn_percents: list[int]


@dataclass(frozen=True)
class PoolFill:
    """How full a pool is this cycle (used share of its limit; None for a zero limit)."""

    pool_id: str
    ratio: float | None


_VIEW = """
SELECT p.pool_id, p.enterprise_id, p.limit_bytes, p.per_card_limit_bytes,
       to_char(cp_now() AT TIME ZONE e.timezone, 'YYYY-MM') AS cycle,
       coalesce(u.bytes, 0) AS used_bytes,
       (SELECT count(*) FROM cards c WHERE c.pool_id = p.pool_id) AS card_count,
       CASE WHEN p.exhausted THEN 'exhausted' ELSE 'ok' END AS status, p.warn_percents
FROM pools p
JOIN enterprises e ON e.enterprise_id = p.enterprise_id
LEFT JOIN pool_cycle_usage u ON u.pool_id = p.pool_id AND u.cycle = cp_cycle(cp_now(), e.timezone)
"""
_ONE = _VIEW + "WHERE p.pool_id = %s"
# An enterprise's pools, the fullest first (the share of the limit used this cycle).
_OF_ENTERPRISE = _VIEW + """WHERE p.enterprise_id = %s
ORDER BY coalesce(u.bytes, 0)::float8 / nullif(p.limit_bytes, 0) DESC NULLS LAST, p.pool_id
"""

_INSERT = """
INSERT INTO pools (pool_id, enterprise_id, limit_bytes, per_card_limit_bytes, warn_percents)
VALUES (%s, %s, %s, %s, %s)
"""
_LOCK = "SELECT 1 FROM pools WHERE pool_id = %s FOR UPDATE"

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

_FULLEST = """
SELECT p.pool_id, coalesce(u.bytes, 0)::float8 / nullif(p.limit_bytes, 0) AS ratio
FROM pools p JOIN enterprises e ON e.enterprise_id = p.enterprise_id
LEFT JOIN pool_cycle_usage u ON u.pool_id = p.pool_id AND u.cycle = cp_cycle(cp_now(), e.timezone)
ORDER BY 2 DESC NULLS LAST LIMIT %s
"""


async def get_pool(conn: Conn, pool_id: str) -> PoolView:
    async with conn.cursor(row_factory=class_row(PoolView)) as cur:
        await cur.execute(_ONE, (pool_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"pool {pool_id!r}")
    return row


async def enterprise_pools(conn: Conn, enterprise_id: str) -> list[PoolView]:
    """The enterprise's pools with this cycle's use, the fullest first."""
    async with conn.cursor(row_factory=class_row(PoolView)) as cur:
        await cur.execute(_OF_ENTERPRISE, (enterprise_id,))
        return await cur.fetchall()


async def create_pool(
    conn: Conn, pool_id: str, enterprise_id: str, limit_bytes: int,
    per_card_limit_bytes: int | None, warn_percents: list[int],
) -> tuple[PoolView, Outcome]:
    async with conn.transaction():
        try:
            await conn.execute(_INSERT, (pool_id, enterprise_id, limit_bytes,
                                         per_card_limit_bytes, warn_percents))
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"pool {pool_id!r}") from None
        except psycopg.errors.ForeignKeyViolation:
            raise NotFound(f"enterprise {enterprise_id!r}") from None
        outcome = await evaluate(conn, pool_ids=[pool_id], cause="pool_created")
    return await get_pool(conn, pool_id), outcome


async def update_pool(
    conn: Conn, pool_id: str, *, limit_bytes: int | Keep = KEEP,
    per_card_limit_bytes: int | None | Keep = KEEP, warn_percents: list[int] | Keep = KEEP,
) -> tuple[PoolView, Outcome]:
    """Change a pool's limits; its state and (for the per-card cap) its members re-evaluate."""
    async with conn.transaction():
        if await (await conn.execute(_LOCK, (pool_id,))).fetchone() is None:
            raise NotFound(f"pool {pool_id!r}")
        changes: dict[str, object] = {"limit_bytes": limit_bytes,
                                      "per_card_limit_bytes": per_card_limit_bytes,
                                      "warn_percents": warn_percents}
        await set_fields(conn, "pools", "pool_id", pool_id, changes)
        await conn.execute(_RESYNC, (pool_id,))
        members = [pool_id] if per_card_limit_bytes is not KEEP else []
        outcome = await evaluate(conn, pool_ids=[pool_id], members_of=members,
                                 cause="pool_updated")
    return await get_pool(conn, pool_id), outcome


async def fullest_pools(conn: Conn, limit: int) -> list[PoolFill]:
    """The `limit` pools with the highest used share of their limit this cycle."""
    async with conn.cursor(row_factory=class_row(PoolFill)) as cur:
        await cur.execute(_FULLEST, (limit,))
        return await cur.fetchall()
