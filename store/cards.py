"""Queries for cards and their current-cycle view."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from store.db import Conn
from store.tenants import AlreadyExists, NotFound


@dataclass(frozen=True)
class CardView:
    """A card as the API shows it: configuration, current cycle and state."""

    iccid: str
    enterprise_id: str
    operator: str
    pool_id: str | None
    package_bytes: int | None
    cycle: str
    cycle_usage_bytes: int
    desired_status: str
    stop_reasons: list[str]
    network_status: str


# The current cycle is the calendar month of "now" in the enterprise's time zone.
_VIEW = """
SELECT c.iccid, c.enterprise_id, c.operator, c.pool_id, c.package_bytes,
       to_char(now() AT TIME ZONE e.timezone, 'YYYY-MM'),
       coalesce(u.bytes, 0), c.desired_status, c.stop_reasons, c.network_status
FROM cards c
JOIN enterprises e ON e.enterprise_id = c.enterprise_id
LEFT JOIN card_cycle_usage u
       ON u.iccid = c.iccid
      AND u.cycle = date_trunc('month', now() AT TIME ZONE e.timezone)::date
WHERE c.iccid = %s
"""


async def create_card(
    conn: Conn, iccid: str, enterprise_id: str, operator: str, package_bytes: int | None
) -> CardView:
    try:
        await conn.execute(
            "INSERT INTO cards (iccid, enterprise_id, operator, package_bytes)"
            " VALUES (%s, %s, %s, %s)",
            (iccid, enterprise_id, operator, package_bytes),
        )
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(iccid) from None
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound(enterprise_id) from None
    return await get_card(conn, iccid)


async def get_card(conn: Conn, iccid: str) -> CardView:
    cur = await conn.execute(_VIEW, (iccid,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(iccid)
    return CardView(*row)
