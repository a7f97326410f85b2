"""Refunds and interceptions through the API (SM-G2-ORDER, SM-G2-RECHARGE, G1-18, G2-16,
G2-20): a completed order refunded in parts (shares of every settlement leg, to the payer)
up to its amount, only the last part taking the package off the card and stopping it at
once; parallel refunds of one order; a credited recharge's unspent money refunded; an order
sold below the purchase price intercepted until a platform operator releases it; a debt
paid back first by later credits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from core.settings import Settings
from domain.ledger import PAYMENT_CHANNEL, REVENUE, agent_available, card_wallet, order_escrow
from domain.usage.partitioning import partition_for
from domain.usage.records import UsageRecord
from store import fulfilment
from store.audit import history
from store.cards import NewCard, create_card, get_card
from store.db import Conn
from store.enterprises import create_enterprise
from store.usage import OperatorRecords, account
from streams.events import decode_desired
from tests.support.orders import CARD, Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok

pytestmark = pytest.mark.integration
GIB = 1 << 30  # the package p90 of the spec world


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        yield made


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        await create_enterprise(made, "e", "E", "Asia/Shanghai")
        yield made


async def register(conn: Conn, settings: Settings, iccid: str, package_bytes: int) -> None:
    await create_card(conn, "e", NewCard(iccid, "onelink", package_bytes, None, [],
                                         partition_for(iccid, settings.usage_partitions), None,
                                         opened=True))


async def use(conn: Conn, iccid: str, nbytes: int) -> None:
    now_ms = int(time.time() * 1000)
    record = UsageRecord(f"u-{iccid}-{nbytes}", iccid, nbytes, now_ms - 60_000, now_ms)
    await account(conn, [OperatorRecords("onelink", now_ms, [record])])


def refund(client: Any, order_id: str, amount: int | None = None, key: str | None = None,
           path: str = "/v1/orders/{}/refund") -> Any:
    body: dict[str, Any] = {"reason": "用户退订"}
    if amount is not None:
        body["amount_fen"] = amount
    return client.post(path.format(order_id), json=body,
                       headers={"Idempotency-Key": key} if key else None)


async def completed(world: Shop, client: Any, method: str, iccid: str = CARD) -> dict[str, Any]:
    made = await order(client, method, iccid)
    return dict(await ok(world.market.admin.post(f"/v1/orders/{made['order_id']}/complete")))


async def events(world: Shop, kind: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(world.settings.require_database()) as c:
        rows = await (await c.execute(
            "SELECT data FROM outbox_events WHERE kind = %s ORDER BY enqueued_seq",
            (kind,))).fetchall()
    return [row[0] for row in rows]


@pytest.mark.req("SM-G2-ORDER", "G2-05", "G2-16", "C-03", "C-05", "C-06")
async def test_a_completed_order_is_refunded_in_parts_up_to_its_amount(world: Shop) -> None:
    """A1 sells at 9000 from the card's wallet (platform 6000, A 1000, A1 2000); 3000, then
    4000, then the rest are refunded; each leg gives back its share, the card's wallet gets
    every fen back, the escrow ends at 0 each time."""
    buyer = world.who("buyer1")
    await recharge(world, buyer, "card", 9000, CARD)
    done = await completed(world, buyer, "wallet")
    oid, ops = done["order_id"], world.who("operator")
    accounts = (REVENUE, agent_available("A"), agent_available("A1"), card_wallet(CARD),
                order_escrow(oid))

    first = await ok(refund(ops, oid, 3000, key="r1"))
    assert (first["state"], first["refunded_fen"], first["counted"]) == (
        "partially_refunded", 3000, True)
    assert await world.balances(*accounts) == dict(zip(accounts, (4000, 667, 1333, 3000, 0),
                                                       strict=True))
    again = await ok(refund(ops, oid, 3000, key="r1"))  # a repeat returns, changes nothing
    assert (again["state"], again["refunded_fen"]) == ("partially_refunded", 3000)
    assert (await ok(refund(ops, oid, 1000, key="r1"), 409))["detail"]["code"] == (
        "idempotency_conflict")
    too_much = await ok(refund(ops, oid, 6001), 422)
    assert too_much["detail"][0]["code"] == "refund_exceeds_refundable"
    assert await world.balances(*accounts) == dict(zip(accounts, (4000, 667, 1333, 3000, 0),
                                                       strict=True))

    second = await ok(refund(ops, oid, 4000, key="r2"))
    assert (second["state"], second["refunded_fen"]) == ("partially_refunded", 7000)
    # of what remained (4000, 667, 1333): 2667, 444, 889
    assert await world.balances(*accounts) == dict(zip(accounts, (1333, 223, 444, 7000, 0),
                                                       strict=True))
    last = await ok(refund(ops, oid))  # no amount: all that remains
    assert (last["state"], last["refunded_fen"], last["counted"]) == ("refunded", 9000, False)
    assert await world.balances(*accounts) == dict(zip(accounts, (0, 0, 0, 9000, 0),
                                                       strict=True))
    assert (await ok(refund(ops, oid, 1), 409))["detail"]["code"] == "invalid_transition"
    assert [e["refund_fen"] for e in await events(world, "order_partially_refunded")] == [
        3000, 4000]
    assert [e["refund_fen"] for e in await events(world, "order_refunded")] == [2000]
    async with await psycopg.AsyncConnection.connect(world.settings.require_database()) as c:
        trail = [(e.from_state, e.to_state) for e in await history(c, "order", oid)]
    assert trail[-6:] == [("completed", "refunding"), ("refunding", "partially_refunded"),
                          ("partially_refunded", "refunding"),
                          ("refunding", "partially_refunded"),
                          ("partially_refunded", "refunding"), ("refunding", "refunded")]


@pytest.mark.req("SM-G2-ORDER", "G2-10", "C-05")
async def test_an_online_order_is_refunded_in_parts_through_the_channel(world: Shop) -> None:
    """Each part is its own channel refund (`<id>-refund`, `<id>-refund-2`); its
    notification pays it back, whatever copies arrive."""
    made = await order(world.who("buyer"), "online")
    await world.pay(made, "fulfilling")
    oid, ops = made["order_id"], world.who("operator")
    await ok(world.market.admin.post(f"/v1/orders/{oid}/complete"))
    await ok(refund(ops, oid, 3000))
    part = await world.reaches(oid, "partially_refunded")
    assert part["refunded_fen"] == 3000
    assert await world.balances(REVENUE, agent_available("A")) == {
        REVENUE: 4000, agent_available("A"): 2000}
    await ok(refund(ops, oid))
    done = await world.reaches(oid, "refunded")
    assert done["refunded_fen"] == 9000
    await world.settled()
    assert await world.notification_outcomes() == {"applied": 3}  # the payment, two refunds
    accounts = (REVENUE, agent_available("A"), order_escrow(oid), PAYMENT_CHANNEL)
    assert await world.balances(*accounts) == dict.fromkeys(accounts, 0)


@pytest.mark.req("SM-G2-ORDER", "C-06")
async def test_an_order_not_yet_completed_is_refunded_in_full_only(world: Shop) -> None:
    a1 = world.who("a1.admin")
    await recharge(world, a1, "agent", 7000)
    made = await order(a1, "agent_wallet")
    assert made["state"] == "fulfilling"
    refused = await ok(refund(world.who("operator"), made["order_id"], 1000), 409)
    assert refused["detail"]["code"] == "partial_refund_not_allowed"
    done = await ok(refund(world.who("operator"), made["order_id"], 7000))
    assert (done["state"], done["refunded_fen"]) == ("refunded", 7000)
    assert await world.balances(agent_available("A1")) == {agent_available("A1"): 7000}


@pytest.mark.req("SM-G2-ORDER", "G2-16", "C-05")
async def test_parallel_refunds_of_one_order_exactly_one_succeeds(world: Shop) -> None:
    """Flow 2 by A1 (7000: platform 6000, A 1000), refunded ten times at once on ten
    connections: one refund, to A1's wallet; the others find it moved (409)."""
    a1 = world.who("a1.admin")
    await recharge(world, a1, "agent", 7000)
    done = await completed(world, a1, "agent_wallet")
    ops = world.who("operator")
    answers = await asyncio.gather(*(refund(ops, done["order_id"], key=f"p{i}")
                                     for i in range(10)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] + [409] * 9, [a.text for a in answers]
    assert {a.json()["detail"]["code"] for a in answers if a.status_code == 409} == {
        "invalid_transition"}
    accounts = (REVENUE, agent_available("A"), agent_available("A1"))
    assert await world.balances(*accounts) == dict(zip(accounts, (0, 0, 7000), strict=True))
    assert len(await world.order_moves(done["order_id"])) == 6  # pay, 2 legs, 2 back, out


@pytest.mark.req("SM-G2-RECHARGE", "G2-13", "G2-15", "C-05", "C-06")
async def test_a_credited_recharge_is_refunded_up_to_the_wallet_balance(world: Shop) -> None:
    """Prestore 10000, buy 9000 from the wallet: 1000 of the recharge is unspent."""
    buyer = world.who("buyer")
    credited = await recharge(world, buyer, "card", 10000, CARD)
    await order(buyer, "wallet")
    rid, path = credited["order_id"], "/v1/wallets/recharges/{}/refund"
    assert (await ok(refund(world.who("finance"), rid, path=path), 403))
    short = await ok(refund(world.who("operator"), rid, 2000, path=path), 409)
    assert short["detail"] == {"code": "insufficient_balance", "message_zh": "余额不足",
                               "message_en": "Insufficient balance"}
    over = await ok(refund(world.who("operator"), rid, 10001, path=path), 422)
    assert over["detail"][0]["code"] == "refund_exceeds_refundable"
    done = await ok(refund(world.who("operator"), rid, key="rr", path=path))
    assert (done["state"], done["refunded_fen"]) == ("refunded", 1000)
    again = await ok(refund(world.who("operator"), rid, key="rr", path=path))
    assert (again["state"], again["refunded_fen"]) == ("refunded", 1000)
    assert await world.balances(card_wallet(CARD)) == {card_wallet(CARD): 0}
    assert [(t[0], t[1], t[2], t[3]) for t in await world.order_moves(rid)] == [
        (PAYMENT_CHANNEL, card_wallet(CARD), 10000, "recharge"),
        (card_wallet(CARD), PAYMENT_CHANNEL, 1000, "refund")]
    refunded = await events(world, "card_recharge_refunded")
    assert [(e["order_id"], e["iccid"], e["refund_fen"]) for e in refunded] == [
        (rid, CARD, 1000)]
    await world.settled()  # the channel's refund notification matches the refund
    assert "mismatch" not in await world.notification_outcomes()
    assert (await ok(refund(world.who("operator"), rid, path=path), 409))["detail"][
        "code"] == "invalid_transition"


@pytest.mark.req("G2-16")
async def test_a_debt_blocks_withdrawals_and_later_credits_pay_it_first(world: Shop) -> None:
    """A1's Flow-2 order pays A 1000; A withdraws it; the refund leaves A at −1000."""
    a1, a = world.who("a1.admin"), world.who("a.admin")
    await recharge(world, a1, "agent", 7000)
    done = await completed(world, a1, "agent_wallet")
    await ok(a.post("/v1/withdrawals", json={"amount_fen": 1000, "account": "x"}), 201)
    await ok(refund(world.who("operator"), done["order_id"]))
    assert await world.balances(agent_available("A")) == {agent_available("A"): -1000}
    blocked = await ok(a.post("/v1/withdrawals", json={"amount_fen": 100, "account": "x"}),
                       409)
    assert blocked["detail"]["code"] == "insufficient_balance"
    await recharge(world, a, "agent", 6500)  # the debt first: 5500 left, not 6500
    assert await world.balances(agent_available("A")) == {agent_available("A"): 5500}
    short = await ok(a.post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "agent_wallet"}), 409)
    assert short["detail"]["code"] == "insufficient_balance"
    await recharge(world, a, "agent", 500)
    assert (await order(a, "agent_wallet"))["state"] == "fulfilling"


