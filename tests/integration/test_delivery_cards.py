"""Card orders through the delivery workflow (I-63): a paid card purchase of a package whose
product is bound to a template becomes a project; the ship node records the ICCIDs and the
logistics no. and ships the order (cards registered under the buyer); the activate node asks
the controls to open exactly those cards and completes by 系统 once the status feed reports
every one active, or by its operator with the failures; the customer's confirmation completes
the project; every step is an event on the delivery topic, sent through the outbox."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer
from psycopg.types.json import Jsonb

from controls.reconciler import OperatorLane, Policy, Reconciler
from core.settings import Settings
from domain.control.results import Result
from domain.delivery.machines import Actor
from domain.refusals import Refusal
from domain.usage.partitioning import partition_for
from store import card_purchases
from store.agents import Actor as AuditActor
from store.card_events import set_product
from store.cards import NewCard, create_card, get_card
from store.controls import StatusReport, observe
from store.db import Conn, Reconnecting
from store.delivery import card_orders, events, project_rows, projects, timeouts
from store.enterprises import create_enterprise
from store.orders import SYSTEM as ORDER_SYSTEM
from store.orders import NewOrder, Order, get_order
from store.packages import create_package
from streams.events import BusinessEvent, decode_business
from streams.outbox import relay_due
from streams.publish import Publisher
from tests.support import delivery as dl
from tests.support.operator import ScriptedOperator

pytestmark = pytest.mark.integration


STOCK = [f"8986001230000009{n:04d}" for n in range(4)]
OTHER = "89860012300000099999"  # a stock card of package sim2
PRICE = 1500
SHIP: dict[str, Any] = {"key": "ship", "kind": "general", "name": "发货", "role": "服务商管理员",
                        "effect": "ship_cards"}
ACTIVATE: dict[str, Any] = {"key": "open", "kind": "general", "name": "激活",
                            "role": "服务商管理员", "effect": "activate_cards"}
RECEIPT: dict[str, Any] = {"name": "确认收货", "rejectable": False}
POLICY = Policy(max_attempts=3, card_cooldown_s=0, backoff_base_s=0.01, backoff_cap_s=0.02,
                scan_s=0.05, scan_limit=100, confirm_first_s=60.0)


class Rollback(Exception):
    pass


@dataclass
class World:
    conn: Conn
    settings: Settings
    rng: random.Random
    ops: Actor  # the platform's own delivery admin (provider admin of the platform tenant)
    buyer: Actor  # the enterprise admin who bought the cards
    product_id: str

    async def buy(self, quantity: int, package_id: str = "sim1") -> Order:
        """A card purchase of the buyer's enterprise, paid online (→ `paid`)."""
        made, _ = await card_purchases.create_card_purchase(
            self.conn, NewOrder(f"C{random.getrandbits(40):x}", "card_purchase",
                                AuditActor("user:boss", "enterprise_admin"), {"q": quantity}),
            product_id=package_id, quantity=quantity, method="online", enterprise_id="buyer",
            agent_id=None, stock="stock", topic=self.settings.orders_topic)
        return await card_purchases.pay(self.conn, made, ORDER_SYSTEM,
                                        self.settings.orders_topic)

    async def project(self, order: Order) -> project_rows.Project:
        found = await project_rows.project_by_order(self.conn, order.order_id)
        assert found is not None, "no project for the order"
        return found

    async def current(self, project_id: str) -> project_rows.Run:
        run = await project_rows.current_run(self.conn, project_id)
        assert run is not None
        return run

    async def confirm(self, project_id: str, who: Actor, detail: dict[str, Any] | None = None
                      ) -> None:
        run = await self.current(project_id)
        await projects.confirm(self.conn, project_id, run.run_id, who, rng=self.rng,
                               detail=detail)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    """Package `sim1` sold as cards (1500 fen each), four unopened stock cards of it (and one
    of `sim2`, whose cards are not delivered through a project), the
    buying enterprise and its admin `boss`, a card-order product of the package bound to a
    published template (ship, activate, the customer's receipt) delivered by the platform."""
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        card_orders.register()  # the hooks, whatever another test left in the registries
        card_orders.install(orders_topic=settings.orders_topic,
                            delivery_topic=settings.delivery_topic, stock="stock",
                            rng=random.Random(3))
        admin = AuditActor("admin", "admin")
        for package_id in ("sim1", "sim2"):
            await create_package(conn, {
                "package_id": package_id, "name": package_id, "business_line": "traffic_card",
                "purchase_price_fen": 1000, "card_price_fen": PRICE}, admin)
        for enterprise in ("stock", "buyer"):
            await create_enterprise(conn, enterprise, enterprise, "Asia/Shanghai")
        for iccid in [*STOCK, OTHER]:
            await create_card(conn, "stock", NewCard(
                iccid, "onelink", None, None, [], partition_for(iccid, settings.usage_partitions),
                opened=False))
            await set_product(conn, iccid, "sim2" if iccid == OTHER else "sim1")
        await conn.execute(
            "INSERT INTO users (user_id, login, password_hash, role, enterprise_id, "
            "must_change_password) VALUES ('u-boss', 'boss', 'x', 'enterprise_admin', 'buyer', "
            "false)")
        ops = await dl.staff(conn, "ops", "platform", ("服务商管理员",), role="vendor_admin")
        template = await dl.template(conn, dl.flow(SHIP, ACTIVATE, complete=RECEIPT))
        product = await dl.product(conn, template, providers=[("platform", 10, 100)])
        await conn.execute("UPDATE dl_products SET kind = 'card_order', package_id = 'sim1' "
                           "WHERE product_id = %s", (product,))
        try:
            yield World(conn, settings, random.Random(5), Actor(ops, "ops"),
                        Actor("u-boss", "boss"), product)
        finally:
            events.install(None)


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


