"""The per-card facts of the commission engine read from real orders, recharges, refunds and
operator card events (store/commission_facts.py): recharges credited and refunded, operator
recharge notifications once per event, completed package orders with the seller's cost, the
earliest real-name instant, the card's attribution to the agent of its first completed
package order; activation counts (H-26/H-27), the frozen monthly snapshots (H-30), the
advisory in-network / 三无 verdicts (H-21), pickup volume (H-29)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from core.clock import now
from core.settings import Settings
from domain.commission import facts as f
from domain.usage.partitioning import partition_for
from store import commission_facts as cf
from store.card_events import CardEvent, receive
from store.cards import NewCard, create_card
from store.controls import StatusReport, observe
from store.db import Conn
from store.enterprises import create_enterprise
from tests.support.orders import CARD, CARD_2, Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok

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


async def activated(world: Shop, conn: Conn, iccid: str, event_id: str) -> str:
    """Card `iccid` real-name verified, active, with a completed package order sold by A
    and attributed from it: an activation of A. The order's id."""
    done = await _agent_order(world, iccid)
    await card_event(conn, event_id, iccid, "real_name_verified", now())
    await status(conn, iccid, "active")
    await cf.attribute_from_order(conn, done)
    return done


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