@pytest.mark.req("G2-20", "SM-G2-ORDER")
async def test_only_the_refund_that_completes_the_order_reverts_the_package_and_stops_the_card(
        world: Shop, settings: Settings, conn: Conn) -> None:
    """A card with a 100-byte package and 150 bytes used runs on the order's 1 GiB; a
    partial refund leaves it; the final one takes it off and the card is stopped at once by
    `package_quota`, published as `PATCH /v1/cards/{iccid}` publishes it."""
    card = "89860012300000008401"
    await register(conn, settings, card, 100)
    await use(conn, card, 150)
    a = world.who("a.admin")
    await recharge(world, a, "agent", 6000)
    made = await order(a, "agent_wallet", card)
    assert (await fulfilment.fulfil_due(conn, settings.orders_topic)).completed == 1
    view = await get_card(conn, card)
    assert (view.package_bytes, view.desired_status, view.package_count) == (
        100 + GIB, "active", 1)
    ops = world.who("operator")
    part = await ok(refund(ops, made["order_id"], 1000))
    assert (part["state"], part["package_reverted_at"]) == ("partially_refunded", None)
    view = await get_card(conn, card)
    assert (view.package_bytes, view.desired_status, view.package_count) == (
        100 + GIB, "active", 1)
    assert await world.balances(REVENUE, agent_available("A")) == {
        REVENUE: 5000, agent_available("A"): 1000}
    rest = await ok(refund(ops, made["order_id"]))
    assert (rest["state"], rest["counted"]) == ("refunded", False)
    view = await get_card(conn, card)
    assert (view.package_bytes, view.package_count) == (100, 0)
    assert (view.desired_status, view.stop_reasons) == ("stopped", ["package_quota"])
    assert ("stopped", ("package_quota",), "card_updated") in await desired(settings, card)


