"""Card orders through the delivery workflow (I-63): a paid card purchase of a package whose
product is bound to a template becomes a project; the ship node records the ICCIDs and the
logistics no. and ships the order (cards registered under the buyer); the activate node asks
the controls to open exactly those cards and completes by 系统 once the status feed reports
every one active, or by its operator with the failures; the customer's confirmation completes
the project; every step is an event on the delivery topic, sent through the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer
from psycopg.types.json import Jsonb

from core.settings import Settings
from store.db import Conn, Reconnecting
from store.delivery import events
from streams.events import BusinessEvent, decode_business
from streams.outbox import relay_due
from streams.publish import Publisher

pytestmark = pytest.mark.integration


class Rollback(Exception):
    pass


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        yield made


async def delivered(settings: Settings, count: int) -> list[tuple[bytes | None, BusinessEvent]]:
    """Relay the outbox, then read `count` events from the delivery topic."""
    publisher, db = Publisher(settings), Reconnecting(settings.require_database())
    await publisher.start()
    try:
        while await relay_due(db, publisher):
            pass
    finally:
        await publisher.stop()
        await db.close()
    consumer = AIOKafkaConsumer(settings.delivery_topic,
                                bootstrap_servers=settings.require_kafka(),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    got: list[tuple[bytes | None, BusinessEvent]] = []
    try:
        while len(got) < count:
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"only {len(got)} of {count} events arrived"
            got += [(m.key, decode_business(m.value)) for ms in batches.values() for m in ms
                    if m.value]
    finally:
        await consumer.stop()
    return got


async def bare_project(conn: Conn, project_id: str) -> None:
    """A project row with nothing behind it (the event test needs only the row)."""
    nodes = Jsonb([{"key": "assign_provider", "kind": "assign_provider", "name": "分配服务商"}])
    await conn.execute("INSERT INTO dl_templates (template_id, name, status, nodes, "
                       "published_at) VALUES ('t0', 'T', 'published', %s, now()) "
                       "ON CONFLICT DO NOTHING", (nodes,))
    await conn.execute("INSERT INTO dl_products (product_id, product_no, vendor_id, name, "
                       "template_id) VALUES ('p0', 'P0', 'platform', 'P', 't0') "
                       "ON CONFLICT DO NOTHING")
    await conn.execute("INSERT INTO dl_projects (project_id, order_no, product_id, template_id, "
                       "nodes, vendor_id, provider_id, customer_name) VALUES "
                       "(%s, %s, 'p0', 't0', %s, 'platform', 'platform', '客户')",
                       (project_id, f"O-{project_id}", nodes))


@pytest.mark.req("I-63")
async def test_delivery_events_are_sent_on_the_delivery_topic_only_when_their_change_commits(
        settings: Settings, conn: Conn) -> None:
    await bare_project(conn, "j1")
    events.install(None)
    await events.publish_event(conn, "j1", "project_started", {})  # not installed: none
    events.install(settings.delivery_topic)
    async with conn.transaction():
        await events.publish_event(conn, "j1", "project_started", {"actor": "系统"})
    with pytest.raises(Rollback):
        async with conn.transaction():
            await events.publish_event(conn, "j1", "node_entered", {"node_key": "x"})
            raise Rollback
    await events.publish_event(conn, "j1", "node_entered", {"node_key": "assign_provider",
                                                            "run_id": 1})
    with pytest.raises(ValueError, match="unknown"):
        await events.publish_event(conn, "j1", "node_danced", {})
    got = await delivered(settings, 2)
    assert [(key, e.kind) for key, e in got] == [(b"j1", "project_started"),
                                                  (b"j1", "node_entered")]
    first, second = got[0][1].data, got[1][1].data
    assert {k: first[k] for k in ("project_id", "event", "order_no", "product_id",
                                  "provider_id", "status", "epoch", "actor")} == {
        "project_id": "j1", "event": "project_started", "order_no": "O-j1",
        "product_id": "p0", "provider_id": "platform", "status": "in_progress", "epoch": 1,
        "actor": "系统"}
    assert (second["node_key"], second["run_id"]) == ("assign_provider", 1)
