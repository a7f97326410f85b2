"""The per-card facts of the commission engine read from real orders, recharges, refunds and
operator card events (store/commission_facts.py): recharges credited and refunded, operator
recharge notifications once per event, completed package orders with the seller's cost, the
earliest real-name instant, the card's attribution to the agent of its first completed
package order; activation counts (H-26/H-27), the frozen monthly snapshots (H-30), the
advisory in-network / 三无 verdicts (H-21), pickup volume (H-29)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from core.clock import now
from core.settings import Settings
from domain.commission import facts as f
from domain.commission.months import month_bounds, month_of
from domain.usage.partitioning import partition_for
from domain.usage.records import UsageRecord
from store import commission_facts as cf
from store.audit import history
from store.card_events import CardEvent, receive
from store.cards import NewCard, create_card
from store.controls import StatusReport, observe
from store.db import Conn
from store.enterprises import create_enterprise
from store.errors import NotFound
from store.usage import OperatorRecords, account
from tests.support.api import ADMIN
from tests.support.dates import mid_cycle, move_clock, store_clock
from tests.support.orders import CARD, CARD_2, Shop, order, recharge, shop, spec_world
from tests.support.pricing import agent, ok, package
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration
TOPIC = "orders"


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                         autocommit=True) as conn:
            await create_enterprise(conn, "e", "E", "Asia/Shanghai")
            for iccid in (CARD, CARD_2):
                await register(conn, settings, iccid)
        yield made


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        yield made


async def register(conn: Conn, settings: Settings, iccid: str) -> None:
    await create_card(conn, "e", NewCard(iccid, "onelink", None, None, [],
                                         partition_for(iccid, settings.usage_partitions)))


async def completed(world: Shop, client: Any, method: str, iccid: str = CARD) -> dict[str, Any]:
    made = await order(client, method, iccid)
    return dict(await ok(world.market.admin.post(f"/v1/orders/{made['order_id']}/complete")))


async def card_event(conn: Conn, event_id: str, iccid: str, kind: Any, at: datetime,
                     amount: int | None = None) -> None:
    await receive(conn, "onelink", [CardEvent(event_id, iccid, kind, at, amount)], TOPIC)


async def status(conn: Conn, iccid: str, to: Any) -> None:
    await observe(conn, "onelink", [StatusReport(iccid, to, now())])


async def _agent_order(world: Shop, iccid: str) -> str:
    a = world.who("a.admin")
    await recharge(world, a, "agent", 6000)
    made = await completed(world, a, "agent_wallet", iccid)
    return str(made["order_id"])


@pytest.mark.req("H-12", "H-41", "H-29", "G2-19")
async def test_facts_come_from_real_orders_recharges_refunds_and_card_events(
        world: Shop, conn: Conn) -> None:
    """CARD: prestore 10000 and buy p90 from the card's wallet through A1 (cost 7000); a second
    recharge of 5000 refunded; an operator recharge notification of 3000 pushed twice; real
    name verified by two events (the earliest kept)."""
    buyer = world.who("buyer1")
    first = await recharge(world, buyer, "card", 10000, CARD)
    bought = await completed(world, buyer, "wallet")
    second = await recharge(world, buyer, "card", 5000, CARD)
    await ok(world.who("operator").post(
        f"/v1/wallets/recharges/{second['order_id']}/refund", json={"reason": "退款"}))
    t0 = now()
    await card_event(conn, "rc-1", CARD, "recharged", t0 + timedelta(seconds=5), 3000)
    await card_event(conn, "rc-1", CARD, "recharged", t0 + timedelta(seconds=5), 3000)
    await card_event(conn, "rn-2", CARD, "real_name_verified", t0 + timedelta(minutes=2))
    await card_event(conn, "rn-1", CARD, "real_name_verified", t0 + timedelta(minutes=1))
    assert await cf.attribute_from_order(conn, bought["order_id"]) is not None

    found = (await cf.card_facts(conn, [CARD, CARD_2, "unknown"]))
    assert set(found) == {CARD, CARD_2}
    card = found[CARD]
    assert [(r.ref, r.amount_fen, r.refunded, r.source) for r in card.recharges] == [
        (first["order_id"], 10000, False, "order"), (second["order_id"], 5000, True, "order"),
        ("onelink:rc-1", 3000, False, "operator")]
    [package] = card.package_orders
    assert (package.order_id, package.agent_id, package.package_id, package.business_line,
            package.quantity, package.units_refunded, package.state, package.cost_fen,
            package.retail_fen) == (bought["order_id"], "A1", "p90", "traffic_card", 1, 0,
                                    "completed", 7000, 9000)
    assert card.real_name_at == t0 + timedelta(minutes=1)
    assert card.real_name_ref == "onelink:rn-1"
    assert card.attributed_agent == "A1"
    assert f.first_recharge(card) == card.recharges[0]
    assert f.cumulative_recharge(card) == 13000
    assert f.package_count(card) == 1
    assert f.nth_package(card, bought["order_id"]) == 1
    empty = found[CARD_2]
    assert (empty.recharges, empty.package_orders, empty.real_name_at,
            empty.attributed_agent) == ((), (), None, None)

    # refunded in full: the order no longer counts (G2-19), its completion stays
    await ok(world.market.admin.post(f"/v1/orders/{bought['order_id']}/refund",
                                     json={"reason": "用户退订"}))
    card = (await cf.card_facts(conn, [CARD]))[CARD]
    [package] = card.package_orders
    assert (package.state, package.units_refunded, package.completed_at) == (
        "refunded", 1, found[CARD].package_orders[0].completed_at)
    assert f.package_count(card) == 0 and f.nth_package(card, bought["order_id"]) is None


@pytest.mark.req("H-29", "H-41", "C-08")
async def test_the_first_order_attributes_the_card_and_only_the_platform_overrides(
        world: Shop, conn: Conn) -> None:
    first = await _agent_order(world, CARD)
    a1 = world.who("a1.admin")
    await recharge(world, a1, "agent", 7000)
    second = await completed(world, a1, "agent_wallet")
    by_a1 = await cf.attribute_from_order(conn, second["order_id"])
    assert by_a1 is not None and by_a1.agent_id == "A1"
    made = await cf.attribute_from_order(conn, first)  # the first order's attribution wins
    assert made is not None and (made.agent_id, made.source) == ("A1", "order")
    assert await cf.attribute(conn, CARD, "B", "promotion", "pl_x") == made
    assert await cf.attribute_from_order(conn, "no-such-order") is None

    ops = world.market.admin
    refused = await ok(world.who("a.admin").put(f"/v1/cards/{CARD}/attribution",
                                                json={"agent_id": "A"}), 403)
    assert refused
    both = await ok(ops.put(f"/v1/cards/{CARD}/attribution",
                            json={"agent_id": "A", "promotion_code": "x"}), 422)
    assert both["detail"]
    moved = await ok(world.who("operator").put(f"/v1/cards/{CARD}/attribution",
                                               json={"agent_id": "B"}))
    assert (moved["agent_id"], moved["source"]) == ("B", "platform")
    assert (await cf.card_facts(conn, [CARD]))[CARD].attributed_agent == "B"
    unknown = await ok(ops.put(f"/v1/cards/{CARD}/attribution",
                               json={"promotion_code": "pl_nope"}), 422)
    assert unknown["detail"][0]["code"] == "promotion_link_inactive"
    assert unknown["detail"][0]["message_zh"] == "推广链接不存在或已失效"
    await ok(ops.put("/v1/cards/89860000000000000000/attribution", json={"agent_id": "A"}),
             404)
    await ok(ops.put(f"/v1/cards/{CARD}/attribution", json={"agent_id": "nobody"}), 404)
    trail = [(e.from_state, e.to_state, e.data["source"])
             for e in await history(conn, "card_attribution", CARD)]
    assert trail == [(None, "A1", "order"), ("A1", "B", "platform")]


@pytest.mark.req("H-41")
async def test_real_name_keeps_the_earliest_verification_and_an_import_may_say_no(
        world: Shop, conn: Conn) -> None:
    t0 = now()
    assert await cf.record_real_name(conn, CARD, False, t0, "import", "imp-1:2")
    assert (await cf.card_facts(conn, [CARD]))[CARD].real_name_at is None
    await card_event(conn, "rn-late", CARD, "real_name_verified", t0 + timedelta(hours=2))
    assert await cf.record_real_name(conn, CARD, True, t0 + timedelta(hours=1), "import",
                                     "imp-2:5")
    assert not await cf.record_real_name(conn, CARD, True, t0 + timedelta(hours=3), "import",
                                         "imp-3:1")
    assert not await cf.record_real_name(conn, CARD, False, t0 + timedelta(hours=4),
                                         "import", "imp-4:1")  # a verification stays
    card = (await cf.card_facts(conn, [CARD]))[CARD]
    assert (card.real_name_at, card.real_name_ref) == (t0 + timedelta(hours=1), "imp-2:5")
    with pytest.raises(NotFound):
        await cf.record_real_name(conn, "89860000000000000000", True, t0, "import", "x")


@pytest.mark.req("H-26", "H-27", "H-29", "H-30", "C-04", "C-09")
async def test_monthly_snapshots_are_fixed_and_a_card_may_count_in_two_months(
        world: Shop, conn: Conn, settings: Settings) -> None:
    db_url = settings.require_database()
    first, second = await _agent_order(world, CARD), await _agent_order(world, CARD_2)
    for done in (first, second):
        await cf.attribute_from_order(conn, done)
    start = mid_cycle(datetime.now(UTC) + timedelta(days=40))  # a month ahead, mid-month
    await store_clock(db_url, start)
    m1 = month_of(start)
    _, end1 = month_bounds(m1)
    m2 = month_of(end1)
    _, end2 = month_bounds(m2)

    await card_event(conn, "rn-1", CARD, "real_name_verified", now())
    await status(conn, CARD, "active")
    await status(conn, CARD_2, "active")  # not real-name verified yet: no activation
    assert await cf.activation_count(conn, "A") == 1
    assert await cf.activation_count(conn, "A1") == 0  # downstream cards are not A's (H-29)
    # the card has no recharge: under a recharge condition it is no activation
    assert await cf.activation_count(conn, "A", _Cond("first", 1)) == 0

    await store_clock(db_url, end1 - timedelta(seconds=1))
    await cf.take_due_snapshot(conn)  # the month before m1, whatever it holds
    assert await cf.snapshots(conn, None, m1, m1) == []
    await store_clock(db_url, end1 + timedelta(seconds=1))
    assert await cf.take_due_snapshot(conn) == 3  # A, A1, B
    assert await cf.take_due_snapshot(conn) == 0  # once

    await status(conn, CARD, "stopped")  # the cards change: the snapshot does not
    await card_event(conn, "rn-2", CARD_2, "real_name_verified", now())
    assert await cf.activation_count(conn, "A") == 1
    assert await cf.take_snapshots(conn, m1) == 0
    await store_clock(db_url, end2 - timedelta(hours=1))
    await status(conn, CARD, "active")
    assert await cf.activation_count(conn, "A") == 2
    await store_clock(db_url, end2 + timedelta(seconds=30))
    assert await cf.take_due_snapshot(conn) == 3
    got = {(s.agent_id, s.month): (s.activations, s.taken_at)
           for s in await cf.snapshots(conn, None, m1, m2)}
    assert got[("A", m1)] == (1, end1) and got[("A", m2)] == (2, end2)  # CARD in both
    assert got[("A1", m1)] == (0, end1) and got[("B", m2)] == (0, end2)

    m3 = month_of(end2)
    people = world.market  # sessions made before the clock moved have ended
    for name, role, of in (("a.viewer.2", "agent_viewer", "A"), ("b.admin.2", "agent_admin", "B"),
                           ("buyer.2", "end_user", "A"), ("finance.2", "platform_finance", None)):
        await people.person(name, role, agent=of)
    mine = await ok(world.who("a.viewer.2").get("/v1/reports/activations",
                                              params={"from": m1, "to": m3}))
    assert mine["note"] == {"message_zh": "同一张卡可能计入多个月份的激活量",
                            "message_en": "The same card may count in several months"}
    [a] = mine["agents"]
    assert a["agent_id"] == "A"
    assert [(m["month"], m["activations"], m["live"]) for m in a["months"]] == [
        (m1, 1, False), (m2, 2, False), (m3, 2, True)]
    await ok(world.who("b.admin.2").get("/v1/reports/activations",
                                      params={"agent_id": "A", "from": m1}), 404)
    await ok(world.who("buyer.2").get("/v1/reports/activations"), 403)
    everyone = await ok(world.who("finance.2").get("/v1/reports/activations",
                                                 params={"from": m1, "to": m2}))
    assert {x["agent_id"]: [m["activations"] for m in x["months"]]
            for x in everyone["agents"]} == {"A": [1, 2], "A1": [0, 0], "B": [0, 0]}
    bad = await ok(world.market.admin.get("/v1/reports/activations",
                                          params={"from": m2, "to": m1}), 422)
    assert bad["detail"][0]["code"] == "invalid_month_range"
    for months in ({"from": "0000-01"}, {"from": "2000-01", "to": "2099-12"}):
        bad = await ok(world.market.admin.get("/v1/reports/activations", params=months), 422)
        assert bad["detail"][0]["code"] == "invalid_month_range"


class _Cond:
    def __init__(self, mode: f.RechargeMode, threshold_fen: int) -> None:
        self.mode, self.threshold_fen = mode, threshold_fen


@pytest.mark.req("H-21")
async def test_advisory_verdicts_from_network_status_and_the_cycles_usage(
        conn: Conn, settings: Settings) -> None:
    await create_enterprise(conn, "e", "E", "Asia/Shanghai")
    busy, idle, stopped = "89860000000000000101", "89860000000000000102", "89860000000000000103"
    for iccid in (busy, idle, stopped):
        await register(conn, settings, iccid)
    mid = mid_cycle(datetime.now(UTC))
    end_ms = int(mid.timestamp() * 1000)
    records = [UsageRecord("u-1", busy, 1024, end_ms - 60_000, end_ms),
               UsageRecord("u-2", idle, 0, end_ms - 60_000, end_ms),
               UsageRecord("u-3", stopped, 10, end_ms - 60_000, end_ms)]
    await account(conn, [OperatorRecords("onelink", int(time.time() * 1000), records)])
    for iccid in (busy, idle):
        await status(conn, iccid, "active")
    await status(conn, stopped, "stopped")
    cycle = month_of(mid)
    assert await cf.advisory_verdicts(conn, [busy, idle, stopped, "nope"], cycle) == {
        busy: ("正常", "否"), idle: ("正常", "是"), stopped: ("非正常", "否")}
    later = month_of(mid + timedelta(days=31))  # no usage at all in that cycle
    assert await cf.advisory_verdicts(conn, [busy], later) == {busy: ("正常", "是")}
    assert await cf.advisory_verdicts(conn, [busy], mid.date()) == {busy: ("正常", "否")}


@pytest.mark.req("H-29")
async def test_pickup_volume_counts_the_cards_delivered_to_the_agents_card_orders(
        settings: Settings, conn: Conn) -> None:
    """Two end users of A buy one card each online: one is delivered, the other refunded
    before delivery; B bought none."""
    stock = [f"8986001230000002{n:04d}" for n in range(3)]
    async with shop(settings) as world:
        admin = world.market.admin
        await package(admin, "sim1", card_price_fen=1500)
        await ok(admin.post("/v1/enterprises", json={"enterprise_id": "stock",
                                                     "name": "stock"}), 201)
        for iccid in stock:
            await ok(admin.post("/v1/cards", json={"iccid": iccid, "enterprise_id": "stock",
                                                   "operator": "onelink", "opened": False}),
                     201)
            await ok(admin.put(f"/v1/cards/{iccid}/product", json={"product_id": "sim1"}))
        await agent(admin, "A")
        await agent(admin, "B")
        bought = []
        for name in ("wang", "zhao"):
            buyer = await world.market.person(name, "end_user", agent="A")
            made = await ok(buyer.post("/v1/card-purchases", json={
                "product_id": "sim1", "quantity": 1, "method": "online"}), 201)
            bought.append(await world.pay(made, "paid"))
        await ok(admin.post(f"/v1/orders/{bought[0]['order_id']}/complete"))
        await ok(admin.post(f"/v1/orders/{bought[1]['order_id']}/refund",
                            json={"reason": "客户取消"}))
        await world.reaches(bought[1]["order_id"], "refunded")
        assert await cf.pickup_volume(conn, "A") == 1
        assert await cf.pickup_volume(conn, "B") == 0


@pytest.mark.req("H-29", "H-41")
async def test_the_migrations_backfill_attributes_cards_to_their_first_completed_order(
        world: Shop, conn: Conn) -> None:
    """What existed before migration 0102: its backfill (a function, run again here) takes the
    first completed package order's agent and the earliest real-name event; what is already
    recorded stays."""
    a1 = world.who("a1.admin")
    await recharge(world, a1, "agent", 7000)
    first = await completed(world, a1, "agent_wallet", CARD_2)
    await _agent_order(world, CARD_2)
    await _agent_order(world, CARD)
    await cf.attribute(conn, CARD, "B", "platform", "admin")
    await conn.execute("SELECT cp_commission_facts_backfill()")
    found = await cf.card_facts(conn, [CARD, CARD_2])
    assert (found[CARD].attributed_agent, found[CARD_2].attributed_agent) == ("B", "A1")
    made = await cf.attribution(conn, CARD_2)
    assert made is not None and (made.source, made.source_ref) == ("order", first["order_id"])
    assert made.at == found[CARD_2].package_orders[0].completed_at


@pytest.mark.req("H-30", "C-09")
async def test_the_workers_leader_takes_the_snapshot_once_the_month_has_ended(
        client: httpx.AsyncClient, running_worker: WorkerProcess, conn: Conn) -> None:
    """The platform clock 10 s before a month's end (Asia/Shanghai): no snapshot of that
    month; it runs on past midnight and the worker's timer takes it, stamped with the
    boundary (within C-09's 60 s)."""
    made = await client.post("/v1/agents", headers=ADMIN, json={
        "agent_id": "A", "name": "Agent A", "business_lines": ["traffic_card"]})
    assert made.status_code == 201, made.text
    month = month_of(datetime.now(UTC) + timedelta(days=40))
    _, end = month_bounds(month)
    await move_clock(client, end - timedelta(seconds=10))
    await asyncio.sleep(3)
    assert await cf.snapshots(conn, "A", month, month) == []

    async def taken() -> list[cf.Snapshot] | None:
        return await cf.snapshots(conn, "A", month, month) or None

    [snap] = await eventually_async(taken, timeout=60, what=f"the snapshot of {month}")
    assert (snap.activations, snap.taken_at) == (0, end)
