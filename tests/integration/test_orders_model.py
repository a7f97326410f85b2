"""Ledger and order machines together (hypothesis stateful): random recharges, package orders
in both flows and from the card wallet, channel payments (some repeated), cancellations,
completions, refunds in full and in parts (some repeated with their key), recharge refunds,
interceptions released, withdrawals paid, failed and rejected. After every step: the ledger
sums to 0, no floored account is below 0, every finished package order's escrow is 0, and a
repeated notification or refund changes nothing."""

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
from core.payments import PaymentNotification, PayoutNotification, RefundNotification
from core.settings import Settings
from domain.ledger import InsufficientFunds, agent_available, card_wallet, order_escrow
from domain.orders.errors import NotIntercepted, RefundExceedsRefundable, TransitionRefused
from domain.orders.machines import Kind
from store import ledger, orders, package_orders, refunds, wallet_orders
from store.agents import Actor, create_agent
from store.db import Conn
from store.orders import NewOrder, Order
from store.payment_notifications import apply_once
from store.pricing import set_price
from tests.support.orders import shop, spec_world

pytestmark = pytest.mark.integration
TOPIC = "model.orders"
BUYER = Actor("model-buyer", "end_user")
AGENTS = {"A": Actor("model-a", "agent_admin"), "A1": Actor("model-a1", "agent_admin")}
FINANCE = Actor("model-finance", "platform_finance")
OPERATOR = Actor("model-operator", "platform_operator")
_IDS = itertools.count()
_EXAMPLES = itertools.count()


def _id(prefix: str) -> str:
    return f"{prefix}{next(_IDS)}x{uuid.uuid4().hex[:6]}"


