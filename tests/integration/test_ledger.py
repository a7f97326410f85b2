"""The ledger on real PostgreSQL: idempotency, the database's own guards (zero-sum at COMMIT,
immutability, floors), holds, reversals, statements, and many concurrent transfers."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import Fen
from domain.ledger import (
    PAYMENT_CHANNEL,
    REVENUE,
    AlreadyReversed,
    FeeType,
    HoldNotPending,
    IdempotencyConflict,
    InsufficientFunds,
    Transfer,
    account_kind,
    agent_available,
    agent_withdrawing,
    card_wallet,
    is_account,
    order_escrow,
)
from store import ledger
from store.db import Conn
from store.errors import NotFound
from tests.support.ledger import balances, connect, move
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration
A1, A2 = agent_available("a1"), agent_available("a2")
W1 = agent_withdrawing("a1")
WALLET = card_wallet("89860012345678901234")


async def _fund(conn: Conn, account: str, amount: int, tid: str = "fund") -> None:
    await ledger.transfer(conn, move(tid, PAYMENT_CHANNEL, account, amount, FeeType.RECHARGE))


@pytest.mark.req("G2-21")
async def test_a_repeated_transfer_returns_the_original_and_changes_nothing(db_url: str) -> None:
    async with connect(db_url) as conn:
        t = move("pay-1", PAYMENT_CHANNEL, A1, 5000, FeeType.RECHARGE, order_id="r1",
                 metadata={"channel": "alipay", "参考": "x"})
        [first] = await ledger.transfer(conn, t)
        [again] = await ledger.transfer(conn, t)
        [_, third] = await ledger.transfer(conn, move("other", PAYMENT_CHANNEL, A1, 1), t)
        assert again == first == third and first.metadata == {"channel": "alipay", "参考": "x"}
        assert await balances(conn, A1, PAYMENT_CHANNEL) == {A1: 5001, PAYMENT_CHANNEL: -5001}
        statement = await ledger.statement(conn, A1)
        assert [line.entry.transfer_id for line in statement.lines] == ["pay-1", "other"]


@pytest.mark.req("G2-21")
async def test_the_same_id_with_another_content_is_a_conflict_and_applies_nothing(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await ledger.transfer(conn, move("pay-1", PAYMENT_CHANNEL, A1, 5000))
        for changed in [move("pay-1", PAYMENT_CHANNEL, A1, 5001),
                        move("pay-1", PAYMENT_CHANNEL, A2, 5000),
                        move("pay-1", PAYMENT_CHANNEL, A1, 5000, FeeType.RECHARGE),
                        move("pay-1", PAYMENT_CHANNEL, A1, 5000, metadata={"x": 1})]:
            with pytest.raises(IdempotencyConflict) as refused:
                await ledger.transfer(conn, move("new", PAYMENT_CHANNEL, A2, 7), changed)
            assert refused.value.code == "idempotency_conflict"
        assert await balances(conn, A1, A2) == {A1: 5000, A2: 0}
        with pytest.raises(NotFound):
            await ledger.get_transfer(conn, "new")


@pytest.mark.req("G2-04", "G2-16")
async def test_a_refused_debit_leaves_nothing_behind(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _fund(conn, A1, 500)
        with pytest.raises(InsufficientFunds) as refused:
            await ledger.transfer(conn, move("ok", PAYMENT_CHANNEL, A2, 100),
                                  move("too-much", A1, order_escrow("o9"), 501))
        assert (refused.value.account, refused.value.available, refused.value.needed) == (
            A1, 500, 501)
        assert await balances(conn, A1, A2) == {A1: 500, A2: 0}
        count = await (await conn.execute(
            "SELECT count(*) FROM ledger_accounts WHERE account = %s", (order_escrow("o9"),)
        )).fetchone()
        assert count == (0,)  # not even the account created on first use


@pytest.mark.req("G2-21")
async def test_the_database_refuses_an_unbalanced_transfer_at_commit(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _fund(conn, A1, 500)
        await _fund(conn, REVENUE, 1, "open-revenue")
        await _fund(conn, A2, 1, "open-a2")
        insert = """INSERT INTO ledger_transfers (transfer_id, debit_account, credit_account,
            amount, phase, state, fee_type, content_hash)
            VALUES (%s, %s, %s, 100, 'single', 'posted', 'cost', repeat('0', 64))"""
        attempts = [  # transfer x from, to, and its entries (account, amount)
            (A1, A2, [(A1, -100)]),  # one leg
            (A1, A2, [(A1, -100), (A2, 90)]),  # legs that do not sum to 0
            (A1, A2, [(A1, -100), (A2, 100), (REVENUE, 0)]),  # a zero leg (its CHECK)
            (A1, A2, []),  # no legs at all
            (A1, REVENUE, [(REVENUE, -100), (A1, 100)]),  # balanced, but the wrong way round
        ]
        for debit, credit, legs in attempts:
            with pytest.raises(psycopg.errors.CheckViolation):
                async with conn.transaction():
                    await conn.execute(insert, ("x", debit, credit))
                    for account, amount in legs:
                        await conn.execute("INSERT INTO ledger_entries (transfer_id, account, "
                                           "amount, balance_after) VALUES ('x', %s, %s, 0)",
                                           (account, amount))
        assert await balances(conn, A1, A2) == {A1: 500, A2: 1}
        assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("G2-21")
async def test_transfers_entries_and_totals_cannot_be_changed(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _fund(conn, A1, 500)
        for statement in [
            "UPDATE ledger_transfers SET amount = 1",
            "UPDATE ledger_transfers SET metadata = '{\"x\": 1}'",
            "DELETE FROM ledger_transfers",
            "UPDATE ledger_entries SET amount = amount * 2",
            "DELETE FROM ledger_entries",
            "TRUNCATE ledger_entries, ledger_transfers, ledger_accounts",
            "UPDATE ledger_accounts SET credits_posted = credits_posted + 1",
            "UPDATE ledger_accounts SET floor = 'none'",
            "DELETE FROM ledger_accounts",
            "INSERT INTO ledger_accounts (account, kind, floor, credits_posted) "
            "VALUES ('agent:rich:available', 'agent_available', 'must_not_go_negative', 10)",
        ]:
            with pytest.raises(psycopg.errors.RestrictViolation):
                await conn.execute(statement)
        assert await balances(conn, A1) == {A1: 500}


@pytest.mark.req("G2-16")
async def test_the_database_keeps_the_floor_even_for_a_hand_written_transfer(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _fund(conn, A1, 500)
        await _fund(conn, REVENUE, 1, "open-revenue")
        with pytest.raises(psycopg.errors.CheckViolation, match="below its floor"):
            async with conn.transaction():
                await conn.execute("""INSERT INTO ledger_transfers (transfer_id, debit_account,
                    credit_account, amount, phase, state, fee_type, content_hash)
                    VALUES ('x', %s, %s, 501, 'single', 'posted', 'cost', repeat('0', 64))""",
                                   (A1, REVENUE))
                await conn.execute("""INSERT INTO ledger_entries (transfer_id, account, amount,
                    balance_after) VALUES ('x', %s, -501, 0), ('x', %s, 501, 0)""", (A1, REVENUE))
        with pytest.raises(psycopg.errors.CheckViolation, match="below its floor"):
            await conn.execute("""INSERT INTO ledger_transfers (transfer_id, debit_account,
                credit_account, amount, phase, state, fee_type, content_hash)
                VALUES ('h', %s, %s, 501, 'pending', 'pending', 'cost', repeat('0', 64))""",
                               (A1, REVENUE))
        with pytest.raises(psycopg.errors.CheckViolation, match="mirror"):  # not a reversal
            await conn.execute("""INSERT INTO ledger_transfers (transfer_id, debit_account,
                credit_account, amount, phase, state, fee_type, reverses, allow_negative,
                content_hash) VALUES ('r', %s, %s, 501, 'single', 'posted', 'cost', 'fund', true,
                repeat('0', 64))""", (A1, REVENUE))
        a1 = await ledger.balance(conn, A1)
        assert (a1.posted, a1.available) == (500, 500)


@pytest.mark.req("G2-15", "G2-21")
async def test_a_hold_reserves_then_posts_in_part_or_is_voided(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _fund(conn, A1, 1000)
        held = await ledger.hold(conn, "wd-1", A1, W1, Fen(700), FeeType.WITHDRAWAL,
                                 order_id="wd1")
        assert held.state == "pending"
        a1 = await ledger.balance(conn, A1)
        assert (a1.posted, a1.available, a1.debits_pending) == (1000, 300, 700)
        with pytest.raises(InsufficientFunds):
            await ledger.hold(conn, "wd-2", A1, W1, Fen(301), FeeType.WITHDRAWAL)
        posted = await ledger.post_pending(conn, "wd-1", "wd-1-post", Fen(400))
        assert (posted.phase, posted.pending_id, posted.amount) == ("post_pending", "wd-1", 400)
        assert (await ledger.get_transfer(conn, "wd-1")).state == "posted"
        assert await ledger.post_pending(conn, "wd-1", "wd-1-post", Fen(400)) == posted
        a1, w1 = await ledger.balance(conn, A1), await ledger.balance(conn, W1)
        assert (a1.posted, a1.available, w1.posted, w1.credits_pending) == (600, 600, 400, 0)
        with pytest.raises(HoldNotPending, match="already posted"):
            await ledger.void_pending(conn, "wd-1", "wd-1-void")
        await ledger.hold(conn, "wd-3", A1, W1, Fen(600), FeeType.WITHDRAWAL)
        with pytest.raises(HoldNotPending, match="exceed"):
            await ledger.post_pending(conn, "wd-3", "wd-3-post", Fen(601))
        voided = await ledger.void_pending(conn, "wd-3", "wd-3-void")
        assert voided.state == "voided"
        a1 = await ledger.balance(conn, A1)
        assert (a1.posted, a1.available, a1.debits_pending) == (600, 600, 0)
        assert [line.entry.transfer_id for line in (await ledger.statement(conn, A1)).lines] == [
            "fund", "wd-1-post"]  # holds and voids move no posted money
        assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("G2-21", "G2-16")
async def test_a_reversal_references_the_original_once(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _fund(conn, order_escrow("o1"), 9000, "pay")
        await ledger.transfer(conn, move("split", order_escrow("o1"), A1, 3000,
                                         FeeType.PRICE_DIFFERENCE, order_id="o1",
                                         order_line="1"))
        await ledger.transfer(conn, move("spend", A1, REVENUE, 2000, FeeType.COST))
        with pytest.raises(InsufficientFunds):  # A1 spent most of it
            await ledger.reverse(conn, "split", "split-back")
        back = await ledger.reverse(conn, "split", "split-back", allow_negative=True)
        assert (back.reverses, back.debit_account, back.credit_account, back.fee_type,
                back.order_line) == ("split", A1, order_escrow("o1"), "price_difference", "1")
        assert await balances(conn, A1, order_escrow("o1")) == {A1: -2000,
                                                                order_escrow("o1"): 9000}
        assert await ledger.reverse(conn, "split", "split-back", allow_negative=True) == back
        with pytest.raises(AlreadyReversed):
            await ledger.reverse(conn, "split", "split-back-2", allow_negative=True)
        with pytest.raises(InsufficientFunds):  # negative blocks spending (G2-16)
            await ledger.transfer(conn, move("spend-2", A1, REVENUE, 1, FeeType.COST))
        with pytest.raises(NotFound):
            await ledger.reverse(conn, "nope", "nope-back")


@pytest.mark.req("G2-25")
async def test_a_statement_closes_at_the_ledger_balance(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _fund(conn, WALLET, 10000, "prestore")
        await ledger.transfer(conn, move("buy", WALLET, order_escrow("o1"), 9000,
                                         order_id="o1", order_line="1"))
        middle = (await (await conn.execute("SELECT ledger_now()")).fetchone() or [None])[0]
        await _fund(conn, WALLET, 500, "prestore-2")
        await ledger.transfer(conn, move("buy-2", WALLET, order_escrow("o2"), 1200))
        whole = await ledger.statement(conn, WALLET)
        assert [(line.entry.amount, line.balance_after) for line in whole.lines] == [
            (10000, 10000), (-9000, 1000), (500, 1500), (-1200, 300)]
        assert whole.closing == (await ledger.balance(conn, WALLET)).posted == 300
        assert (whole.lines[1].entry.counterparty, whole.lines[1].entry.order_id,
                whole.lines[1].entry.fee_type) == (order_escrow("o1"), "o1", "retail")
        later = await ledger.statement(conn, WALLET, start=middle)
        assert (later.opening, later.closing, len(later.lines)) == (1000, 300, 2)
        earlier = await ledger.statement(conn, WALLET, end=middle)
        assert (earlier.opening, earlier.closing, len(earlier.lines)) == (0, 1000, 2)
        assert middle is not None
        empty = await ledger.statement(conn, WALLET, start=middle + timedelta(days=1))
        assert (empty.opening, empty.closing, empty.lines) == (300, 300, ())
        stored = await (await conn.execute("SELECT balance_after FROM ledger_entries WHERE "
                                           "account = %s ORDER BY entry_id", (WALLET,))).fetchall()
        assert [row[0] for row in stored] == [line.balance_after for line in whole.lines]


@pytest.mark.req("G2-21", "G2-16")
async def test_concurrent_transfers_never_overdraw_nor_deadlock(db_url: str) -> None:
    floored = [A1, A2, WALLET, order_escrow("o1")]
    everyone = [*floored, REVENUE]
    async with connect(db_url) as conn:
        for i, account in enumerate(floored):
            await _fund(conn, account, 1000, f"fund-{i}")
    applied: list[Transfer] = []
    refused: list[Transfer] = []

    async def client(n: int) -> None:
        rng = random.Random(n)  # noqa: S311
        async with connect(db_url) as conn:
            for i in range(30):
                first, second = rng.sample(everyone, 2)
                # a batch moving both ways between two accounts takes their locks in any order
                batch = [move(f"c{n}-{i}-a", first, second, rng.randint(1, 400)),
                         move(f"c{n}-{i}-b", second, first, rng.randint(1, 400))]
                chosen = batch[:rng.randint(1, 2)]
                try:
                    await ledger.transfer(conn, *chosen)
                    applied.extend(chosen)
                except InsufficientFunds:
                    refused.extend(chosen)

    await asyncio.wait_for(asyncio.gather(*(client(n) for n in range(8))), timeout=120)
    expected = dict.fromkeys(everyone, 0) | dict.fromkeys(floored, 1000)
    for t in applied:
        expected[t.debit] -= t.amount
        expected[t.credit] += t.amount
    async with connect(db_url) as conn:
        assert await balances(conn, *everyone) == expected
        for account in floored:
            lines = (await ledger.statement(conn, account)).lines
            assert all(line.balance_after >= 0 for line in lines), account
            assert lines[-1].balance_after == expected[account] >= 0
        assert (await ledger.trial_balance(conn)).balanced
    assert refused, "the floors were never tested"
    assert len(applied) > 100


@pytest.mark.req("G2-16", "G2-21")
async def test_a_hold_still_posts_after_a_clawback_overdrew_its_account(db_url: str) -> None:
    """Found by the state machine: the database refused to post a hold once a clawback had
    taken the account below 0, though posting only takes what the hold reserved."""
    async with connect(db_url) as conn:
        await _fund(conn, A1, 500)
        await ledger.hold(conn, "wd", A1, W1, Fen(400), FeeType.WITHDRAWAL)
        await ledger.transfer(conn, move("claw", A1, REVENUE, 300, FeeType.COMMISSION,
                                         allow_negative=True))
        assert (await ledger.balance(conn, A1)).available == -200
        await ledger.post_pending(conn, "wd", "wd-post", Fen(250))
        a1 = await ledger.balance(conn, A1)
        assert (a1.posted, a1.available) == (-50, -50)
        assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("G2-21")
async def test_a_hold_changes_state_only_through_its_post_or_void(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _fund(conn, A1, 500)
        await _fund(conn, A2, 1, "open-a2")
        await ledger.hold(conn, "h", A1, W1, Fen(400), FeeType.WITHDRAWAL)
        with pytest.raises(psycopg.errors.RestrictViolation):
            await conn.execute("UPDATE ledger_transfers SET state = 'voided' "
                               "WHERE transfer_id = 'h'")
        too_much = """INSERT INTO ledger_transfers (transfer_id, debit_account, credit_account,
            amount, phase, state, pending_id, fee_type, content_hash)
            VALUES ('p', %s, %s, %s, 'post_pending', 'posted', 'h', 'withdrawal',
                    repeat('0', 64))"""
        for debit, credit, amount in [(A1, W1, 401), (A1, A2, 100), (W1, A1, 100)]:
            with pytest.raises(psycopg.errors.CheckViolation, match="open hold"):
                await conn.execute(too_much, (debit, credit, amount))
        a1 = await ledger.balance(conn, A1)
        assert (a1.available, a1.debits_pending) == (100, 400)
        assert (await ledger.get_transfer(conn, "h")).state == "pending"


@pytest.mark.req("G2-21")
async def test_a_racing_transfer_reusing_an_id_on_other_accounts_is_a_conflict(
        db_url: str) -> None:
    """Two transfers with one id on disjoint accounts share no lock: the second waits on the
    id itself and, once the first commits, is refused as a conflict (nothing applied)."""
    async with connect(db_url) as first, connect(db_url) as second, connect(db_url) as watch:
        async with first.transaction():
            await ledger.transfer(first, move("x", PAYMENT_CHANNEL, A1, 5))
            racing = asyncio.create_task(ledger.transfer(second, move("x", REVENUE, A2, 5)))

            async def second_waits() -> bool:
                row = await (await watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).fetchone()
                return row is not None and row[0] > 0

            await eventually_async(second_waits, timeout=10, what="the racing insert waits")
        with pytest.raises(IdempotencyConflict) as refused:
            await racing
        assert refused.value.transfer_id == "x"
        assert await balances(first, A1, A2, REVENUE) == {A1: 5, A2: 0, REVENUE: 0}


_SCOPES = st.sampled_from(["agent", "enterprise", "order", "supplier", "factory", "wallet",
                           "platform", "external", "Agent", ""])
_PURPOSES = st.sampled_from(["available", "commission_frozen", "withdrawing", "wallet",
                             "alipay", "escrow", "fund", "settlement", "revenue", "spend", ""])
_IDS = st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,66}", fullmatch=True),
                 st.from_regex(r"89[0-9A-F]{15,19}", fullmatch=True),
                 st.text(st.sampled_from("aZ09._-:\n é"), max_size=66))
_KEYS = st.one_of(
    st.tuples(_SCOPES, _IDS, _PURPOSES).map(":".join),
    st.tuples(_SCOPES, _IDS).map(":".join),
    st.sampled_from([REVENUE, PAYMENT_CHANNEL, REVENUE + "\n", "platform:revenue:x"]),
    st.text(max_size=20).filter(lambda text: "\x00" not in text))


@pytest.mark.req("G2-22")
def test_sql_names_the_kind_and_floor_of_a_key_as_the_domain_does(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        @settings(max_examples=500, deadline=None)
        @given(_KEYS)
        def agree(key: str) -> None:
            row = conn.execute("SELECT ledger_account_kind(%s), "
                               "ledger_kind_floor(ledger_account_kind(%s))", (key, key)).fetchone()
            expected = (account_kind(key).name, str(account_kind(key).floor)) if is_account(
                key) else (None, None)
            assert row == expected, key

        agree()
