"""`POST /v1/orders/batch` (issue 16, Speed): many package orders in one transaction, each
with its own idempotency key and answer; Flow-2 items paid under one lock of the agent's
wallet, an item it cannot afford refused alone; a repeated batch answers the same; batches
and single creates racing on one wallet never overdraw it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from core.settings import Settings
from domain.ledger import REVENUE, agent_available, order_escrow
from store import ledger
from store.audit import history
from tests.support.ledger import move
from tests.support.orders import CARD, Shop, recharge, shop, spec_world
from tests.support.pricing import ok, package

pytestmark = pytest.mark.integration

INSUFFICIENT = {"code": "insufficient_balance", "message_zh": "余额不足",
                "message_en": "Insufficient balance"}


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        yield made


def item(key: str, method: str = "agent_wallet", package_id: str = "p90") -> dict[str, Any]:
    return {"idempotency_key": key, "package_id": package_id, "iccid": CARD, "method": method}


async def batch(client: httpx.AsyncClient, *items: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await ok(client.post("/v1/orders/batch", json={"orders": list(items)}), 200)
    results: list[dict[str, Any]] = answer["results"]
    assert [r["idempotency_key"] for r in results] == [i["idempotency_key"] for i in items]
    return results


async def trial_balanced(world: Shop) -> bool:
    async with await psycopg.AsyncConnection.connect(world.settings.require_database(),
                                                     autocommit=True) as conn:
        return (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("G2-03", "G2-04", "G2-21", "G2-24", "SM-G2-ORDER", "C-08")
async def test_a_batch_pays_what_the_wallet_affords_and_refuses_the_rest_alone(
        world: Shop) -> None:
    await package(world.market.admin, "p91", 5000)  # no price for anyone
    a = world.who("a.admin")
    await recharge(world, a, "agent", 3 * 6000)
    results = await batch(a, item("k1"), item("k2"), item("k3", "online"),
                          item("k4", package_id="p91"), item("k5"), item("k6"))
    assert [r["status"] for r in results] == [201, 201, 201, 409, 201, 409]
    paid = [results[i]["order"] for i in (0, 1, 4)]
    assert [(o["state"], o["amount_fen"], o["method"]) for o in paid] == [
        ("fulfilling", 6000, "agent_wallet")] * 3
    assert paid[0]["paid_at"] is not None and paid[0]["price_chain"]["retail_price_fen"] == 9000
    online = results[2]["order"]
    assert (online["state"], online["amount_fen"]) == ("pending_payment", 9000)
    assert results[3]["error"]["code"] == "price_unavailable"
    assert results[5]["error"] == INSUFFICIENT and results[5]["order"] is None
    escrows = [order_escrow(o["order_id"]) for o in paid]
    assert await world.balances(agent_available("A"), *escrows) == {
        agent_available("A"): 0, **dict.fromkeys(escrows, 6000)}
    listed = await ok(a.get("/v1/orders", params={"kind": "package"}))
    assert sorted(o["order_id"] for o in listed) == sorted(
        [o["order_id"] for o in paid] + [online["order_id"]])
    async with await psycopg.AsyncConnection.connect(world.settings.require_database()) as c:
        trail = await history(c, "order", paid[0]["order_id"])
        kinds = await (await c.execute(
            "SELECT kind FROM outbox_events WHERE key = %s ORDER BY enqueued_seq",
            (paid[0]["order_id"],))).fetchall()
    assert [(e.from_state, e.to_state, e.actor_role) for e in trail] == [
        (None, "paid", "agent_admin"), ("paid", "fulfilling", "agent_admin")]
    assert [k[0] for k in kinds] == ["order_paid", "order_fulfilling"]
    done = await ok(world.market.admin.post(f"/v1/orders/{paid[0]['order_id']}/complete"))
    assert done["state"] == "completed"
    assert await world.balances(escrows[0], REVENUE) == {escrows[0]: 0, REVENUE: 6000}
    assert await trial_balanced(world)


@pytest.mark.req("G2-21", "G2-04", "C-05")
async def test_a_repeated_batch_answers_the_same_and_moves_no_more_money(world: Shop) -> None:
    a = world.who("a.admin")
    await recharge(world, a, "agent", 2 * 6000)
    items = [item("r1"), item("r2"), item("r3")]
    first = await batch(a, *items)
    again = await batch(a, *items)
    assert [r["status"] for r in first] == [r["status"] for r in again] == [201, 201, 409]
    assert [r["order"]["order_id"] for r in first[:2]] == [
        r["order"]["order_id"] for r in again[:2]]
    assert await world.balances(agent_available("A")) == {agent_available("A"): 0}
    # a key already used, for another request: refused alone; a key repeated in the batch
    # answers as its first item
    changed = await batch(a, item("r1", "online"), item("r2"), item("r2"))
    assert changed[0]["error"]["code"] == "idempotency_conflict"
    assert changed[1]["order"]["order_id"] == changed[2]["order"]["order_id"] == (
        first[1]["order"]["order_id"])
    # the single create under a key a batch used is a repeat of it
    single = await ok(a.post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "agent_wallet"},
        headers={"Idempotency-Key": "r1"}), 201)
    assert single["order_id"] == first[0]["order"]["order_id"]
    assert len(await ok(a.get("/v1/orders", params={"kind": "package"}))) == 2
    assert await trial_balanced(world)


@pytest.mark.req("G2-04", "G2-16", "G2-21", "G2-24")
async def test_batches_and_single_creates_racing_on_one_wallet_never_overdraw_it(
        world: Shop) -> None:
    a = world.who("a.admin")
    await recharge(world, a, "agent", 20 * 6000)
    batches = [batch(a, *(item(f"b{n}-{i}") for i in range(15))) for n in range(2)]
    singles = [a.post("/v1/orders", json={"package_id": "p90", "iccid": CARD,
                                          "method": "agent_wallet"}) for _ in range(15)]
    answers = await asyncio.gather(*batches, *singles)
    from_batches = [r["status"] for found in answers[:2] for r in found]
    from_singles = [answer.status_code for answer in answers[2:]]
    assert sorted(set(from_batches + from_singles)) == [201, 409]
    assert from_batches.count(201) + from_singles.count(201) == 20
    assert await world.balances(agent_available("A")) == {agent_available("A"): 0}
    assert len(await ok(a.get("/v1/orders", params={"kind": "package"}))) == 20
    assert await trial_balanced(world)


@pytest.mark.req("G2-03")
async def test_a_batch_is_refused_whole_when_an_item_is_not_the_callers_to_order(
        world: Shop) -> None:
    a = world.who("a.admin")
    mine, theirs = item("f1"), item("f2") | {"agent_id": "B"}
    await ok(a.post("/v1/orders/batch", json={"orders": [mine, theirs]}), 403)
    await ok(world.who("a.viewer").post("/v1/orders/batch", json={"orders": [mine]}), 403)
    await ok(a.post("/v1/orders/batch", json={"orders": []}), 422)
    await ok(a.post("/v1/orders/batch", json={"orders": [{**mine, "idempotency_key": ""}]}),
             422)
    assert await ok(a.get("/v1/orders", params={"kind": "package"})) == []


@pytest.mark.req("G2-04", "G2-21")
async def test_a_balance_spent_while_the_batch_was_written_is_decided_again_under_the_lock(
        world: Shop) -> None:
    a = world.who("a.admin")
    await recharge(world, a, "agent", 5 * 6000)
    async with await psycopg.AsyncConnection.connect(world.settings.require_database(),
                                                     autocommit=True) as other:
        async with other.transaction():  # another debit holds the wallet, not committed yet
            await ledger.transfer(other, move("elsewhere", agent_available("A"),
                                              order_escrow("x1"), 2 * 6000))
            sent = asyncio.create_task(batch(a, *(item(f"late-{i}") for i in range(5))))
            await asyncio.sleep(1.5)  # the batch decided on 30000 and waits for the wallet
        results = await sent
    assert [r["status"] for r in results] == [201, 201, 201, 409, 409]
    assert results[3]["error"] == INSUFFICIENT
    assert await world.balances(agent_available("A")) == {agent_available("A"): 0}
    assert len(await ok(a.get("/v1/orders", params={"kind": "package"}))) == 3
    assert await trial_balanced(world)
