"""A person's 站内信 (X-04, I-20): the reminders the engine recorded for them in
`dl_notifications` on the in-app channel, unread first, and marking one read. Someone else's
reminder does not exist for the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row, tuple_row

from store.db import Conn
from store.errors import NotFound


@dataclass(frozen=True)
class Notification:
    notification_id: int
    project_id: str
    order_no: str
    run_id: int | None
    trigger: str
    template_name: str
    body_zh: str
    body_en: str
    created_at: datetime
    read_at: datetime | None


_MINE = """
SELECT n.notification_id, n.project_id, p.order_no, n.run_id, n.trigger, n.template_name,
       n.body_zh, n.body_en, n.created_at, n.read_at
FROM dl_notifications n JOIN dl_projects p USING (project_id)
WHERE n.user_id = %(user)s AND n.channel = 'inbox' AND (NOT %(unread)s OR n.read_at IS NULL)
ORDER BY n.read_at IS NOT NULL, n.notification_id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""
_UNREAD = """
SELECT count(*) FROM dl_notifications
WHERE user_id = %s AND channel = 'inbox' AND read_at IS NULL
"""
_READ = """
UPDATE dl_notifications SET read_at = coalesce(read_at, cp_now())
WHERE notification_id = %s AND user_id = %s AND channel = 'inbox'
RETURNING notification_id
"""
_READ_ALL = """
UPDATE dl_notifications SET read_at = cp_now()
WHERE user_id = %s AND channel = 'inbox' AND read_at IS NULL
"""


async def mine(conn: Conn, user_id: str, *, unread_only: bool = False, limit: int = 50,
               offset: int = 0) -> list[Notification]:
    """The user's in-app reminders: unread first, newest first within each."""
    async with conn.cursor(row_factory=class_row(Notification)) as cur:
        await cur.execute(_MINE, {"user": user_id, "unread": unread_only, "limit": limit,
                                  "offset": offset})
        return await cur.fetchall()


async def unread(conn: Conn, user_id: str) -> int:
    """How many of the user's in-app reminders are unread (the nav's badge)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_UNREAD, (user_id,))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def mark_read(conn: Conn, user_id: str, notification_id: int) -> None:
    """Mark one of the user's reminders read (again: unchanged); another's is not found."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_READ, (notification_id, user_id))
        if await cur.fetchone() is None:
            raise NotFound(f"notification {notification_id}")


async def mark_all_read(conn: Conn, user_id: str) -> int:
    """Mark every unread reminder of the user read; returns how many."""
    async with conn.cursor() as cur:
        await cur.execute(_READ_ALL, (user_id,))
        return cur.rowcount
