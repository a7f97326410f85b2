"""What an enterprise's overview page shows: its cards counted by status and by stop reason."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.rows import class_row

from store.db import Conn


@dataclass(frozen=True)
class StatusCount:
    desired_status: str
    network_status: str
    cards: int


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    cards: int


_BY_STATUS = """
SELECT cp_desired_status(c.stop_reasons, p.exhausted) AS desired_status, c.network_status,
       count(*)::int AS cards
FROM cards c LEFT JOIN pools p ON p.pool_id = c.pool_id
WHERE c.enterprise_id = %s GROUP BY 1, 2 ORDER BY 1, 2
"""
_BY_REASON = """
SELECT reason, count(*)::int AS cards
FROM cards c LEFT JOIN pools p ON p.pool_id = c.pool_id,
     unnest(cp_effective_reasons(c.stop_reasons, p.exhausted)) AS reason
WHERE c.enterprise_id = %s GROUP BY 1 ORDER BY 2 DESC, 1
"""


async def cards_by_status(conn: Conn, enterprise_id: str) -> list[StatusCount]:
    """Cards by the status the platform wants and the status the operator reports."""
    async with conn.cursor(row_factory=class_row(StatusCount)) as cur:
        await cur.execute(_BY_STATUS, (enterprise_id,))
        return await cur.fetchall()


async def cards_by_reason(conn: Conn, enterprise_id: str) -> list[ReasonCount]:
    """Stopped cards by stop reason (a card with two reasons counts under both)."""
    async with conn.cursor(row_factory=class_row(ReasonCount)) as cur:
        await cur.execute(_BY_REASON, (enterprise_id,))
        return await cur.fetchall()
