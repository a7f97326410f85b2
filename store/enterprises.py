"""Queries for enterprises (the tenants): create, read, change."""

from __future__ import annotations

from dataclasses import dataclass

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


_INSERT = "INSERT INTO enterprises (enterprise_id, name, timezone) VALUES (%s, %s, %s)"
_GET = "SELECT enterprise_id, name, timezone, webhook_url FROM enterprises WHERE enterprise_id = %s"


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
