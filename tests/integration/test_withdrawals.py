"""Withdrawals (G2-15, SM-G2-WITHDRAWAL) through the API, paid out by the payment simulator
over real HTTP: the minimum, the balance, approval by platform finance, payouts paid and
failed, rejection with a reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.settings import Settings
from domain.ledger import PAYMENT_CHANNEL, REVENUE, agent_available, agent_withdrawing
from tests.support.orders import Shop, recharge, shop, spec_world
from tests.support.pricing import ok

pytestmark = pytest.mark.integration
AVAILABLE, WITHDRAWING = agent_available("A"), agent_withdrawing("A")


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings, payout_fail_next=0) as made:
        await spec_world(made)
        await recharge(made, made.who("a.admin"), "agent", 5000)
        yield made


async def ask(world: Shop, amount: int, code: int = 201) -> Any:
    return await ok(world.who("a.admin").post("/v1/withdrawals", json={
        "amount_fen": amount, "account": "6222 0000 1111"}), code)


@pytest.mark.req("G2-15", "G2-16")
async def test_below_the_minimum_or_above_the_balance_is_refused(world: Shop) -> None:
    low = await ask(world, 99, 422)
    [item] = low["detail"]
    assert (item["code"], item["message_zh"], item["message_en"]) == (
        "withdrawal_below_min", "提现金额低于最低提现金额",
        "Amount is below the minimum withdrawal")
    high = await ask(world, 5001, 409)
    assert high["detail"] == {"code": "insufficient_balance", "message_zh": "余额不足",
                              "message_en": "Insufficient balance"}
    assert await world.balances(AVAILABLE, WITHDRAWING) == {AVAILABLE: 5000, WITHDRAWING: 0}


@pytest.mark.req("G2-15", "SM-G2-WITHDRAWAL")
async def test_an_approved_withdrawal_is_paid_out(world: Shop) -> None:
    asked = await ask(world, 2000)
    assert asked["state"] == "requested"
    assert await world.balances(AVAILABLE, WITHDRAWING) == {AVAILABLE: 3000, WITHDRAWING: 2000}
    await ok(world.who("a.admin").post(f"/v1/withdrawals/{asked['order_id']}/approve"), 403)
    await ok(world.who("operator").post(f"/v1/withdrawals/{asked['order_id']}/approve"), 403)
    approved = await ok(world.who("finance").post(
        f"/v1/withdrawals/{asked['order_id']}/approve"))
    assert approved["state"] in ("approved", "paid")
    await world.reaches(str(asked["order_id"]), "paid")
    assert await world.balances(AVAILABLE, WITHDRAWING, PAYMENT_CHANNEL, REVENUE) == {
        AVAILABLE: 3000, WITHDRAWING: 0, PAYMENT_CHANNEL: -3000, REVENUE: 0}


@pytest.mark.req("G2-15", "SM-G2-WITHDRAWAL")
async def test_a_failed_payout_returns_the_money(world: Shop) -> None:
    await world.knobs(payout_fail_next=1)
    asked = await ask(world, 1000)
    await ok(world.who("finance").post(f"/v1/withdrawals/{asked['order_id']}/approve"))
    done = await world.reaches(str(asked["order_id"]), "failed")
    assert done["finished_at"] is not None
    assert await world.balances(AVAILABLE, WITHDRAWING) == {AVAILABLE: 5000, WITHDRAWING: 0}


@pytest.mark.req("G2-15", "SM-G2-WITHDRAWAL", "C-08")
async def test_a_rejection_needs_a_reason_and_returns_the_money(world: Shop) -> None:
    asked = await ask(world, 500)
    path = f"/v1/withdrawals/{asked['order_id']}/reject"
    await ok(world.who("finance").post(path, json={"reason": ""}), 422)
    rejected = await ok(world.who("finance").post(path, json={"reason": "账户信息有误"}))
    assert (rejected["state"], rejected["reason"]) == ("rejected", "账户信息有误")
    assert await world.balances(AVAILABLE, WITHDRAWING) == {AVAILABLE: 5000, WITHDRAWING: 0}
    again = await ok(world.who("finance").post(path, json={"reason": "again"}), 409)
    assert again["detail"]["code"] == "invalid_transition"
