"""The outbox of business events: `enqueue` inside the transaction that makes a change, so the
event exists exactly when the change does; `lease` and `mark_published` for the relay, which
sends leased events and marks them in one transaction (rows locked with SKIP LOCKED, so two
relays never send the same batch at once). Repeats of an event id are ignored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from store.db import Conn


@dataclass(frozen=True)
class NewEvent:
    """An event to announce: its id (the consumers' dedupe key), topic, key and content."""

    event_id: str
    topic: str
    key: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pending:
    event_id: str
    topic: str
    key: str
    kind: str
    data: dict[str, Any]
    created_at: datetime


_ENQUEUE = """
INSERT INTO outbox_events (event_id, topic, key, kind, data) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING
"""
_LEASE = """
SELECT event_id, topic, key, kind, data, created_at FROM outbox_events
WHERE published_at IS NULL ORDER BY enqueued_seq LIMIT %s FOR UPDATE SKIP LOCKED
"""
_MARK = "UPDATE outbox_events SET published_at = cp_now() WHERE event_id = ANY(%s)"
_BACKLOG = "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"


async def enqueue(conn: Conn, *events: NewEvent) -> None:
    """Add events (call in the transaction of the change they announce)."""
    async with conn.cursor() as cur:
        await cur.executemany(_ENQUEUE, [(e.event_id, e.topic, e.key, e.kind, Jsonb(e.data))
                                         for e in events])


async def lease(conn: Conn, limit: int) -> list[Pending]:
    """The oldest unsent events, locked until the caller's transaction ends."""
    async with conn.cursor(row_factory=class_row(Pending)) as cur:
        await cur.execute(_LEASE, (limit,))
        return await cur.fetchall()


async def mark_published(conn: Conn, event_ids: Sequence[str]) -> None:
    await conn.execute(_MARK, (list(event_ids),))


async def backlog(conn: Conn) -> int:
    """How many events wait to be sent."""
    row = await (await conn.execute(_BACKLOG)).fetchone()
    return int(row[0]) if row else 0
