"""Queries for enterprises (the tenants): create, read, change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from store.db import KEEP, Conn, Keep, set_fields
from store.errors import AlreadyExists, NotFound


@dataclass(frozen=True)
class Enterprise:
    enterprise_id: str
    name: str
    timezone: str
    webhook_url: str | None = None


@dataclass(frozen=True)
class EnterpriseSummary:
    """An enterprise as the platform's list shows it, with how many cards and pools it has."""

    enterprise_id: str
    name: str
    timezone: str
    created_at: datetime
    cards: int
    pools: int


_INSERT = "INSERT INTO enterprises (enterprise_id, name, timezone) VALUES (%s, %s, %s)"
_GET = "SELECT enterprise_id, name, timezone, webhook_url FROM enterprises WHERE enterprise_id = %s"

# One index count per enterprise (cards_enterprise, pools_enterprise), not a scan of the fleet.
_SUMMARIES = """
SELECT e.enterprise_id, e.name, e.timezone, e.created_at,
       (SELECT count(*) FROM cards c WHERE c.enterprise_id = e.enterprise_id) AS cards,
       (SELECT count(*) FROM pools p WHERE p.enterprise_id = e.enterprise_id) AS pools
FROM enterprises e ORDER BY e.enterprise_id
"""
_SIGNED = "SELECT webhook_secret IS NOT NULL FROM enterprises WHERE enterprise_id = %s"


async def create_enterprise(conn: Conn, enterprise_id: str, name: str, timezone: str
                            ) -> Enterprise:
    try:
        await conn.execute(_INSERT, (enterprise_id, name, timezone))
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(f"enterprise {enterprise_id!r}") from None
    return Enterprise(enterprise_id, name, timezone)


async def get_enterprise(conn: Conn, enterprise_id: str) -> Enterprise:
    async with conn.cursor(row_factory=class_row(Enterprise)) as cur:
        await cur.execute(_GET, (enterprise_id,))
        found = await cur.fetchone()
    if found is None:
        raise NotFound(f"enterprise {enterprise_id!r}")
    return found


async def update_enterprise(
    conn: Conn, enterprise_id: str, *, name: str | Keep = KEEP, timezone: str | Keep = KEEP,
    webhook_url: str | None | Keep = KEEP, webhook_secret: str | None | Keep = KEEP,
) -> Enterprise:
    """Change the given fields; the others keep their values."""
    async with conn.transaction():
        await get_enterprise(conn, enterprise_id)
        changes: dict[str, object] = {"name": name, "timezone": timezone,
                                      "webhook_url": webhook_url,
                                      "webhook_secret": webhook_secret}
        await set_fields(conn, "enterprises", "enterprise_id", enterprise_id, changes)
        return await get_enterprise(conn, enterprise_id)


async def list_enterprises(conn: Conn) -> list[EnterpriseSummary]:
    """Every enterprise with its card and pool counts, by id."""
    async with conn.cursor(row_factory=class_row(EnterpriseSummary)) as cur:
        await cur.execute(_SUMMARIES)
        return await cur.fetchall()


async def has_webhook_secret(conn: Conn, enterprise_id: str) -> bool:
    """Whether the enterprise's webhook calls are signed (the secret itself is never read)."""
    row = await (await conn.execute(_SIGNED, (enterprise_id,))).fetchone()
    if row is None:
        raise NotFound(f"enterprise {enterprise_id!r}")
    return bool(row[0])
