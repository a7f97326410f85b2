"""Issue 16 (Speed): an account with no floor (revenue, the payment channel) is never locked,
its totals still add up, statements still close at the ledger balance, and a Flow-2 debit
appended last (`ledger.append_last`) is refused by the database exactly as `transfer` would."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from domain.ledger import (
    PAYMENT_CHANNEL,
    REVENUE,
    FeeType,
    InsufficientFunds,
    agent_available,
    order_escrow,
)
from store import ledger
from tests.support.ledger import balances, connect, move

pytestmark = pytest.mark.integration

A1 = agent_available("a1")


@pytest.mark.req("G2-21", "G2-25")
async def test_an_account_with_no_floor_is_credited_without_waiting_for_anyone(
        db_url: str) -> None:
    async with connect(db_url) as one, connect(db_url) as other:
        await ledger.transfer(one, move("fund", PAYMENT_CHANNEL, A1, 1000, FeeType.RECHARGE))
        await ledger.transfer(one, move("first", A1, REVENUE, 1))  # revenue exists (opened)
        middle = (await (await one.execute("SELECT ledger_now()")).fetchone() or [None])[0]
        async with one.transaction():  # holds A1 and has credited revenue, uncommitted
            await ledger.transfer(one, move("x1", A1, REVENUE, 100))
            # another transaction through the same revenue and channel accounts goes on
            await asyncio.wait_for(ledger.transfer(
                other, move("x2", PAYMENT_CHANNEL, REVENUE, 50)), timeout=10)
        assert await balances(one, A1, REVENUE, PAYMENT_CHANNEL) == {
            A1: 899, REVENUE: 151, PAYMENT_CHANNEL: -1050}
        for account in (REVENUE, PAYMENT_CHANNEL):
            whole = await ledger.statement(one, account)
            assert whole.closing == (await ledger.balance(one, account)).posted
        later = await ledger.statement(one, PAYMENT_CHANNEL, start=middle)
        assert (later.opening, later.closing, len(later.lines)) == (-1000, -1050, 1)
        assert (await ledger.trial_balance(one)).balanced
        row = await (await one.execute(
            "SELECT credits_posted FROM ledger_accounts WHERE account = %s", (REVENUE,))
        ).fetchone()
        assert row == (0,), "the revenue row itself is never updated"


@pytest.mark.req("G2-04", "G2-21")
async def test_a_debit_appended_last_is_refused_by_the_database_and_leaves_nothing(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await ledger.transfer(conn, move("fund", PAYMENT_CHANNEL, A1, 600, FeeType.RECHARGE))
        with pytest.raises(psycopg.errors.CheckViolation, match="below its floor"):
            async with conn.pipeline(), conn.transaction():
                await ledger.append_last(conn, move("pay-1", A1, order_escrow("o1"), 601))
        async with conn.pipeline(), conn.transaction():
            await ledger.append_last(conn, move("pay-2", A1, order_escrow("o2"), 600))
        assert await balances(conn, A1, order_escrow("o1"), order_escrow("o2")) == {
            A1: 0, order_escrow("o1"): 0, order_escrow("o2"): 600}
        with pytest.raises(psycopg.errors.UniqueViolation):  # the id is the idempotency key
            async with conn.pipeline(), conn.transaction():
                await ledger.append_last(conn, move("pay-2", PAYMENT_CHANNEL, A1, 5))
        # `transfer` then tells a repeat from a conflict, as always
        again = await ledger.transfer(conn, move("pay-2", A1, order_escrow("o2"), 600))
        assert again[0].amount == 600
        assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("G2-21", "G2-25", "G2-16")
async def test_a_large_batch_is_written_in_bulk_with_the_same_balances_and_refusals(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await ledger.transfer(conn, move("fund", PAYMENT_CHANNEL, A1, 1000, FeeType.RECHARGE))
        too_much = [move(f"t{i}", A1, order_escrow(f"o{i}"), 60) for i in range(20)]
        with pytest.raises(InsufficientFunds):  # the 17th would overdraw: none is applied
            await ledger.transfer(conn, *too_much)
        assert await balances(conn, A1) == {A1: 1000}
        moves = [move(f"m{i}", A1, order_escrow(f"o{i}"), 50) for i in range(20)]
        stored = await ledger.transfer(conn, *moves)
        assert [t.transfer_id for t in stored] == [t.transfer_id for t in moves]
        again = await ledger.transfer(conn, *moves)  # a repeat changes nothing
        assert [t.created_at for t in again] == [t.created_at for t in stored]
        lines = (await ledger.statement(conn, A1)).lines
        assert [line.balance_after for line in lines] == [1000 - 50 * i for i in range(21)]
        row = await (await conn.execute(
            "SELECT array_agg(balance_after ORDER BY entry_id) FROM ledger_entries "
            "WHERE account = %s", (A1,))).fetchone()
        assert row is not None and row[0] == [line.balance_after for line in lines]
        assert (await ledger.trial_balance(conn)).balanced
