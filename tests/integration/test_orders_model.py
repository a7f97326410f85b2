"""Ledger and order machines together (hypothesis stateful): random recharges, package orders
in both flows and from the card wallet, channel payments (some repeated), cancellations,
completions, withdrawals paid, failed and rejected. After every step: the ledger sums to 0,
no floored account is below 0, every finished package order's escrow is 0, and a repeated
notification changes nothing."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import psycopg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as settings_
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.money import BasisPoints, Fen
from core.payments import PaymentNotification, PayoutNotification
from core.settings import Settings
from domain.ledger import InsufficientFunds, agent_available, card_wallet, order_escrow
from domain.orders.errors import TransitionRefused
from store import ledger, orders
from store.agents import Actor
from store.db import Conn
from store.orders import NewOrder, Order
from store.payment_notifications import apply_once
from tests.support.orders import CARD, shop, spec_world

pytestmark = pytest.mark.integration
TOPIC = "model.orders"
BUYER = Actor("model-buyer", "end_user")
AGENTS = {"A": Actor("model-a", "agent_admin"), "A1": Actor("model-a1", "agent_admin")}
FINANCE = Actor("model-finance", "platform_finance")
_IDS = itertools.count()


def _id(prefix: str) -> str:
    return f"{prefix}{next(_IDS)}x{uuid.uuid4().hex[:6]}"


class OrdersMachine(RuleBasedStateMachine):
    url: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.conn: Conn = self.runner.run(psycopg.AsyncConnection.connect(self.url,
                                                                          autocommit=True))
        self.notices: list[PaymentNotification | PayoutNotification] = []

    def teardown(self) -> None:
        self.runner.run(self.conn.close())
        self.runner.close()

    def run(self, action: Any) -> Any:
        return self.runner.run(action)

    def of(self, kind: str, state: str) -> list[Order]:
        rows = self.run(self.conn.execute(
            "SELECT order_id FROM orders WHERE kind = %s AND state = %s ORDER BY order_id",
            (kind, state)))
        return [self.run(orders.get_order(self.conn, r[0])) for r in self.run(rows.fetchall())]

    def notify(self, notice: PaymentNotification | PayoutNotification) -> str:
        self.notices.append(notice)
        return str(self.run(apply_once(self.conn, notice, TOPIC)))

    def paid(self, order: Order) -> PaymentNotification:
        return PaymentNotification(kind="payment", notify_id=_id("n"), amount_fen=order.amount_fen,
                                   payment_id=f"pay-{order.order_id}",
                                   merchant_order_id=order.order_id, status="succeeded",
                                   paid_at=datetime.now(UTC))

    @rule(wallet=st.sampled_from(["A", "A1", "card"]), amount=st.integers(1, 20000))
    def recharge(self, wallet: str, amount: int) -> None:
        account = card_wallet(CARD) if wallet == "card" else agent_available(wallet)
        new = NewOrder(_id("R"), "recharge", BUYER, {"n": _id("k")})
        made, _ = self.run(orders.create_recharge(
            self.conn, new, wallet=account, amount=Fen(amount), topic=TOPIC,
            iccid=CARD if wallet == "card" else None,
            agent_id=None if wallet == "card" else wallet))
        if amount % 3:  # some stay unpaid
            assert self.notify(self.paid(made)) == "applied"

    @rule(method=st.sampled_from(["online", "wallet", "agent_wallet"]),
          seller=st.sampled_from(["A", "A1"]))
    def order(self, method: str, seller: str) -> None:
        actor = AGENTS[seller] if method == "agent_wallet" else BUYER
        new = NewOrder(_id("P"), "package", actor, {"n": _id("k")})
        try:
            self.run(orders.create_package_order(self.conn, new, package_id="p90",
                                                 agent_id=seller, iccid=CARD, method=method,
                                                 topic=TOPIC))
        except InsufficientFunds:
            rows = self.run(self.conn.execute("SELECT 1 FROM orders WHERE order_id = %s",
                                              (new.order_id,)))
            assert self.run(rows.fetchone()) is None  # nothing was left behind

    @precondition(lambda self: bool(self.of("package", "pending_payment")))
    @rule(pick=st.integers(0, 100), copies=st.integers(1, 3))
    def pay(self, pick: int, copies: int) -> None:
        pending = self.of("package", "pending_payment")
        notice = self.paid(pending[pick % len(pending)])
        outcomes = [self.notify(notice) for _ in range(copies)]
        assert outcomes == ["applied"] + ["repeat"] * (copies - 1)

    @precondition(lambda self: bool(self.of("package", "pending_payment")))
    @rule(pick=st.integers(0, 100))
    def cancel(self, pick: int) -> None:
        pending = self.of("package", "pending_payment")
        self.run(orders.cancel(self.conn, pending[pick % len(pending)], "buyer", BUYER, TOPIC))

    @precondition(lambda self: bool(self.of("package", "fulfilling")))
    @rule(pick=st.integers(0, 100))
    def complete(self, pick: int) -> None:
        going = self.of("package", "fulfilling")
        self.run(orders.complete(self.conn, going[pick % len(going)], FINANCE, TOPIC))

    @precondition(lambda self: bool(self.notices))
    @rule(pick=st.integers(0, 100))
    def repeat_a_notification(self, pick: int) -> None:
        before = self.run(ledger.trial_balance(self.conn))
        assert self.notify(self.notices[pick % len(self.notices)]) == "repeat"
        assert self.run(ledger.trial_balance(self.conn)) == before

    @rule(seller=st.sampled_from(["A", "A1"]), amount=st.integers(100, 5000),
          outcome=st.sampled_from(["paid", "failed", "rejected"]))
    def withdraw(self, seller: str, amount: int, outcome: str) -> None:
        new = NewOrder(_id("W"), "withdrawal", AGENTS[seller], {"n": _id("k")})
        try:
            asked, _ = self.run(orders.request_withdrawal(
                self.conn, new, agent_id=seller, amount=Fen(amount), account="x",
                min_fen=Fen(100), fee_bp=BasisPoints(50), topic=TOPIC))
        except InsufficientFunds:
            return
        if outcome == "rejected":
            self.run(orders.reject_withdrawal(self.conn, asked, "no", FINANCE, TOPIC))
            return
        approved = self.run(orders.approve_withdrawal(self.conn, asked, FINANCE, TOPIC))
        assert self.notify(PayoutNotification(
            kind="payout", notify_id=_id("n"), amount_fen=approved.amount_fen,
            payout_id=approved.order_id, status="paid" if outcome == "paid" else "failed",
            finished_at=datetime.now(UTC))) == "applied"

    @precondition(lambda self: bool(self.of("package", "completed")))
    @rule(pick=st.integers(0, 100))
    def a_finished_order_moves_no_more(self, pick: int) -> None:
        done = self.of("package", "completed")
        with pytest.raises(TransitionRefused):
            self.run(orders.complete(self.conn, done[pick % len(done)], FINANCE, TOPIC))

    @invariant()
    def the_ledger_balances_and_floors_hold(self) -> None:
        trial = self.run(ledger.trial_balance(self.conn))
        assert trial.balanced
        rows = self.run(self.conn.execute(
            "SELECT count(*) FROM ledger_accounts WHERE floor = 'must_not_go_negative' "
            "AND credits_posted - debits_posted - debits_pending < 0"))
        assert self.run(rows.fetchone()) == (0,)

    @invariant()
    def finished_orders_hold_nothing(self) -> None:
        for state in ("completed", "cancelled"):
            for order in self.of("package", state):
                held = self.run(ledger.balance(self.conn, order_escrow(order.order_id)))
                assert held.posted == 0


@pytest.mark.req("G2-16", "G2-21", "G2-24", "C-05", "SM-G2-ORDER", "SM-G2-RECHARGE",
                 "SM-G2-WITHDRAWAL")
def test_orders_and_the_ledger_stay_sound(settings: Settings) -> None:
    async def build() -> None:
        async with shop(settings) as world:
            await spec_world(world)

    asyncio.run(build())
    machine: Any = type("Machine", (OrdersMachine,), {"url": settings.require_database()})
    run = settings_(max_examples=15, stateful_step_count=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
    run_state_machine_as_test(machine, settings=run)

