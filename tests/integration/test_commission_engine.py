"""The commission engine end to end (§5 H): orders, recharges and real-name events made through
the API, their outbox events handed to the commission consumer's `apply` (the code the worker's
agent runs on the orders topic), records and ledger read back. The worked example H-15, the
boundaries of H-12 / H-23, per-order rebates (H-08), long-term commissions waiting for their
conditions (H-18), reversals on refunds (H-38) and replays (H-37)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from core.clock import now
from core.settings import Settings
from domain.ledger import REVENUE, agent_available, agent_commission_frozen, card_wallet
from store import ledger
from store.db import Conn
from tests.support.api import signed_body
from tests.support.commission import deliver, one_time_rule, records, rule_row
from tests.support.orders import Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok
from tests.support.refunds import refund_approved

pytestmark = pytest.mark.integration
CARD = "89860000000000000001"
SECRET = "commission-push-secret"
FROZEN_A, AVAILABLE_A = agent_commission_frozen("A"), agent_available("A")


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        admin = made.market.admin
        put = await admin.put("/v1/operators/onelink/push-secret", json={"secret": SECRET})
        assert put.status_code == 204, put.text
        await ok(admin.post("/v1/enterprises", json={"enterprise_id": "e", "name": "E"}), 201)
        for n in range(1, 4):
            await ok(admin.post("/v1/cards", json={
                "iccid": f"{CARD[:-1]}{n}", "enterprise_id": "e", "operator": "onelink",
                "opened": True}), 201)
        yield made


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        yield made


async def real_name(world: Shop, iccid: str = CARD, event_id: str = "rn-1") -> None:
    raw, headers = signed_body({"events": [{"event_id": event_id, "iccid": iccid,
                                            "type": "real_name_verified",
                                            "at": now().isoformat()}]}, SECRET)
    answer = await world.market.admin.post("/v1/upstream/onelink/card-events", content=raw,
                                           headers=headers)
    assert answer.status_code == 202, answer.text


async def in_network(world: Shop, iccid: str = CARD) -> None:
    """The operator reports the card active (its network status, H-26)."""
    raw, headers = signed_body({"events": [{"event_id": f"st-{iccid}", "iccid": iccid,
                                            "status": "active", "at": now().isoformat()}]},
                               SECRET)
    answer = await world.market.admin.post("/v1/upstream/onelink/status", content=raw,
                                           headers=headers)
    assert answer.status_code == 202, answer.text


async def complete(world: Shop, made: dict[str, Any]) -> None:
    await ok(world.market.admin.post(f"/v1/orders/{made['order_id']}/complete"))


async def wallet_package(world: Shop, iccid: str = CARD) -> dict[str, Any]:
    """The buyer (an end user of A) buys p90 at 9000 from the card's wallet; completed."""
    made = await order(world.who("buyer"), "wallet", iccid)
    await complete(world, made)
    return dict(made)


async def agent_package(world: Shop, iccid: str = CARD) -> dict[str, Any]:
    """A sells p90 to its customer from its own wallet (Flow 2, cost 6000); completed."""
    a = world.who("a.admin")
    await recharge(world, a, "agent", 6000)
    made = await order(a, "agent_wallet", iccid)
    await complete(world, made)
    return dict(made)


@pytest.mark.req("H-15", "H-10", "H-11", "H-13", "G2-11", "H-39")
async def test_the_worked_example_prestore_100_buy_at_90_real_name_earns_10_frozen(
        world: Shop, conn: Conn) -> None:
    db = world.settings.require_database()
    await one_time_rule(db, "A", "p90", threshold_fen=10000, amount_fen=1000)
    buyer = world.who("buyer")
    refused = await ok(buyer.post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "online"}), 409)
    assert refused["detail"]["code"] == "first_purchase_wallet_only"  # G2-11
    await recharge(world, buyer, "card", 10000, CARD)
    await wallet_package(world)
    await deliver(conn, world.settings)
    assert await records(conn, iccid=CARD) == []  # not real-name verified yet
    await real_name(world)
    await deliver(conn, world.settings)
    [made] = await records(conn, iccid=CARD)
    assert (made["part"], made["state"], made["amount_fen"]) == ("one_time", "frozen", 1000)
    assert made["unfreeze_due_at"] == made["frozen_at"] + timedelta(days=7)
    assert await world.balances(card_wallet(CARD), FROZEN_A) == {card_wallet(CARD): 1000,
                                                                 FROZEN_A: 1000}
    why = made["explanation"]
    assert why["formula"].startswith("fixed 1000")
    assert [c["name"] for c in why["conditions"]] == ["package_completed", "real_name",
                                                       "recharge_first"]


@pytest.mark.req("H-12", "AMB-42")
@pytest.mark.parametrize(("mode", "recharges", "earns"), [
    ("first", [10000], True), ("first", [9999, 1], False),
    ("cumulative", [9999], False), ("cumulative", [9999, 1], True)])