async def refused(code: str, action: Any) -> None:
    with pytest.raises(Refusal) as caught:
        await action
    assert caught.value.code == code


@pytest.mark.req("I-63")
async def test_a_card_order_is_shipped_activated_and_received_through_its_project(
        world: World) -> None:
    conn = world.conn
    order = await world.buy(2)
    project = await world.project(order)
    assert (project.order_id, project.customer_user_id, project.customer_name,
            project.provider_id, project.status) == (
        order.order_id, "u-boss", "boss", "platform", "in_progress")
    ship = await world.current(project.project_id)
    assert (ship.node_key, ship.state) == ("ship", "active")

    # the ship node: the ICCIDs must be stock cards of the product, with a logistics no.
    await refused("logistics_no_required", world.confirm(project.project_id, world.ops,
                                                         {"iccids": STOCK[1:3]}))
    await refused("iccids_invalid", world.confirm(project.project_id, world.ops,
                                                  {"iccids": STOCK[1:2], "logistics_no": "S"}))
    await refused("iccids_not_in_stock", world.confirm(
        project.project_id, world.ops, {"iccids": [STOCK[1], "89860012399999999999"],
                                        "logistics_no": "SF1"}))
    await world.confirm(project.project_id, world.ops,
                        {"iccids": [STOCK[2], STOCK[1]], "logistics_no": "SF1001"})
    shipped = await get_order(conn, order.order_id)
    assert (shipped.state, shipped.allocated) == ("completed", STOCK[1:3])
    for iccid in STOCK[1:3]:  # registered under the buyer, opening asked
        card = await get_card(conn, iccid)
        assert (card.enterprise_id, card.stop_reasons) == ("buyer", [])
    assert (await get_card(conn, STOCK[0])).stop_reasons == ["not_opened"]  # left in stock
    record = await card_orders.get(conn, project.project_id)
    assert record is not None
    assert (record.iccids, record.logistics_no) == (STOCK[1:3], "SF1001")
    assert record.shipped_by == world.ops.user_id  # who confirmed, not the node's holder

    # the activate node asked the controls to open exactly the order's cards
    opening = await world.current(project.project_id)
    assert (opening.node_key, record.activation_run_id) == ("open", opening.run_id)
    operator = ScriptedOperator()
    for iccid in STOCK:
        operator.statuses[iccid] = "stopped"
        operator.answer(iccid, Result.SUBMITTED)
    db = Reconnecting(world.settings.require_database())
    rec = Reconciler(db, {"onelink": OperatorLane(operator)}, POLICY,
                     lambda: list(range(world.settings.usage_partitions)), random.Random(1))
    try:
        assert await rec.round("onelink") == 2
    finally:
        await db.close()
    assert sorted(i for call in operator.activations() for i in call) == STOCK[1:3]

    # one card reported active: not yet; both: the node is confirmed by 系统
    await observe(conn, "onelink", [StatusReport(STOCK[1], "active", datetime.now(UTC))])
    assert await card_orders.confirm_activated(conn, rng=world.rng) == 0
    await observe(conn, "onelink", [StatusReport(STOCK[2], "active", datetime.now(UTC))])
    assert await card_orders.confirm_activated(conn, rng=world.rng) == 1
    assert await card_orders.confirm_activated(conn, rng=world.rng) == 0
    done = {r.node_key: r for r in await project_rows.runs(conn, project.project_id)}
    assert (done["open"].state, done["open"].done_by) == ("done", "系统")
    assert done["open"].detail["active"] == STOCK[1:3]

    # the customer's receipt completes the project
    receipt = await world.current(project.project_id)
    assert receipt.node_key == "done"
    await refused("not_operator", world.confirm(project.project_id, world.ops))
    await world.confirm(project.project_id, world.buyer)
    finished = await project_rows.get_project(conn, project.project_id)
    assert finished.status == "completed"
    record = await card_orders.get(conn, project.project_id)
    assert record is not None and record.received_at is not None

    # every step went out on the delivery topic, keyed by the project (refusals sent nothing)
    got = await delivered(world.settings, 10)
    assert {key for key, _ in got} == {project.project_id.encode()}
    assert [(e.kind, e.data.get("node_key")) for _, e in got] == [
        ("project_started", None), ("node_entered", "assign_provider"),
        ("node_completed", "assign_provider"), ("node_entered", "ship"),
        ("node_completed", "ship"), ("node_entered", "open"), ("node_completed", "open"),
        ("node_entered", "done"), ("node_completed", "done"), ("project_completed", None)]
    assert got[6][1].data["actor"] == "系统" and got[-1][1].data["status"] == "completed"


