"""Applying payment-channel notifications (core/payments.py's steps 2–3), once each.

A notification is recorded by its `notify_id` (a repeat changes nothing and is acknowledged
again); it must match the stored order (its payment/payout id, `merchant_order_id` and amount),
else it is recorded as a `mismatch` for a person and moves nothing; a match moves its order by
compare-and-set (`store.orders`), so the same payment confirms an order at most once whatever
order the copies arrive in. All in one transaction: the record and the change are durable
together, before the endpoint answers `success`."""

from __future__ import annotations

from typing import Literal

from core.payments import PaymentNotification, PayoutNotification, RefundNotification
from domain.ledger import PAYMENT_CHANNEL
from domain.orders.errors import TransitionRefused
from store import card_purchases, orders, package_orders, refunds, wallet_orders
from store.db import Conn
from store.orders import SYSTEM, Order
from store.quota import Outcome as QuotaOutcome

Outcome = Literal["applied", "repeat", "ignored", "mismatch", "unknown"]
Notice = PaymentNotification | RefundNotification | PayoutNotification

_RECORD = """
INSERT INTO payment_notifications (notify_id, subject, order_id, status, amount_fen, outcome,
                                   detail)
VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (notify_id) DO NOTHING RETURNING notify_id
"""
_BY_PAYMENT = "SELECT order_id FROM orders WHERE payment_id = %s"


async def _order_of(conn: Conn, notice: Notice) -> Order | None:
    if isinstance(notice, PayoutNotification):
        row = await (await conn.execute(_BY_PAYMENT, (notice.payout_id,))).fetchone()
        return None if row is None else await orders.get_order(conn, row[0])
    row = await (await conn.execute("SELECT 1 FROM orders WHERE order_id = %s",
                                    (notice.merchant_order_id,))).fetchone()
    return None if row is None else await orders.get_order(conn, notice.merchant_order_id)


async def _expected(conn: Conn, order: Order, notice: Notice) -> int:
    """The amount the notice must carry: the order's, or the refund's it names (refunds may
    be partial; a failed order's refund, never asked by a person, is the whole amount)."""
    if isinstance(notice, RefundNotification):
        asked = await refunds.by_id(conn, notice.refund_id)
        if asked is not None and asked.order_id == order.order_id:
            return asked.amount_fen
    return order.amount_fen


def _mismatch(order: Order, notice: Notice, expected: int) -> str | None:
    if notice.amount_fen != expected:
        return f"amount {notice.amount_fen} fen, expected {expected}"
    if isinstance(notice, PaymentNotification) and order.payment_id not in (
            None, notice.payment_id):
        return f"payment {notice.payment_id}, the order's is {order.payment_id}"
    return None


async def _apply(conn: Conn, order: Order, notice: Notice, topic: str,
                 effects: list[QuotaOutcome] | None) -> tuple[Outcome, str]:
    try:
        if isinstance(notice, PayoutNotification):
            await wallet_orders.finish_withdrawal(conn, order, notice.status == "paid", topic,
                                           notice.reason)
        elif isinstance(notice, RefundNotification) and order.kind == "card_purchase":
            await card_purchases.finish_refund(conn, order, topic)
        elif isinstance(notice, RefundNotification):
            if order.kind == "recharge":  # its wallet was debited when the refund was made
                return "applied", "recharge refund"
            asked = await refunds.asked(conn, order.order_id)
            if asked is not None and asked.refund_id != notice.refund_id:
                return "ignored", f"refund {asked.refund_id} is the one asked"
            _, effect = await package_orders.refund_paid(conn, order, topic)
            if effects is not None:
                effects.append(effect)
        elif notice.status == "declined":
            await orders.cancel(conn, order, "system", SYSTEM, topic,
                                f"payment_declined: {notice.reason or ''}".strip())
        elif order.kind == "recharge":
            await wallet_orders.credit(conn, order, notice.payment_id, topic)
        elif order.kind == "card_purchase":
            await card_purchases.pay(conn, order, SYSTEM, topic, notice.payment_id)
        else:
            await package_orders.pay(conn, order, PAYMENT_CHANNEL, SYSTEM, topic, notice.payment_id)
    except TransitionRefused as refused:
        # e.g. paid after the 30-minute cancellation: recorded for a person (a refund)
        return "ignored", f"order in {refused.state!r}"
    return "applied", ""


async def apply_notification(conn: Conn, notice: Notice, topic: str,
                             effects: list[QuotaOutcome] | None = None) -> Outcome:
    """Record and apply one verified notification; what became of it. A refund that takes
    a package off its card adds the quota outcome to publish to `effects`."""
    async with conn.transaction():
        order = await _order_of(conn, notice)
        outcome: Outcome
        if order is None:
            outcome, detail = "unknown", "no such order"
        elif (problem := _mismatch(order, notice, await _expected(conn, order, notice))
              ) is not None:
            outcome, detail = "mismatch", problem
        else:
            async with conn.transaction():  # a savepoint: a repeat undoes nothing of the record
                outcome, detail = await _apply(conn, order, notice, topic, effects)
        status = getattr(notice, "status", "")
        row = await (await conn.execute(_RECORD, (
            notice.notify_id, notice.subject, None if order is None else order.order_id,
            status, notice.amount_fen, outcome, detail or None))).fetchone()
        if row is None:  # a repeat: roll everything back, answer as before
            raise _Repeat()
    return outcome


class _Repeat(Exception):
    pass


async def apply_once(conn: Conn, notice: Notice, topic: str,
                     effects: list[QuotaOutcome] | None = None) -> Outcome:
    """`apply_notification`, a repeat of a recorded notify_id changing nothing."""
    try:
        return await apply_notification(conn, notice, topic, effects)
    except _Repeat:
        if effects is not None:
            effects.clear()  # rolled back with the rest
        return "repeat"