async def test_the_recharge_threshold_is_met_exactly_and_not_one_fen_short(
        world: Shop, conn: Conn, mode: str, recharges: list[int], earns: bool) -> None:
    await one_time_rule(world.settings.require_database(), "A", "p90", mode=mode)
    buyer = world.who("buyer")
    for amount in recharges:
        await recharge(world, buyer, "card", amount, CARD)
    await recharge(world, buyer, "card", 9000, CARD)  # pays the package
    await wallet_package(world)
    await real_name(world)
    await deliver(conn, world.settings)
    found = await records(conn, iccid=CARD)
    if mode == "cumulative" and earns:
        assert [r["amount_fen"] for r in found] == [1000]
    assert bool(found) is (earns or mode == "cumulative" and sum(recharges) + 9000 >= 10000)


@pytest.mark.req("H-08", "H-02", "C-03", "H-42", "H-03", "H-04")
async def test_a_per_order_rebate_is_available_at_completion_for_the_selling_agent_only(
        world: Shop, conn: Conn) -> None:
    """H-03/H-04: the rebate comes out of platform revenue into the agent's balance, beside
    the price difference G2 settles."""
    db = world.settings.require_database()
    await rule_row(db, "rebate", "A", "per_order", package_ids=("p90",),
                   amount_mode="percent", amount_value=500, freeze_days=0,
                   requires_approval=False)
    await rule_row(db, "a1-rebate", "A1", "per_order", package_ids=("p90",),
                   amount_value=100, freeze_days=0, requires_approval=False)
    before = (await ledger.balance(conn, AVAILABLE_A)).posted
    made = await agent_package(world)
    revenue = (await ledger.balance(conn, REVENUE)).posted
    await deliver(conn, world.settings)
    [rebate] = await records(conn, order_id=made["order_id"])
    assert (rebate["agent_id"], rebate["state"], rebate["amount_fen"]) == ("A", "available", 300)
    assert (await ledger.balance(conn, AVAILABLE_A)).posted == before + 300
    assert (await ledger.balance(conn, REVENUE)).posted == revenue - 300
    assert rebate["explanation"]["formula"].startswith("6000 × 500 bp = 300.0000 → 300")


@pytest.mark.req("H-17", "H-18", "SM-H-COMM")
async def test_a_long_term_commission_waits_for_its_conditions_then_freezes(
        world: Shop, conn: Conn) -> None:
    await rule_row(world.settings.require_database(), "lt", "A", "long_term",
                   package_ids=("p90",), amount_value=200)
    made = await agent_package(world)
    await deliver(conn, world.settings)
    [waiting] = await records(conn, order_id=made["order_id"])
    assert waiting["state"] == "awaiting_conditions"
    assert await world.balances(FROZEN_A) == {FROZEN_A: 0}
    await real_name(world)
    await deliver(conn, world.settings)
    [frozen] = await records(conn, order_id=made["order_id"])
    assert frozen["state"] == "frozen" and frozen["unfreeze_due_at"] is None  # import only
    assert await world.balances(FROZEN_A) == {FROZEN_A: 200}


@pytest.mark.req("H-22", "H-23", "H-24", "AMB-12")
async def test_a_combined_gate_of_two_packages_pays_from_the_third(
        world: Shop, conn: Conn) -> None:
    await rule_row(world.settings.require_database(), "combo", "A", "combined",
                   package_ids=("p90",), amount_value=200, terms={
                       "gate": {"gate": "count", "n": 2},
                       "one_time": {"amount": {"mode": "fixed", "value": 1},
                                    "recharge": {"mode": "first", "threshold_fen": 10 ** 9}}})
    await real_name(world)
    await recharge(world, world.who("buyer"), "card", 9000, CARD)
    first = await wallet_package(world)  # G2-11: a one-time part makes the first wallet-only
    second = await agent_package(world)
    await deliver(conn, world.settings)
    assert await records(conn, iccid=CARD) == []  # packages 1 and 2 earn nothing
    third = await agent_package(world)
    await deliver(conn, world.settings)
    [earned] = await records(conn, iccid=CARD)
    assert earned["order_id"] == third["order_id"] and earned["state"] == "frozen"
    await refund_approved(world, first["order_id"], "退款")  # H-24: the count goes down
    fourth = await agent_package(world)
    await deliver(conn, world.settings)
    assert [r["order_id"] for r in await records(conn, iccid=CARD)] == [third["order_id"],
                                                                          fourth["order_id"]]
    assert second["order_id"] not in {r["order_id"] for r in await records(conn, iccid=CARD)}


@pytest.mark.req("H-38", "SM-H-COMM", "G2-16")
async def test_refunds_reverse_frozen_and_claw_back_available_commissions(
        world: Shop, conn: Conn) -> None:
    db = world.settings.require_database()
    await rule_row(db, "rebate", "A", "per_order", package_ids=("p90",), amount_value=500,
                   freeze_days=0, requires_approval=False)
    await rule_row(db, "lt", "A", "long_term", package_ids=("p90",), amount_value=200)
    await real_name(world)
    made = await agent_package(world)
    await deliver(conn, world.settings)
    assert sorted(r["state"] for r in await records(conn, order_id=made["order_id"])) == [
        "available", "frozen"]
    await refund_approved(world, made["order_id"], "退款")
    await deliver(conn, world.settings)
    assert {r["state"] for r in await records(conn, order_id=made["order_id"])} == {"reversed"}
    assert await world.balances(FROZEN_A) == {FROZEN_A: 0}
    moves = await (await conn.execute(
        "SELECT transfer_id FROM ledger_transfers WHERE transfer_id LIKE 'commission:%%' "
        "ORDER BY transfer_id")).fetchall()
    assert sorted(m[0].rsplit(":", 1)[1] for m in moves) == ["clawback", "freeze", "pay",
                                                            "return"]
    assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("H-37")
