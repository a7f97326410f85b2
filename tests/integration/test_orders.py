"""G2 orders through the API with the payment-channel simulator over real HTTP: the spec's
worked examples to the fen (G2-02, G2-03, G2-05, G2-06, G2-13), callbacks repeated and out
of order, declines, the payment timeout on the platform clock, 50 concurrent Flow-2 orders,
idempotent creates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from cardpulse.roots.worker import expire_unpaid
from connectors.payments import PaymentChannelClient
from core.clock import now
from core.payments import PaymentNotification, notification_body, notification_headers
from core.settings import Settings
from domain.ledger import REVENUE, agent_available, card_wallet, order_escrow
from store.audit import history
from tests.support.commission import one_time_rule
from tests.support.dates import store_clock
from tests.support.orders import CARD, Shop, order, recharge, shop, spec_world
from tests.support.payments import SECRET
from tests.support.pricing import agent, ok
from tests.support.refunds import refund_approved, request_refund
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        yield made


@pytest.mark.req("G2-02", "G2-10", "G2-24", "G1-13", "SM-G2-ORDER", "C-08")
async def test_flow_1_the_end_user_pays_retail_the_agent_gets_the_difference(world: Shop
                                                                            ) -> None:
    made = await order(world.who("buyer"), "online")
    assert (made["state"], made["amount_fen"], made["method"]) == ("pending_payment", 9000,
                                                                   "online")
    assert made["pay_url"] and made["payment_id"]
    assert [lv["cost_price_fen"] for lv in made["price_chain"]["levels"]] == [6000]
    assert made["price_chain"]["retail_price_fen"] == 9000 and made["price_risks"] == []
    paid = await world.pay(made, "fulfilling")
    assert paid["paid_at"] is not None
    escrow = order_escrow(made["order_id"])
    assert await world.balances(escrow) == {escrow: 9000}
    done = await ok(world.market.admin.post(f"/v1/orders/{made['order_id']}/complete"))
    assert done["state"] == "completed"
    assert await world.balances(escrow, REVENUE, agent_available("A")) == {
        escrow: 0, REVENUE: 6000, agent_available("A"): 3000}
    async with await psycopg.AsyncConnection.connect(world.settings.require_database()) as c:
        trail = await history(c, "order", made["order_id"])
    assert [(e.from_state, e.to_state, e.actor_role) for e in trail] == [
        (None, "pending_payment", "end_user"), ("pending_payment", "paid", "system"),
        ("paid", "fulfilling", "system"), ("fulfilling", "completed", "admin")]
    kinds = [e["state"] for e in await outbox_events(world, "order_paid")]
    assert kinds == ["paid"]


async def outbox_events(world: Shop, kind: str) -> list[dict[str, object]]:
    async with await psycopg.AsyncConnection.connect(world.settings.require_database()) as c:
        rows = await (await c.execute(
            "SELECT data FROM outbox_events WHERE kind = %s ORDER BY enqueued_seq",
            (kind,))).fetchall()
    return [row[0] for row in rows]


@pytest.mark.req("G2-03", "G2-04", "G2-07", "G2-14", "G2-24", "SM-G2-RECHARGE")
async def test_flow_2_the_agent_prepays_and_pays_its_cost(world: Shop) -> None:
    a = world.who("a.admin")
    credited = await recharge(world, a, "agent", 6000)
    assert credited["wallet"] == agent_available("A")
    assert await world.balances(agent_available("A")) == {agent_available("A"): 6000}
    made = await order(a, "agent_wallet")
    assert (made["state"], made["amount_fen"]) == ("fulfilling", 6000)
    escrow = order_escrow(made["order_id"])
    assert await world.balances(escrow, agent_available("A")) == {
        escrow: 6000, agent_available("A"): 0}
    refused = await ok(a.post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "agent_wallet"}), 409)
    assert refused["detail"] == {"code": "insufficient_balance", "message_zh": "余额不足",
                                 "message_en": "Insufficient balance"}
    assert len(await ok(a.get("/v1/orders", params={"kind": "package"}))) == 1
    await ok(world.market.admin.post(f"/v1/orders/{made['order_id']}/complete"))
    assert await world.balances(escrow, REVENUE, agent_available("A")) == {
        escrow: 0, REVENUE: 6000, agent_available("A"): 0}
    assert [e["order_id"] for e in await outbox_events(world, "order_completed")] == [
        made["order_id"]]


@pytest.mark.req("G2-05", "G2-24")
async def test_multi_level_settlement_in_both_flows(world: Shop) -> None:
    flow1 = await order(world.who("buyer1"), "online")
    assert [lv["agent_id"] for lv in flow1["price_chain"]["levels"]] == ["A", "A1"]
    await world.pay(flow1, "fulfilling")
    await ok(world.market.admin.post(f"/v1/orders/{flow1['order_id']}/complete"))
    accounts = (REVENUE, agent_available("A"), agent_available("A1"))
    assert await world.balances(*accounts) == dict(zip(accounts, (6000, 1000, 2000),
                                                       strict=True))
    a1 = world.who("a1.admin")
    await recharge(world, a1, "agent", 7000)
    flow2 = await order(a1, "agent_wallet")
    assert flow2["amount_fen"] == 7000
    await ok(world.market.admin.post(f"/v1/orders/{flow2['order_id']}/complete"))
    # Flow 2 by A1: A1's wallet −7000 (of the 7000 prestored plus 2000 earned), platform
    # +6000, A +1000; the escrows end at 0
    assert await world.balances(*accounts, order_escrow(flow2["order_id"])) == dict(zip(
        (*accounts, order_escrow(flow2["order_id"])), (12000, 2000, 2000, 0), strict=True))


@pytest.mark.req("G2-06", "AMB-17")
async def test_summary_figures_platform_receipts_per_flow(world: Shop) -> None:
    """Receipts before commission (H is not built): Flow 1 receives 9000 and pays the agent
    3000; Flow 2 receives 6000; both keep 6000, 1000 over the 5000 purchase price."""
    f1 = await order(world.who("buyer"), "online")
    await world.pay(f1, "fulfilling")
    await ok(world.market.admin.post(f"/v1/orders/{f1['order_id']}/complete"))
    moves = await world.order_moves(f1["order_id"])
    assert moves == [("external:payment_channel", order_escrow(f1["order_id"]), 9000, "retail"),
                     (order_escrow(f1["order_id"]), REVENUE, 6000, "cost"),
                     (order_escrow(f1["order_id"]), agent_available("A"), 3000,
                      "price_difference")]
    b = world.who("b.admin")
    await recharge(world, b, "agent", 6000)
    f2 = await order(b, "agent_wallet")
    await ok(world.market.admin.post(f"/v1/orders/{f2['order_id']}/complete"))
    moves = await world.order_moves(f2["order_id"])
    assert moves == [(agent_available("B"), order_escrow(f2["order_id"]), 6000, "cost"),
                     (order_escrow(f2["order_id"]), REVENUE, 6000, "cost")]
    assert await world.balances(REVENUE) == {REVENUE: 12000}
    assert 6000 - f1["price_chain"]["purchase_price_fen"] == 1000


@pytest.mark.req("G2-12", "G2-13", "G2-10", "G2-25")
async def test_prestore_10000_buy_9000_from_the_wallet_1000_remains(world: Shop) -> None:
    buyer = world.who("buyer")
    first = await recharge(world, buyer, "card", 10000, CARD)
    paid = await order(buyer, "wallet")
    assert paid["state"] == "fulfilling"
    assert await world.balances(card_wallet(CARD)) == {card_wallet(CARD): 1000}
    refused = await ok(buyer.post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "wallet"}), 409)
    assert refused["detail"]["code"] == "insufficient_balance"
    second = await recharge(world, buyer, "card", 500, CARD)
    events = await outbox_events(world, "card_recharged")
    assert [(e["order_id"], e["iccid"], e["amount"], e["is_first"]) for e in events] == [
        (first["order_id"], CARD, 10000, True), (second["order_id"], CARD, 500, False)]
    assert all(e["at"] for e in events)
    wallet = await ok(buyer.get(f"/v1/wallets/cards/{CARD}"))
    assert wallet["balance_fen"] == 1500
    statement = await ok(buyer.get(f"/v1/wallets/cards/{CARD}/statement"))
    assert [(line["amount_fen"], line["fee_type"], line["order_id"], line["balance_after_fen"])
            for line in statement["lines"]] == [
        (10000, "recharge", first["order_id"], 10000), (-9000, "retail", paid["order_id"], 1000),
        (500, "recharge", second["order_id"], 1500)]
    assert (statement["opening_fen"], statement["closing_fen"]) == (0, 1500)


@pytest.mark.req("C-05", "SM-G2-ORDER")
async def test_repeated_and_reordered_callbacks_pay_once(settings: Settings) -> None:
    async with shop(settings, repeat_callbacks=4, callback_jitter_ms=40, seed=7) as world:
        await spec_world(world)
        made = [await order(world.who("buyer"), "online", key=f"k{i}") for i in range(3)]
        for each in made:
            await world.pay(each)
        await world.settled()
        for each in made:
            assert (await world.reaches(each["order_id"], "fulfilling"))["paid_at"]
            assert len(await world.order_moves(each["order_id"])) == 1
        stats = await world.notification_outcomes()
        assert stats == {"applied": 3}  # every copy after the first was a repeat


@pytest.mark.req("G2-10", "SM-G2-ORDER")
async def test_a_declined_payment_cancels_the_order(settings: Settings) -> None:
    async with shop(settings, decline_next=1) as world:
        await spec_world(world)
        made = await order(world.who("buyer"), "online")
        done = await world.pay(made, "cancelled")
        assert done["reason"].startswith("payment_declined")
        assert await world.order_moves(made["order_id"]) == []


@pytest.mark.req("G2-10", "C-05")
async def test_a_forged_or_mismatched_notification_moves_nothing(world: Shop) -> None:
    made = await order(world.who("buyer"), "online")
    forged = PaymentNotification(kind="payment", notify_id="n-forged", amount_fen=9000,
                                 payment_id=made["payment_id"],
                                 merchant_order_id=made["order_id"], status="succeeded",
                                 paid_at=now())
    body = notification_body(forged)
    answer = await world.market.admin.post("/v1/payments/notify", content=body,
                                           headers=notification_headers("wrong", body,
                                                                        time.time()))
    assert answer.status_code == 401
    wrong = forged.model_copy(update={"notify_id": "n-wrong", "amount_fen": 1})
    body = notification_body(wrong)
    answer = await world.market.admin.post("/v1/payments/notify", content=body,
                                           headers=notification_headers(SECRET, body,
                                                                        time.time()))
    assert (answer.status_code, answer.text) == (200, "success")
    assert (await world.reaches(made["order_id"], "pending_payment"))["paid_at"] is None
    assert await world.notification_outcomes() == {"mismatch": 1}


@pytest.mark.req("C-09", "SM-G2-ORDER", "SM-G2-RECHARGE")
async def test_unpaid_orders_are_cancelled_30_minutes_later_on_the_platform_clock(
        world: Shop) -> None:
    made = await order(world.who("buyer"), "online")
    topup = await ok(world.who("a.admin").post("/v1/wallets/recharges", json={
        "wallet": "agent", "amount_fen": 100}), 201)
    channel = PaymentChannelClient(world.pay_http, str(world.pay_http.base_url) + "/_pay")
    async with await psycopg.AsyncConnection.connect(world.settings.require_database(),
                                                     autocommit=True) as conn:
        assert await expire_unpaid(conn, channel, world.settings.orders_topic) == 0
        await store_clock(world.settings.require_database(), now() + timedelta(minutes=31))
        assert await expire_unpaid(conn, channel, world.settings.orders_topic) == 2
    for each in (made, topup):
        done = await world.reaches(each["order_id"], "cancelled")
        assert done["finished_at"] == done["pay_due_at"]  # stamped with the due instant
        assert (await channel.get_payment(each["payment_id"])).status == "closed"
    late = await world.pay_http.post(f"/_pay/payments/{made['payment_id']}/pay")
    assert late.status_code == 409


@pytest.mark.req("G2-04", "G2-16", "G2-24")
async def test_50_parallel_flow_2_orders_on_a_wallet_that_affords_10(world: Shop) -> None:
    a = world.who("a.admin")
    await recharge(world, a, "agent", 60000)
    answers = await asyncio.gather(*(a.post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "agent_wallet"}) for _ in range(50)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] * 10 + [409] * 40
    assert {a.json()["detail"]["code"] for a in answers if a.status_code == 409} == {
        "insufficient_balance"}
    assert await world.balances(agent_available("A")) == {agent_available("A"): 0}
    assert len(await ok(a.get("/v1/orders", params={"kind": "package"}))) == 10


@pytest.mark.req("C-05")
async def test_a_repeated_create_returns_the_first_order(world: Shop) -> None:
    a = world.who("a.admin")
    await recharge(world, a, "agent", 12000)
    first = await order(a, "agent_wallet", key="once")
    again = await order(a, "agent_wallet", key="once")
    assert again["order_id"] == first["order_id"]
    assert await world.balances(agent_available("A")) == {agent_available("A"): 6000}
    other = await ok(a.post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "online"},
        headers={"Idempotency-Key": "once"}), 409)
    assert other["detail"]["code"] == "idempotency_conflict"
    online = await order(world.who("buyer"), "online", key="pay-once")
    assert (await order(world.who("buyer"), "online", key="pay-once"))["payment_id"] == (
        online["payment_id"])


@pytest.mark.req("G1-13", "G1-12")
async def test_an_order_without_a_price_is_refused(world: Shop) -> None:
    await agent(world.market.admin, "C")
    await world.market.person("c.user", "end_user", agent="C")
    refused = await ok(world.who("c.user").post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "online"}), 409)
    assert refused["detail"]["code"] == "price_unavailable"


@pytest.mark.req("SM-G2-ORDER", "G2-16", "G2-20", "G2-21")
async def test_a_completed_online_order_is_refunded_through_the_channel(world: Shop) -> None:
    made = await order(world.who("buyer1"), "online")
    await world.pay(made, "fulfilling")
    path = f"/v1/orders/{made['order_id']}"
    await ok(world.market.admin.post(path + "/complete"))
    await ok(world.who("a.admin").post(path + "/refund", json={"reason": "x"}), 403)
    asked = await refund_approved(world, made["order_id"], "用户退订")
    assert asked["state"] in ("refunding", "refunded")
    done = await world.reaches(made["order_id"], "refunded")
    assert done["reason"] == "用户退订"
    accounts = (REVENUE, agent_available("A"), agent_available("A1"),
                order_escrow(made["order_id"]), "external:payment_channel")
    assert await world.balances(*accounts) == dict.fromkeys(accounts, 0)
    assert [e["order_id"] for e in await outbox_events(world, "order_refunded")] == [
        made["order_id"]]
    again = await request_refund(world, made["order_id"], "x", code=409)
    assert again["detail"]["code"] == "invalid_transition"


@pytest.mark.req("SM-G2-ORDER", "G2-16")
async def test_a_flow_2_order_is_refunded_to_the_agent_wallet_even_after_a_withdrawal(
        world: Shop) -> None:
    a1 = world.who("a1.admin")
    await recharge(world, a1, "agent", 7000)
    fulfilling = await order(a1, "agent_wallet")
    refunded = await refund_approved(world, fulfilling["order_id"], "未开通")
    assert refunded["state"] == "refunded"
    assert await world.balances(agent_available("A1")) == {agent_available("A1"): 7000}
    done = await order(a1, "agent_wallet")
    await ok(world.market.admin.post(f"/v1/orders/{done['order_id']}/complete"))
    # A withdraws its 1000 difference, then the refund takes it back: A is 1000 in debt
    await ok(world.who("a.admin").post("/v1/withdrawals", json={
        "amount_fen": 1000, "account": "x"}), 201)
    await refund_approved(world, done["order_id"], "退款")
    assert await world.balances(agent_available("A"), agent_available("A1"), REVENUE) == {
        agent_available("A"): -1000, agent_available("A1"): 7000, REVENUE: 0}
    blocked = await ok(world.who("a.admin").post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "agent_wallet"}), 409)
    assert blocked["detail"]["code"] == "insufficient_balance"  # G2-16: a debt blocks


@pytest.mark.req("G2-11", "AMB-22")
async def test_the_first_purchase_of_a_one_time_commission_package_is_wallet_only(
        world: Shop) -> None:
    await one_time_rule(world.settings.require_database(), "A", "p90")
    buyer = world.who("buyer")
    refused = await ok(buyer.post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "online"}), 409)
    assert refused["detail"] == {
        "code": "first_purchase_wallet_only", "message_zh": "该套餐首次购买仅支持钱包支付",
        "message_en": "The first purchase of this package can only be paid from the wallet"}
    await recharge(world, buyer, "card", 9000, CARD)
    first = await order(buyer, "wallet")
    await ok(world.market.admin.post(f"/v1/orders/{first['order_id']}/complete"))
    assert (await order(buyer, "online"))["state"] == "pending_payment"  # not the first now


@pytest.mark.req("C-09", "SM-G2-ORDER")
async def test_the_worker_cancels_an_unpaid_order_within_60_s_of_its_due_instant(
        world: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = await order(world.who("buyer"), "online")
    await store_clock(world.settings.require_database(), now() + timedelta(minutes=30, seconds=1))
    pay_url = str(world.pay_http.base_url).rstrip("/") + "/_pay"
    monkeypatch.setenv("CARDPULSE_PAYMENT_BASE_URL", pay_url)
    worker = WorkerProcess(world.settings, tmp_path / "worker.log")
    worker.start()
    try:
        done = await eventually_async(
            lambda: _in_state(world, made["order_id"], "cancelled"), timeout=60,
            what="the timeout cancellation")
    finally:
        worker.stop()
    assert (done["reason"], done["finished_at"]) == ("payment_timeout", done["pay_due_at"])
    channel = PaymentChannelClient(world.pay_http, pay_url)
    assert (await channel.get_payment(made["payment_id"])).status == "closed"


async def _in_state(world: Shop, order_id: str, state: str) -> dict[str, object] | None:
    found: dict[str, object] = await ok(world.market.admin.get(f"/v1/orders/{order_id}"))
    return found if found["state"] == state else None


@pytest.mark.req("C-05", "SM-G2-ORDER")
async def test_a_payment_notified_after_the_cancellation_is_recorded_and_moves_nothing(
        world: Shop) -> None:
    made = await order(world.who("buyer"), "online")
    await ok(world.who("buyer").post(f"/v1/orders/{made['order_id']}/cancel"))
    late = PaymentNotification(kind="payment", notify_id="n-late", amount_fen=9000,
                               payment_id=made["payment_id"],
                               merchant_order_id=made["order_id"], status="succeeded",
                               paid_at=now())
    body = notification_body(late)
    for _ in range(2):
        answer = await world.market.admin.post(
            "/v1/payments/notify", content=body,
            headers=notification_headers(SECRET, body, time.time()))
        assert (answer.status_code, answer.text) == (200, "success")
    assert (await world.reaches(made["order_id"], "cancelled"))["paid_at"] is None
    assert await world.order_moves(made["order_id"]) == []
    assert await world.notification_outcomes() == {"ignored": 1}
