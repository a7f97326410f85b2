"""The outbox: an event exists exactly when the change it announces commits, is sent to its
topic keyed by its subject, is sent again after a failed send, and a repeat is kept once."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer

from core.settings import Settings
from store import outbox
from store.db import Reconnecting
from store.outbox import NewEvent
from streams.events import decode_business
from streams.outbox import relay_due
from streams.publish import Publisher
from tests.support.ledger import connect
from tests.support.services import WorkerProcess

pytestmark = pytest.mark.integration


class Rollback(Exception):
    pass


async def _consume(settings: Settings, count: int) -> list[tuple[bytes | None, bytes]]:
    consumer = AIOKafkaConsumer(settings.orders_topic, bootstrap_servers=settings.require_kafka(),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    got: list[tuple[bytes | None, bytes]] = []
    try:
        while len(got) < count:
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"only {len(got)} of {count} events arrived"
            got += [(m.key, m.value) for ms in batches.values() for m in ms if m.value]
    finally:
        await consumer.stop()
    return got


async def test_events_of_committed_changes_are_sent_once_and_of_rolled_back_ones_never(
        settings: Settings) -> None:
    topic = settings.orders_topic
    async with connect(settings.require_database()) as conn:
        await outbox.enqueue(conn, NewEvent("o1:paid", topic, "o1", "order_paid", {"fen": 9000}))
        await outbox.enqueue(conn, NewEvent("o1:paid", topic, "o1", "order_paid", {"fen": 9000}))
        with pytest.raises(Rollback):
            async with conn.transaction():
                await outbox.enqueue(conn, NewEvent("o2:paid", topic, "o2", "order_paid", {}))
                raise Rollback
        await outbox.enqueue(conn, NewEvent("o1:done", topic, "o1", "order_completed", {}))
        assert await outbox.backlog(conn) == 2
    publisher, db = Publisher(settings), Reconnecting(settings.require_database())
    with pytest.raises(RuntimeError, match="start"):
        await relay_due(db, publisher)  # a send that fails leaves the events waiting
    await publisher.start()
    try:
        assert await relay_due(db, publisher) == 2
        assert await relay_due(db, publisher) == 0
    finally:
        await publisher.stop()
        await db.close()
    events = [(key, decode_business(value)) for key, value in await _consume(settings, 2)]
    assert [(key, e.event_id, e.kind) for key, e in events] == [
        (b"o1", "o1:paid", "order_paid"), (b"o1", "o1:done", "order_completed")]
    assert events[0][1].data == {"fen": 9000}


async def test_the_worker_relays_what_is_enqueued(settings: Settings,
                                                  running_worker: WorkerProcess) -> None:
    async with connect(settings.require_database()) as conn:
        await outbox.enqueue(conn, NewEvent("c1:recharged", settings.orders_topic, "8986001",
                                            "card_recharged", {"fen": 10000}))
    ((key, value),) = await _consume(settings, 1)
    assert key == b"8986001" and decode_business(value).kind == "card_recharged"
