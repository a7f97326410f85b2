"""The worked money flows of the spec, booked through the ledger as the orders, commission and
withdrawal modules will book them: G2-24 Flow 1 and Flow 2, the G2-05 multi-level split, the
G2-06 summary figures, commission frozen → available and its clawback (§5.7, G2-16), and a
withdrawal (SM-G2-WITHDRAWAL)."""

from __future__ import annotations

import pytest

from core.money import BasisPoints, Fen, share
from domain.ledger import (
    PAYMENT_CHANNEL,
    REVENUE,
    FeeType,
    InsufficientFunds,
    agent_available,
    agent_commission_frozen,
    agent_withdrawing,
    order_escrow,
)
from store import ledger
from store.db import Conn
from tests.support.ledger import balances, connect, move

pytestmark = pytest.mark.integration
A, A1 = agent_available("A"), agent_available("A1")
ESCROW = order_escrow("o1")


async def _pay_online(conn: Conn, retail: int) -> None:
    """Flow 1 payment: the end user pays the retail price into the order's escrow."""
    await ledger.transfer(conn, move("o1:pay", PAYMENT_CHANNEL, ESCROW, retail, FeeType.RETAIL,
                                     order_id="o1", order_line="1"))


@pytest.mark.req("G2-24", "G2-02", "G2-06", "G2-23")
async def test_flow_1_the_end_user_pays_and_completion_splits_the_escrow(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _pay_online(conn, 9000)
        assert await balances(conn, ESCROW) == {ESCROW: 9000}
        tags = {"order_id": "o1", "order_line": "1"}
        await ledger.transfer(conn, move("o1:cost", ESCROW, REVENUE, 6000, FeeType.COST, **tags),
                              move("o1:diff", ESCROW, A, 3000, FeeType.PRICE_DIFFERENCE, **tags))
        commission = share(Fen(6000), BasisPoints(500))  # 5 % of the cost price (H)
        await ledger.transfer(conn, move("o1:comm", REVENUE, A, commission, FeeType.COMMISSION,
                                         **tags))
        assert await balances(conn, ESCROW, REVENUE, A, PAYMENT_CHANNEL) == {
            ESCROW: 0, REVENUE: 5700, A: 3300, PAYMENT_CHANNEL: -9000}
        lines = (await ledger.statement(conn, A)).lines
        assert [(line.entry.fee_type, line.entry.amount, line.balance_after,
                 line.entry.order_line) for line in lines] == [
            ("price_difference", 3000, 3000, "1"), ("commission", 300, 3300, "1")]
        booked = await ledger.order_transfers(conn, "o1")
        assert sorted((t.order_line, t.fee_type, t.amount) for t in booked) == [
            ("1", "commission", 300), ("1", "cost", 6000), ("1", "price_difference", 3000),
            ("1", "retail", 9000)]
        assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("G2-24", "G2-03", "G2-04", "G2-06", "G2-14")
async def test_flow_2_the_agent_pays_the_cost_from_its_balance_or_nothing_happens(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await ledger.transfer(conn, move("A:recharge", PAYMENT_CHANNEL, A, 10000,
                                         FeeType.RECHARGE))
        await ledger.transfer(conn, move("o1:order", A, ESCROW, 6000, FeeType.COST,
                                         order_id="o1", order_line="1"))
        refused_escrow = order_escrow("o2")
        with pytest.raises(InsufficientFunds) as refused:  # 4000 left, the next one costs 6000
            await ledger.transfer(conn, move("o2:order", A, refused_escrow, 6000, FeeType.COST,
                                             order_id="o2", order_line="1"))
        assert (refused.value.available, refused.value.needed) == (4000, 6000)
        assert (refused.value.code, refused.value.message_zh, refused.value.message_en) == (
            "insufficient_balance", "余额不足", "Insufficient balance")
        await ledger.transfer(conn, move("o1:cost", ESCROW, REVENUE, 6000, FeeType.COST,
                                         order_id="o1", order_line="1"))
        await ledger.transfer(conn, move("o1:comm", REVENUE, A, 300, FeeType.COMMISSION))
        assert await balances(conn, A, ESCROW, refused_escrow, REVENUE) == {
            A: 4300, ESCROW: 0, refused_escrow: 0, REVENUE: 5700}
        assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("G2-05", "G2-24")
async def test_multi_level_flow_1_pays_each_level_its_difference(db_url: str) -> None:
    async with connect(db_url) as conn:  # platform→A 6000, A→A1 7000, A1 retail 9000
        await _pay_online(conn, 9000)
        await ledger.transfer(
            conn, move("o1:cost", ESCROW, REVENUE, 6000, FeeType.COST),
            move("o1:diff:A", ESCROW, A, 1000, FeeType.PRICE_DIFFERENCE),
            move("o1:diff:A1", ESCROW, A1, 2000, FeeType.PRICE_DIFFERENCE))
        assert await balances(conn, REVENUE, A, A1, ESCROW) == {
            REVENUE: 6000, A: 1000, A1: 2000, ESCROW: 0}


@pytest.mark.req("G2-05", "G2-24")
async def test_multi_level_flow_2_the_seller_pays_its_own_cost(db_url: str) -> None:
    async with connect(db_url) as conn:
        await ledger.transfer(conn, move("A1:recharge", PAYMENT_CHANNEL, A1, 7000,
                                         FeeType.RECHARGE))
        await ledger.transfer(conn, move("o1:order", A1, ESCROW, 7000, FeeType.COST))
        await ledger.transfer(conn, move("o1:cost", ESCROW, REVENUE, 6000, FeeType.COST),
                              move("o1:diff:A", ESCROW, A, 1000, FeeType.PRICE_DIFFERENCE))
        assert await balances(conn, REVENUE, A, ESCROW) == {REVENUE: 6000, A: 1000, ESCROW: 0}
        a1 = (await ledger.statement(conn, A1)).lines
        assert [line.entry.amount for line in a1] == [7000, -7000]  # A1's wallet −7000


@pytest.mark.req("G2-16", "G2-15", "G2-21")
async def test_commission_is_frozen_released_and_clawed_back_into_debt(db_url: str) -> None:
    frozen = agent_commission_frozen("A")
    async with connect(db_url) as conn:
        await ledger.transfer(conn, move("c1:freeze", REVENUE, frozen, 500, FeeType.COMMISSION),
                              move("c2:freeze", REVENUE, frozen, 300, FeeType.COMMISSION))
        await ledger.transfer(conn, move("c1:release", frozen, A, 500, FeeType.COMMISSION))
        await ledger.reverse(conn, "c2:freeze", "c2:reversed")  # source refunded while frozen
        await ledger.transfer(conn, move("A:spend", A, ESCROW, 400, FeeType.COST))
        await ledger.transfer(conn, move("c1:clawback", A, REVENUE, 500, FeeType.COMMISSION,
                                         allow_negative=True))
        assert await balances(conn, A, frozen, REVENUE) == {A: -400, frozen: 0, REVENUE: 0}
        with pytest.raises(InsufficientFunds):  # a negative balance blocks withdrawals
            await ledger.transfer(conn, move("wd", A, agent_withdrawing("A"), 1,
                                             FeeType.WITHDRAWAL))
        await ledger.transfer(conn, move("c3:release", REVENUE, A, 600, FeeType.COMMISSION))
        assert await balances(conn, A) == {A: 200}  # later credits pay the debt first


@pytest.mark.req("G2-15", "G2-24")
async def test_a_withdrawal_moves_to_withdrawing_and_pays_out_less_the_fee(db_url: str) -> None:
    withdrawing = agent_withdrawing("A")
    async with connect(db_url) as conn:
        await ledger.transfer(conn, move("c1", REVENUE, A, 10000, FeeType.COMMISSION))
        await ledger.transfer(conn, move("wd1:request", A, withdrawing, 8000, FeeType.WITHDRAWAL,
                                         order_id="wd1"))
        fee = share(Fen(8000), BasisPoints(60))  # 0.6 %
        await ledger.transfer(
            conn, move("wd1:payout", withdrawing, PAYMENT_CHANNEL, 8000 - fee, FeeType.PAYOUT),
            move("wd1:fee", withdrawing, REVENUE, fee, FeeType.WITHDRAWAL_FEE))
        await ledger.transfer(conn, move("wd2:request", A, withdrawing, 2000, FeeType.WITHDRAWAL))
        await ledger.reverse(conn, "wd2:request", "wd2:rejected")
        assert await balances(conn, A, withdrawing, REVENUE, PAYMENT_CHANNEL) == {
            A: 2000, withdrawing: 0, REVENUE: -10000 + 48, PAYMENT_CHANNEL: 8000 - 48}