@pytest.mark.req("I-63")
async def test_the_operator_confirms_an_activation_with_the_cards_that_failed(
        world: World) -> None:
    order = await world.buy(2)
    project = await world.project(order)
    await world.confirm(project.project_id, world.ops, {"logistics_no": "EMS-9"})
    shipped = await get_order(world.conn, order.order_id)
    assert shipped.allocated == STOCK[:2]  # none given: the platform allocates from stock
    await observe(world.conn, "onelink", [StatusReport(STOCK[0], "active", datetime.now(UTC))])
    await refused("cards_not_active", world.confirm(project.project_id, world.ops))
    await refused("failures_invalid", world.confirm(project.project_id, world.ops, {
        "failures": [{"iccid": STOCK[3], "reason": "不是本订单的卡"}]}))
    await world.confirm(project.project_id, world.ops, {
        "failures": [{"iccid": STOCK[1], "reason": "运营商拒绝开通"}]})
    record = await card_orders.get(world.conn, project.project_id)
    assert record is not None and record.activated_at is not None
    assert record.failures == [{"iccid": STOCK[1], "reason": "运营商拒绝开通"}]
    receipt = await world.current(project.project_id)
    assert receipt.node_key == "done"

    # the receipt's deadline passes (set directly: the calendar is not this test's subject)
    await world.conn.execute("UPDATE dl_node_runs SET deadline_at = cp_now() - interval '1 s' "
                             "WHERE run_id = %s", (receipt.run_id,))
    assert await timeouts.sweep(world.conn, rng=world.rng) == 1
    got = await delivered(world.settings, 9)
    assert [(e.kind, e.data.get("run_id")) for _, e in got][-1] == (
        "node_timed_out", receipt.run_id)