class OrdersMachine(RuleBasedStateMachine):
    url: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.conn: Conn = self.runner.run(psycopg.AsyncConnection.connect(self.url,
                                                                          autocommit=True))
        self.notices: list[PaymentNotification | PayoutNotification | RefundNotification] = []
        n = next(_EXAMPLES)  # each example its own agents and card: examples are independent
        self.agents = {"A": f"M{n}", "A1": f"M{n}s"}
        self.card = f"8986{n + 1000:016d}"
        self.mine: list[str] = []
        self.run(self._prices())

    async def _prices(self) -> None:
        top = await create_agent(self.conn, self.agents["A"], "m", None, ["traffic_card"],
                                 FINANCE)
        sub = await create_agent(self.conn, self.agents["A1"], "m", top.agent_id,
                                 ["traffic_card"], FINANCE)
        for agent, cost in ((top, 6000), (sub, 7000)):
            await set_price(self.conn, "cost", "p90", agent, cost, None, None, FINANCE)
            await set_price(self.conn, "retail", "p90", agent, 9000, None, None, FINANCE)

    def teardown(self) -> None:
        self.runner.run(self.conn.close())
        self.runner.close()

    def run(self, action: Any) -> Any:
        return self.runner.run(action)

    def of(self, kind: str, state: str) -> list[Order]:
        rows = self.run(self.conn.execute(
            "SELECT order_id FROM orders WHERE kind = %s AND state = %s "
            "AND order_id = ANY(%s) ORDER BY order_id", (kind, state, self.mine)))
        return [self.run(orders.get_order(self.conn, r[0])) for r in self.run(rows.fetchall())]

    def new(self, prefix: str, kind: Kind, actor: Actor) -> NewOrder:
        made = NewOrder(_id(prefix), kind, actor, {"n": _id("k")})
        self.mine.append(made.order_id)
        return made

    def notify(self, notice: PaymentNotification | PayoutNotification | RefundNotification
               ) -> str:
        self.notices.append(notice)
        return str(self.run(apply_once(self.conn, notice, TOPIC)))

    def paid(self, order: Order) -> PaymentNotification:
        return PaymentNotification(kind="payment", notify_id=_id("n"), amount_fen=order.amount_fen,
                                   payment_id=f"pay-{order.order_id}",
                                   merchant_order_id=order.order_id, status="succeeded",
                                   paid_at=datetime.now(UTC))

    @rule(wallet=st.sampled_from(["A", "A1", "card"]), amount=st.integers(1, 20000))
    def recharge(self, wallet: str, amount: int) -> None:
        account = (card_wallet(self.card) if wallet == "card"
                   else agent_available(self.agents[wallet]))
        new = self.new("R", "recharge", BUYER)
        made, _ = self.run(wallet_orders.create_recharge(
            self.conn, new, wallet=account, amount=Fen(amount), topic=TOPIC,
            iccid=self.card if wallet == "card" else None,
            agent_id=None if wallet == "card" else self.agents[wallet]))
        if amount % 3:  # some stay unpaid
            assert self.notify(self.paid(made)) == "applied"

    @rule(method=st.sampled_from(["online", "wallet", "agent_wallet"]),
          seller=st.sampled_from(["A", "A1"]))
    def order(self, method: str, seller: str) -> None:
        actor = AGENTS[seller] if method == "agent_wallet" else BUYER
        new = self.new("P", "package", actor)
        try:
            self.run(package_orders.create_package_order(self.conn, new, package_id="p90",
                                                 agent_id=self.agents[seller],
                                                 iccid=self.card, method=method,
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
        self.run(package_orders.complete(self.conn, going[pick % len(going)], FINANCE, TOPIC))

    def refundable(self) -> list[Order]:
        return [o for state in ("paid", "fulfilling", "completed", "partially_refunded")
                for o in self.of("package", state)]

    @precondition(lambda self: bool(self.refundable()))
    @rule(pick=st.integers(0, 100), repeat=st.booleans())
    def refund(self, pick: int, repeat: bool) -> None:
        """A refund of all that remains of an order."""
        some = self.refundable()
        self.refund_some(some[pick % len(some)], None, repeat)

    @precondition(lambda self: bool(self.of("package", "completed")
                                    + self.of("package", "partially_refunded")))
    @rule(pick=st.integers(0, 100), part=st.integers(1, 4000), repeat=st.booleans())
    def refund_in_part(self, pick: int, part: int, repeat: bool) -> None:
        """A completed order refunded in part (at most what remains)."""
        some = self.of("package", "completed") + self.of("package", "partially_refunded")
        order = some[pick % len(some)]
        self.refund_some(order, Fen(min(part, order.amount_fen - order.refunded_fen)), repeat)

    def refund_some(self, order: Order, amount: Fen | None, repeat: bool) -> None:
        """Refund `order`, sometimes repeated with its idempotency key: the repeat returns the
        order and moves no money; then the money comes back."""
        key = _id("rk")
        going = self.run(package_orders.start_refund(self.conn, order, FINANCE, TOPIC,
                                                     "refund", amount, key))
        if repeat:
            moves = len(self.run(ledger.order_transfers(self.conn, order.order_id)))
            again = self.run(package_orders.start_refund(self.conn, order, FINANCE, TOPIC,
                                                         "refund", amount, key))
            assert (again.state, again.refunded_fen) == (going.state, going.refunded_fen)
            assert len(self.run(ledger.order_transfers(self.conn, order.order_id))) == moves
        if going.method != "online":
            self.run(package_orders.finish_refund(self.conn, going, TOPIC))
            return
        asked = self.run(refunds.asked(self.conn, going.order_id))
        assert asked is not None
        assert self.notify(RefundNotification(
            kind="refund", notify_id=_id("n"), amount_fen=asked.amount_fen,
            refund_id=asked.refund_id, payment_id=f"pay-{going.order_id}",
            merchant_order_id=going.order_id, status="succeeded",
            refunded_at=datetime.now(UTC))) == "applied"

    @precondition(lambda self: bool(self.of("recharge", "credited")))
    @rule(pick=st.integers(0, 100), part=st.integers(0, 20000))
    def refund_a_recharge(self, pick: int, part: int) -> None:
        """SM-G2-RECHARGE: at most the recharge and at most what its wallet holds."""
        credited = self.of("recharge", "credited")
        order = credited[pick % len(credited)]
        try:
            done = self.run(wallet_orders.refund_recharge(
                self.conn, order, OPERATOR, TOPIC, "refund", Fen(part) if part else None,
                _id("rk")))
        except (InsufficientFunds, RefundExceedsRefundable):
            assert self.run(orders.get_order(self.conn, order.order_id)).state == "credited"
            return
        assert done.state == "refunded" and 0 < done.refunded_fen <= done.amount_fen

    @precondition(lambda self: bool(self.of("package", "pending_payment")))
    @rule(pick=st.integers(0, 100), release=st.booleans())
    def intercept(self, pick: int, release: bool) -> None:
        """G1-18: an intercepted order waits in `paid` until released (or refunded)."""
        pending = self.of("package", "pending_payment")
        order_id = pending[pick % len(pending)].order_id
        self.run(self.conn.execute("UPDATE orders SET intercepted = true WHERE order_id = %s",
                                   (order_id,)))
        held = self.run(orders.get_order(self.conn, order_id))
        assert self.notify(self.paid(held)) == "applied"
        held = self.run(orders.get_order(self.conn, order_id))
        assert (held.state, held.intercepted) == ("paid", True)
        if release:
            going = self.run(package_orders.release(self.conn, held, OPERATOR, TOPIC, "ok"))
            assert (going.state, going.intercepted) == ("fulfilling", False)
            with pytest.raises(NotIntercepted):
                self.run(package_orders.release(self.conn, going, OPERATOR, TOPIC, "ok"))

    @precondition(lambda self: bool(self.notices))
    @rule(pick=st.integers(0, 100))
    def repeat_a_notification(self, pick: int) -> None:
        before = self.run(ledger.trial_balance(self.conn))
        assert self.notify(self.notices[pick % len(self.notices)]) == "repeat"
        assert self.run(ledger.trial_balance(self.conn)) == before

    @rule(seller=st.sampled_from(["A", "A1"]), amount=st.integers(100, 5000),
          outcome=st.sampled_from(["paid", "failed", "rejected"]))
    def withdraw(self, seller: str, amount: int, outcome: str) -> None:
        new = self.new("W", "withdrawal", AGENTS[seller])
        try:
            asked, _ = self.run(wallet_orders.request_withdrawal(
                self.conn, new, agent_id=self.agents[seller], amount=Fen(amount), account="x",
                min_fen=Fen(100), fee_bp=BasisPoints(50), topic=TOPIC))
        except InsufficientFunds:
            return
        if outcome == "rejected":
            self.run(wallet_orders.reject_withdrawal(self.conn, asked, "no", FINANCE, TOPIC))
            return
        approved = self.run(wallet_orders.approve_withdrawal(self.conn, asked, FINANCE, TOPIC))
        assert self.notify(PayoutNotification(
            kind="payout", notify_id=_id("n"), amount_fen=approved.amount_fen,
            payout_id=approved.order_id, status="paid" if outcome == "paid" else "failed",
            finished_at=datetime.now(UTC))) == "applied"

    @precondition(lambda self: bool(self.of("package", "completed")))
    @rule(pick=st.integers(0, 100))
    def a_finished_order_moves_no_more(self, pick: int) -> None:
        done = self.of("package", "completed")
        with pytest.raises(TransitionRefused):
            self.run(package_orders.complete(self.conn, done[pick % len(done)], FINANCE, TOPIC))

    @invariant()
    def the_ledger_balances_and_floors_hold(self) -> None:
        trial = self.run(ledger.trial_balance(self.conn))
        assert trial.balanced
        # below 0 only by a refund reversal (G2-16)
        rows = self.run(self.conn.execute(
            "SELECT count(*) FROM ledger_accounts a WHERE floor = 'must_not_go_negative' "
            "AND credits_posted - debits_posted - debits_pending < 0 AND NOT EXISTS ("
            "SELECT 1 FROM ledger_transfers t WHERE t.debit_account = a.account "
            "AND t.allow_negative)"))
        assert self.run(rows.fetchone()) == (0,)

    @invariant()
    def finished_orders_hold_nothing(self) -> None:
        for state in ("completed", "cancelled", "refunded", "partially_refunded"):
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
    run = settings_(max_examples=15, stateful_step_count=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
    run_state_machine_as_test(machine, settings=run)
    with psycopg.connect(settings.require_database()) as conn:
        reached = {(r[0], r[1]) for r in conn.execute(  # every state any order passed
            "SELECT DISTINCT o.kind, e.to_state FROM audit_events e "
            "JOIN orders o ON o.order_id = e.subject_id "
            "WHERE e.subject_kind = 'order' AND o.created_by LIKE 'model-%'")}
        parts = conn.execute("SELECT count(*) FROM order_refunds WHERE seq > 1").fetchone()
    assert {("package", "completed"), ("package", "refunded"), ("recharge", "credited"),
            ("withdrawal", "paid"), ("package", "partially_refunded"),
            ("recharge", "refunded")} <= reached, reached  # the machine got somewhere
    assert parts is not None and parts[0] > 0, "no order was refunded after a partial refund"

