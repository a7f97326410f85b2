"""The outbox relay: sends the business events the store enqueued (store/outbox.py) to their
topics, oldest first, and marks them sent in the same transaction that leased them. A failed
send rolls the lease back, so the events go at the next run: at least once, in order per key,
deduplicated by consumers on `event_id`."""

from __future__ import annotations

from store import outbox
from store.db import Conn, Reconnecting
from streams.events import BusinessEvent, encode
from streams.publish import Publisher

BATCH = 500


async def _relay(conn: Conn, publisher: Publisher, limit: int) -> int:
    async with conn.transaction():
        due = await outbox.lease(conn, limit)
        by_topic: dict[str, list[tuple[str, bytes]]] = {}
        for event in due:
            message = BusinessEvent(event.event_id, event.kind, event.key,
                                    event.created_at.isoformat(), event.data)
            by_topic.setdefault(event.topic, []).append((event.key, encode(message)))
        for topic, messages in by_topic.items():
            await publisher.publish_keyed(topic, messages)
        await outbox.mark_published(conn, [event.event_id for event in due])
    return len(due)


async def relay_due(db: Reconnecting, publisher: Publisher, limit: int = BATCH) -> int:
    """Send one batch of waiting events; returns how many were sent."""
    return await db.run(lambda conn: _relay(conn, publisher, limit))