@pytest.mark.req("I-63", "I-54")
async def test_only_a_delivered_package_starts_a_project_and_a_refund_cancels_it(
        world: World) -> None:
    other = await world.buy(1, "sim2")  # sim2 has no card-order product: no project
    assert await project_rows.project_by_order(world.conn, other.order_id) is None
    template = await dl.template(world.conn, dl.flow(SHIP, complete=RECEIPT))
    later = await dl.product(world.conn, template, providers=[("platform", 10, 100)])
    await refused("not_a_card_order_product",
                  card_orders.link_package(world.conn, later, "sim2"))
    await world.conn.execute("UPDATE dl_products SET kind = 'card_order' WHERE product_id = %s",
                             (later,))
    (started,) = await card_orders.link_package(world.conn, later, "sim2", rng=world.rng)
    assert (await world.project(other)).project_id == started  # linked later: started then
    order = await world.buy(1)
    project = await world.project(order)
    assert await card_orders.start_for_order(world.conn, order) == project.project_id
    await card_purchases.start_refund(world.conn, order, AuditActor("admin", "admin"),
                                      world.settings.orders_topic, "客户取消")
    cancelled = await project_rows.get_project(world.conn, project.project_id)
    assert cancelled.status == "cancelled"
    got = [e for key, e in await delivered(world.settings, 9)
           if key == project.project_id.encode()]  # in order per project (its key)
    assert [e.kind for e in got] == ["project_started", "node_entered", "node_completed",
                                     "node_entered", "project_cancelled"]
    assert got[-1].data["remark"] == "订单退款"


@pytest.mark.req("I-63")
async def test_the_api_links_a_card_order_product_and_shows_a_project_s_card_order(
        world: World, client: httpx.AsyncClient) -> None:
    conn, path = world.conn, f"/v1/delivery/products/{world.product_id}/package"
    other = await world.buy(1, "sim2")
    await dl.tenant(conn, "acme")
    stranger = await dl.staff(conn, "boss2", "acme", ("服务商管理员",), role="vendor_admin")
    worker = await dl.staff(conn, "w", "platform", ("服务商管理员",))
    for user_id, code in ((stranger, 404), (worker, 403)):
        csrf = await dl.log_in(client, conn, user_id)
        answer = await client.put(path, json={"package_id": "sim2"}, headers=csrf)
        assert answer.status_code == code, answer.text
    csrf = await dl.log_in(client, conn, world.ops.user_id or "")
    missing = await client.put(path, json={"package_id": "nope"}, headers=csrf)
    assert missing.status_code == 404, missing.text
    linked = await client.put(path, json={"package_id": "sim2"}, headers=csrf)
    assert linked.status_code == 200, linked.text
    (started,) = linked.json()["started"]
    assert (await world.project(other)).project_id == started

    # the platform completed the purchase outside the flow: the ship node records its cards
    await card_purchases.complete(conn, other, AuditActor("admin", "admin"), "stock",
                                  world.settings.orders_topic)
    run = await world.current(started)  # the operator ships through the engine's API
    shipped = await client.post(f"/v1/delivery/projects/{started}/runs/{run.run_id}/confirm",
                                json={"detail": {"logistics_no": "SF-7"}}, headers=csrf)
    assert shipped.status_code == 200, shipped.text
    seen = await client.get(f"/v1/delivery/projects/{started}/card-order")
    assert seen.status_code == 200, seen.text
    assert {k: seen.json()[k] for k in ("order_id", "iccids", "logistics_no", "failures")} == {
        "order_id": other.order_id, "iccids": [OTHER], "logistics_no": "SF-7", "failures": []}
    await dl.log_in(client, conn, world.buyer.user_id or "")  # the customer sees it
    assert (await client.get(f"/v1/delivery/projects/{started}/card-order")).status_code == 200
    await dl.log_in(client, conn, stranger)  # another tenant does not
    assert (await client.get(f"/v1/delivery/projects/{started}/card-order")).status_code == 404
