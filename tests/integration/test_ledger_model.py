"""The store against a model: a hypothesis state machine drives `store.ledger` with random
transfers, clawbacks, holds, partial posts, voids, reversals, exact repeats, conflicting repeats
and all-or-nothing batches, and after every step compares each account's four totals with an
in-memory model written from the spec alone (not from `domain.ledger`)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any, ClassVar

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

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
    agent_available,
    card_wallet,
    hold,
    order_escrow,
    post,
    void,
)
from store import ledger
from store.db import Conn

pytestmark = pytest.mark.integration
_EXAMPLES = itertools.count()
amounts = st.integers(1, 600)
pick = st.integers(0, 10**6)


@dataclass
class Totals:
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending


class LedgerMachine(RuleBasedStateMachine):
    """One example: its own accounts (a fresh namespace) plus the shared revenue and channel."""

    url: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.ns = f"m{next(_EXAMPLES)}"
        self.runner = asyncio.Runner()
        self.conn: Conn = self.runner.run(psycopg.AsyncConnection.connect(self.url,
                                                                          autocommit=True))
        iccid = f"8986{int(self.ns[1:]):016d}"
        self.floored = [agent_available(self.ns), card_wallet(iccid), order_escrow(self.ns)]
        self.accounts = [*self.floored, REVENUE, PAYMENT_CHANNEL]
        self.model = {key: self._stored_totals(key) for key in self.accounts}
        self.recorded: dict[str, Transfer] = {}
        self.open_holds: dict[str, Transfer] = {}
        self.closed_holds: list[Transfer] = []
        self.reversed: set[str] = set()
        self.ids = itertools.count()

    def teardown(self) -> None:
        self.runner.run(self.conn.close())
        self.runner.close()

    def _stored_totals(self, key: str) -> Totals:
        b = self.runner.run(ledger.balance(self.conn, key))
        return Totals(b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending)

    def _new_id(self) -> str:
        return f"{self.ns}-{next(self.ids)}"

    def _pair(self, first: int, second: int) -> tuple[str, str]:
        debit = self.accounts[first % len(self.accounts)]
        others = [key for key in self.accounts if key != debit]
        return debit, others[second % len(others)]

    def _refused(self, model: dict[str, Totals], t: Transfer) -> bool:
        return (t.debit in self.floored and not t.allow_negative
                and model[t.debit].available < t.amount)

    def _run(self, *batch: Transfer) -> list[ledger.StoredTransfer]:
        return self.runner.run(ledger.transfer(self.conn, *batch))

    @rule(first=pick, second=pick, amount=amounts, clawback=st.booleans())
    def single(self, first: int, second: int, amount: int, clawback: bool) -> None:
        debit, credit = self._pair(first, second)
        t = Transfer(self._new_id(), debit, credit, Fen(amount),
                     FeeType.COMMISSION if clawback else FeeType.COST, allow_negative=clawback)
        self._apply_batch([t])

    @rule(first=pick, second=pick, amounts=st.lists(amounts, min_size=2, max_size=4))
    def batch(self, first: int, second: int, amounts: list[int]) -> None:
        """Several transfers back and forth: all of them or none."""
        debit, credit = self._pair(first, second)
        moves = [Transfer(self._new_id(), *((debit, credit) if i % 2 == 0 else (credit, debit)),
                          Fen(amount), FeeType.COST) for i, amount in enumerate(amounts)]
        self._apply_batch(moves)

    def _apply_batch(self, moves: list[Transfer]) -> None:
        after = {key: Totals(**vars(totals)) for key, totals in self.model.items()}
        refused = False
        for t in moves:
            refused = refused or self._refused(after, t)
            after[t.debit].debits_posted += t.amount
            after[t.credit].credits_posted += t.amount
        if refused:
            with pytest.raises(InsufficientFunds):
                self._run(*moves)
            return
        stored = self._run(*moves)
        assert [s.transfer_id for s in stored] == [t.transfer_id for t in moves]
        assert all(s.state == "posted" for s in stored)
        self.model = after
        self.recorded.update((t.transfer_id, t) for t in moves)

    @rule(first=pick, second=pick, amount=amounts)
    def make_hold(self, first: int, second: int, amount: int) -> None:
        debit, credit = self._pair(first, second)
        h = hold(self._new_id(), debit, credit, Fen(amount), FeeType.WITHDRAWAL)
        if self._refused(self.model, h):
            with pytest.raises(InsufficientFunds):
                self._run(h)
            return
        assert self._run(h)[0].state == "pending"
        self.model[debit].debits_pending += amount
        self.model[credit].credits_pending += amount
        self.recorded[h.transfer_id] = h
        self.open_holds[h.transfer_id] = h

    @precondition(lambda self: self.open_holds)
    @rule(which=pick, part=pick, posting=st.booleans())
    def resolve(self, which: int, part: int, posting: bool) -> None:
        h = list(self.open_holds.values())[which % len(self.open_holds)]
        amount = Fen(1 + part % h.amount)
        t = post(h, self._new_id(), amount) if posting else void(h, self._new_id())
        assert self._run(t)[0].state == ("posted" if posting else "voided")
        self.model[h.debit].debits_pending -= h.amount
        self.model[h.credit].credits_pending -= h.amount
        if posting:
            self.model[h.debit].debits_posted += amount
            self.model[h.credit].credits_posted += amount
        self.recorded[t.transfer_id] = t
        self.closed_holds.append(self.open_holds.pop(h.transfer_id))

    @precondition(lambda self: self.closed_holds)
    @rule(which=pick)
    def resolve_again(self, which: int) -> None:
        h = self.closed_holds[which % len(self.closed_holds)]
        with pytest.raises(HoldNotPending):
            self._run(void(h, self._new_id()))

    @precondition(lambda self: self.recorded)
    @rule(which=pick)
    def repeat(self, which: int) -> None:
        t = list(self.recorded.values())[which % len(self.recorded)]
        [stored] = self._run(t)
        assert stored.as_transfer() == t

    @precondition(lambda self: self.recorded)
    @rule(which=pick)
    def conflict(self, which: int) -> None:
        t = list(self.recorded.values())[which % len(self.recorded)]
        changed = Transfer(t.transfer_id, t.debit, t.credit, Fen(t.amount + 1), t.fee_type)
        with pytest.raises(IdempotencyConflict):
            self._run(changed)

    @precondition(lambda self: any(t.posts_money for t in self.recorded.values()))
    @rule(which=pick, allow_negative=st.booleans())
    def reverse(self, which: int, allow_negative: bool) -> None:
        posted = [t for t in self.recorded.values() if t.posts_money]
        original = posted[which % len(posted)]
        new_id = self._new_id()
        call = ledger.reverse(self.conn, original.transfer_id, new_id,
                              allow_negative=allow_negative)
        back = Transfer(new_id, original.credit, original.debit, original.amount,
                        original.fee_type, reverses=original.transfer_id,
                        allow_negative=allow_negative)
        expected: type[Exception] | None = None
        if original.transfer_id in self.reversed:
            expected = AlreadyReversed
        elif self._refused(self.model, back):
            expected = InsufficientFunds
        if expected is not None:
            with pytest.raises(expected):
                self.runner.run(call)
            return
        self.runner.run(call)
        self.model[back.debit].debits_posted += back.amount
        self.model[back.credit].credits_posted += back.amount
        self.reversed.add(original.transfer_id)
        self.recorded[new_id] = back

    @invariant()
    def totals_match_the_model(self) -> None:
        stored = {key: self._stored_totals(key) for key in self.accounts}
        assert stored == self.model

    @invariant()
    def floors_hold_without_clawbacks(self) -> None:
        overdrawn = {t.debit for t in self.recorded.values() if t.allow_negative}
        for key in self.floored:
            assert key in overdrawn or self.model[key].available >= 0

    @invariant()
    def the_ledger_sums_to_zero(self) -> None:
        assert self.runner.run(ledger.trial_balance(self.conn)).balanced


@pytest.mark.req("G2-21", "G2-16", "G2-25")
def test_the_store_behaves_like_the_model(db_url: str) -> None:
    machine: Any = type("Machine", (LedgerMachine,), {"url": db_url})
    run = settings(max_examples=25, stateful_step_count=30, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])
    run_state_machine_as_test(machine, settings=run)