async def desired(settings: Settings, iccid: str) -> list[tuple[str, tuple[str, ...], str]]:
    """The desired-state changes published for the card (waiting up to 10 s for the last)."""
    consumer = AIOKafkaConsumer(settings.desired_topic, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: list[tuple[str, tuple[str, ...], str]] = []
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(s[0] == "stopped" for s in seen):
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                for message in messages:
                    seen.extend((c.desired_status, tuple(c.stop_reasons), c.cause)
                                for c in decode_desired(message.value).changes
                                if c.iccid == iccid)
    finally:
        await consumer.stop()
    return seen


@pytest.mark.req("G1-18", "G4-06", "AMB-49", "SM-G2-ORDER", "C-08")
async def test_an_intercepted_order_waits_in_paid_until_released(
        world: Shop, settings: Settings, conn: Conn) -> None:
    """The price book refuses every price that would sell below cost or purchase (G1-06,
    G1-07, G1-11, G1-12's cascade), so no order of the spec world carries a price risk; the
    flag is set here as risk monitoring (or G4-06's pre-shipment refund request) sets it."""
    card = "89860012300000008402"
    await register(conn, settings, card, 100)
    buyer, ops = world.who("buyer"), world.who("operator")
    held, other = await order(buyer, "online", card), await order(buyer, "online", card)
    await conn.execute(
        "UPDATE orders SET intercepted = true, price_risks = '[\"negative_margin\"]' "
        "WHERE order_id = ANY(%s)", ([held["order_id"], other["order_id"]],))
    for each in (held, other):
        paid = await world.pay(each, "paid")
        assert (paid["intercepted"], paid["price_risks"]) == (True, ["negative_margin"])
    listed = await ok(ops.get("/v1/orders", params={"intercepted": "true"}))
    assert {o["order_id"] for o in listed} == {held["order_id"], other["order_id"]}
    assert (await fulfilment.fulfil_due(conn, settings.orders_topic)).looked_at == 0

    path = f"/v1/orders/{held['order_id']}/release"
    await ok(world.who("a.admin").post(path, json={"reason": "ok"}), 403)
    await ok(world.who("finance").post(path, json={"reason": "ok"}), 403)
    released = await ok(ops.post(path, json={"reason": "核价无误"}))
    assert (released["state"], released["intercepted"]) == ("fulfilling", False)
    assert released["released_by"] and released["released_at"]
    again = await ok(ops.post(path, json={"reason": "x"}), 409)
    assert again["detail"]["code"] == "not_intercepted"
    assert (await fulfilment.fulfil_due(conn, settings.orders_topic)).completed == 1
    assert (await ok(ops.get(f"/v1/orders/{held['order_id']}")))["state"] == "completed"
    trail = await history(conn, "order", held["order_id"])
    assert [(e.from_state, e.to_state, e.actor_role, e.reason) for e in trail][2:4] == [
        ("paid", "paid", "platform_operator", "核价无误"),
        ("paid", "fulfilling", "platform_operator", None)]
    assert [e["order_id"] for e in await events(world, "order_released")] == [
        held["order_id"]]

    await ok(refund(ops, other["order_id"]))  # AMB-49: the refund closes the interception
    closed = await world.reaches(other["order_id"], "refunded")
    assert (closed["intercepted"], closed["refunded_fen"]) == (False, 9000)
    assert await ok(ops.get("/v1/orders", params={"intercepted": "true"})) == []
    assert await world.balances(order_escrow(other["order_id"])) == {
        order_escrow(other["order_id"]): 0}