async def test_replaying_every_event_from_the_start_changes_nothing(
        world: Shop, conn: Conn) -> None:
    db = world.settings.require_database()
    await one_time_rule(db, "A", "p90", threshold_fen=10000, amount_fen=1000)
    await rule_row(db, "lt", "A", "long_term", package_ids=("p90",), amount_value=200)
    await recharge(world, world.who("buyer"), "card", 10000, CARD)
    await wallet_package(world)
    await real_name(world)
    await deliver(conn, world.settings)
    made = await records(conn, iccid=CARD)
    transfers = await (await conn.execute("SELECT count(*) FROM ledger_transfers")).fetchone()
    await conn.execute("DELETE FROM commission_inbox")  # even a lost inbox changes nothing
    await deliver(conn, world.settings)
    await deliver(conn, world.settings)
    assert await records(conn, iccid=CARD) == made
    again = await (await conn.execute("SELECT count(*) FROM ledger_transfers")).fetchone()
    assert again == transfers
    assert len(made) == 2


@pytest.mark.req("H-06", "H-39")
async def test_what_if_prices_a_draft_version_over_past_sales_and_pays_nothing(
        world: Shop, conn: Conn) -> None:
    db = world.settings.require_database()
    await rule_row(db, "rebate", "A", "per_order", package_ids=("p90",), amount_value=100,
                   freeze_days=0, requires_approval=False)
    await rule_row(db, "rebate", "A", "per_order", package_ids=("p90",), amount_value=250,
                   freeze_days=0, requires_approval=False, version=2, status="draft")
    start = now() - timedelta(hours=1)
    await agent_package(world)
    await agent_package(world)
    await deliver(conn, world.settings)
    before = await records(conn, agent_id="A")
    end = now() + timedelta(hours=1)
    answer = await ok(world.market.admin.get(
        "/v1/commission-rules/rebate/versions/2/what-if",
        params={"start": start.isoformat(), "end": end.isoformat()}))
    assert answer["cards"] == 1
    assert answer["would_pay"] == {"A": {"records": 2, "amount_fen": 500}}
    assert answer["did_pay"] == {"A": {"records": 2, "amount_fen": 200}}
    assert answer["by_state"] == {"available": 2}
    assert await records(conn, agent_id="A") == before  # nothing paid
    refused = await world.who("a.admin").get(
        "/v1/commission-rules/rebate/versions/2/what-if",
        params={"start": start.isoformat(), "end": end.isoformat()})
    assert refused.status_code == 403


@pytest.mark.req("H-25", "H-26", "H-28", "AMB-41")
async def test_a_tier_applies_from_its_threshold_inclusive_and_never_retroactively(
        world: Shop, conn: Conn) -> None:
    await rule_row(world.settings.require_database(), "tiered", "A", "per_order",
                   package_ids=("p90",), amount_value=100, freeze_days=0,
                   requires_approval=False,
                   tiers={"metric": "activation_count", "rows": [[0, 100], [1, 300]]})
    first = await agent_package(world)
    await deliver(conn, world.settings)  # no activation yet (not real-name): tier 0
    await real_name(world)  # the card is now an activation of A: count 1 = the threshold
    await in_network(world)
    second = await agent_package(world)
    await deliver(conn, world.settings)
    amounts = {r["order_id"]: (r["amount_fen"], r["explanation"]["tier"])
               for r in await records(conn, agent_id="A")}
    assert amounts[first["order_id"]][0] == 100  # kept: no top-up (H-28)
    assert amounts[second["order_id"]] == (300, {
        "metric": "activation_count", "metric_value": 1, "threshold": 1, "value": 300})


@pytest.mark.req("H-38")
async def test_a_partial_refund_keeps_the_rebate_of_the_unit_not_refunded(
        world: Shop, conn: Conn) -> None:
    await rule_row(world.settings.require_database(), "rebate", "A", "per_order",
                   package_ids=("p90",), amount_value=500, freeze_days=0,
                   requires_approval=False)
    made = await agent_package(world)
    await deliver(conn, world.settings)
    await refund_approved(world, made["order_id"], "部分退款", amount=3000)
    await deliver(conn, world.settings)
    [kept] = await records(conn, order_id=made["order_id"])
    assert kept["state"] == "available"  # a part of the one unit: the unit is not refunded
    await refund_approved(world, made["order_id"], "退款", amount=3000)
    await deliver(conn, world.settings)
    [gone] = await records(conn, order_id=made["order_id"])
    assert gone["state"] == "reversed" and gone["reason"] == "refunded"
