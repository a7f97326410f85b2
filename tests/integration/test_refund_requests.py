"""Refund requests through the API (§7.2 "refund package order": the platform operator
requests, platform finance approves; SM-G2-ORDER "refund approved → refunding"): a request
leaves the order alone; the approval runs the refund (at once from a wallet, through the
channel online, in parts once completed); a rejection needs a reason; one open request per
order; a repeat approval answers the same; an approval the order's state no longer allows
leaves the request failed with the refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from core.settings import Settings
from domain.ledger import REVENUE, agent_available, card_wallet, order_escrow
from store.audit import history
from tests.support.orders import CARD, Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok
from tests.support.refunds import approve, request_refund

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        yield made


async def events(world: Shop, kind: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(world.settings.require_database()) as c:
        rows = await (await c.execute(
            "SELECT data FROM outbox_events WHERE kind = %s ORDER BY enqueued_seq",
            (kind,))).fetchall()
    return [row[0] for row in rows]


async def audit_states(world: Shop, request_id: str) -> list[tuple[str | None, str, str]]:
    async with await psycopg.AsyncConnection.connect(world.settings.require_database()) as c:
        found = await history(c, "refund_request", request_id)
    return [(e.from_state, e.to_state, e.actor_role) for e in found]


async def flow_2(world: Shop) -> dict[str, Any]:
    """A Flow 2 order of A1 (paid from its wallet), fulfilling."""
    a1 = world.who("a1.admin")
    await recharge(world, a1, "agent", 7000)
    return dict(await order(a1, "agent_wallet"))


@pytest.mark.req("X-01", "SM-G2-ORDER", "G2-20", "C-05", "C-08")
async def test_the_operator_requests_and_finance_approves_a_wallet_refund(
        world: Shop) -> None:
    made = await flow_2(world)
    oid = made["order_id"]
    asked = await request_refund(world, oid, "未开通", key="k1")
    assert (asked["state"], asked["amount_fen"], asked["reason"]) == ("requested", None, "未开通")
    assert (await request_refund(world, oid, "未开通", key="k1"))["request_id"] == (
        asked["request_id"])  # C-05: a repeat answers the first request
    assert (await ok(world.market.admin.get(f"/v1/orders/{oid}")))["state"] in (
        "paid", "fulfilling")
    queue = await ok(world.who("finance").get("/v1/refund-requests?state=requested"))
    assert [r["request_id"] for r in queue] == [asked["request_id"]]

    decided = await approve(world, asked["request_id"])
    assert (decided["state"], decided["decided_by"]) == ("approved", "user:finance")
    assert decided["decided_at"] is not None
    assert decided["order"]["state"] == "refunded" and decided["order"]["reason"] == "未开通"
    assert await world.balances(agent_available("A1")) == {agent_available("A1"): 7000}
    again = await approve(world, asked["request_id"])  # a repeat answers the same
    assert (again["state"], again["order"]["state"], again["decided_at"]) == (
        "approved", "refunded", decided["decided_at"])
    assert await world.balances(agent_available("A1")) == {agent_available("A1"): 7000}
    assert [e["request_id"] for e in await events(world, "refund_requested")] == [
        asked["request_id"]]
    assert [e["order_id"] for e in await events(world, "refund_approved")] == [oid]
    assert await audit_states(world, asked["request_id"]) == [
        (None, "requested", "platform_operator"), ("requested", "approved", "platform_finance")]
    assert await ok(world.who("finance").get("/v1/refund-requests?state=requested")) == []


@pytest.mark.req("X-01", "SM-G2-ORDER", "G2-16", "G2-20", "G2-21")
async def test_a_completed_online_order_is_refunded_in_parts_by_approved_requests(
        world: Shop) -> None:
    """A part (3000 of 9000) asked and approved: `refunding` until the channel's
    notification, then `partially_refunded`; the rest: `refunded`, every account at 0."""
    made = await order(world.who("buyer1"), "online")
    await world.pay(made, "fulfilling")
    oid = made["order_id"]
    await ok(world.market.admin.post(f"/v1/orders/{oid}/complete"))
    part = await request_refund(world, oid, "部分退订", 3000)
    decided = await approve(world, part["request_id"])
    assert decided["order"]["state"] in ("refunding", "partially_refunded")
    half = await world.reaches(oid, "partially_refunded")
    assert half["refunded_fen"] == 3000
    rest = await request_refund(world, oid, "全部退订")
    await approve(world, rest["request_id"])
    done = await world.reaches(oid, "refunded")
    assert done["refunded_fen"] == 9000
    accounts = (REVENUE, agent_available("A"), agent_available("A1"), order_escrow(oid),
                "external:payment_channel")
    assert await world.balances(*accounts) == dict.fromkeys(accounts, 0)


@pytest.mark.req("X-01", "SM-G2-ORDER", "C-06", "C-08")
async def test_finance_rejects_a_request_with_a_reason(world: Shop) -> None:
    made = await flow_2(world)
    oid = made["order_id"]
    asked = await request_refund(world, oid)
    path = f"/v1/refund-requests/{asked['request_id']}"
    await ok(world.who("finance").post(path + "/reject", json={}), 422)
    await ok(world.who("finance").post(path + "/reject", json={"reason": ""}), 422)
    rejected = await ok(world.who("finance").post(path + "/reject", json={"reason": "已开通"}))
    assert (rejected["state"], rejected["decision_reason"], rejected["decided_by"]) == (
        "rejected", "已开通", "user:finance")
    again = await ok(world.who("finance").post(path + "/reject", json={"reason": "已开通"}))
    assert again == rejected
    refused = await approve(world, asked["request_id"], code=409)
    assert refused["detail"]["code"] == "refund_request_decided"
    assert (await ok(world.market.admin.get(f"/v1/orders/{oid}")))["state"] in (
        "paid", "fulfilling")
    assert await world.balances(agent_available("A1")) == {agent_available("A1"): 0}
    assert [e["reason"] for e in await events(world, "refund_rejected")] == ["已开通"]
    assert await audit_states(world, asked["request_id"]) == [
        (None, "requested", "platform_operator"), ("requested", "rejected", "platform_finance")]


@pytest.mark.req("X-01", "SM-G2-ORDER", "C-06")
async def test_one_open_request_per_order_and_the_refusals_of_the_refund(
        world: Shop) -> None:
    made = await flow_2(world)
    oid = made["order_id"]
    first = await request_refund(world, oid)
    second = await request_refund(world, oid, code=409)
    assert second["detail"] == {"code": "refund_already_requested",
                                "message_zh": "该订单已有待审批的退款申请",
                                "message_en": ("The order already has a refund request "
                                               "waiting for approval")}
    await ok(world.who("finance").post(f"/v1/refund-requests/{first['request_id']}/reject",
                                       json={"reason": "重复"}))
    await request_refund(world, oid)  # the first one decided: a new one may be asked
    part = await request_refund(world, oid, amount=1000, code=409)  # not completed
    assert part["detail"]["code"] == "partial_refund_not_allowed"
    unpaid = await order(world.who("buyer"), "online")
    wrong = await request_refund(world, unpaid["order_id"], code=409)
    assert wrong["detail"]["code"] == "invalid_transition"
    buyer = world.who("buyer1")
    await recharge(world, buyer, "card", 9000, CARD)
    done = await order(buyer, "wallet")
    await ok(world.market.admin.post(f"/v1/orders/{done['order_id']}/complete"))
    too_much = await request_refund(world, done["order_id"], amount=9001, code=422)
    assert too_much["detail"][0]["code"] == "refund_exceeds_refundable"
    part = await request_refund(world, done["order_id"], amount=4000)
    decided = await approve(world, part["request_id"])
    assert (decided["order"]["state"], decided["order"]["refunded_fen"]) == (
        "partially_refunded", 4000)
    assert await world.balances(card_wallet(CARD)) == {card_wallet(CARD): 4000}


@pytest.mark.req("X-01", "SM-G2-ORDER", "C-06")
async def test_an_approval_the_order_no_longer_allows_fails_the_request(world: Shop) -> None:
    made = await flow_2(world)
    oid = made["order_id"]
    asked = await request_refund(world, oid)
    await ok(world.market.admin.post(f"/v1/orders/{oid}/refund", json={"reason": "自动"}))
    refused = await approve(world, asked["request_id"], code=409)
    assert refused["detail"]["code"] == "invalid_transition"
    again = await approve(world, asked["request_id"], code=409)  # a repeat answers the same
    assert again == refused
    found = await ok(world.who("finance").get(f"/v1/refund-requests/{asked['request_id']}"))
    assert (found["state"], found["failure"]["code"], found["order"]["state"]) == (
        "failed", "invalid_transition", "refunded")
    assert await world.balances(agent_available("A1")) == {agent_available("A1"): 7000}
    assert await audit_states(world, asked["request_id"]) == [
        (None, "requested", "platform_operator"), ("requested", "failed", "platform_finance")]
