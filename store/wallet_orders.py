"""Recharges (G2-12…G2-14, SM-G2-RECHARGE, their refunds) and withdrawals (G2-15,
SM-G2-WITHDRAWAL): money into a wallet from the channel, and an agent's money out to it.
Transitions and events: `store.orders`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.clock import now
from core.money import BasisPoints, Fen
from domain.ledger.errors import InsufficientFunds
from domain.orders import machines as sm
from domain.orders import money
from domain.orders.errors import ReasonRequired, RefundExceedsRefundable, WithdrawalBelowMin
from store import ledger, refunds
from store.agents import Actor
from store.db import Conn
from store.orders import (
    PAYMENT_TIMEOUT,
    SYSTEM,
    NewOrder,
    Order,
    get_order,
    insert,
    named,
    replay,
    transition,
)

_FIRST_RECHARGE = """
SELECT NOT EXISTS (SELECT 1 FROM orders WHERE kind = 'recharge' AND iccid = %s
                   AND state IN ('credited', 'refunded') AND order_id <> %s)
"""


async def create_recharge(conn: Conn, new: NewOrder, *, wallet: str, amount: Fen,
                          topic: str, agent_id: str | None = None, iccid: str | None = None,
                          enterprise_id: str | None = None) -> tuple[Order, bool]:
    """A recharge of `wallet` waiting for the channel (`pending_payment`)."""
    async with conn.transaction():
        first = await replay(conn, new)
        if first is not None:
            return first, False
        order = await insert(conn, new, "pending_payment", topic, event="create",
                              by="buyer", method="online", agent_id=agent_id, iccid=iccid,
                              enterprise_id=enterprise_id, wallet=wallet, amount_fen=amount,
                              pay_due_at=now() + PAYMENT_TIMEOUT)
    return order, True


async def credit(conn: Conn, order: Order, payment_id: str, topic: str,
                 at: datetime | None = None) -> Order:
    """`pending_payment → credited`: the channel's money into the wallet in one transfer;
    a card wallet's recharge announces `card_recharged` with `is_first` (G2-13)."""
    move = money.recharge_transfer(order.order_id, named(order.wallet), Fen(order.amount_fen))
    async with conn.transaction():
        await ledger.transfer(conn, move)  # locks the wallet: is_first is decided in turn
        extra: dict[str, Any] = {}
        if order.iccid is not None:
            row = await (await conn.execute(_FIRST_RECHARGE, (order.iccid, order.order_id))
                         ).fetchone()
            extra["is_first"] = bool(row and row[0])
        return await transition(conn, order, "payment_confirmed", "channel", SYSTEM, topic,
                                payment_id=payment_id, at=at, **extra)




async def refund_recharge(conn: Conn, order: Order, actor: Actor, topic: str, reason: str,
                          amount: Fen | None = None, key: str | None = None) -> Order:
    """SM-G2-RECHARGE `credited → refunded`, by the platform: unspent money of the recharge
    goes back out of the wallet (`wallet → external`) — `amount`, at most the recharge's
    (422 `refund_exceeds_refundable`) and at most what the wallet holds (409
    `insufficient_balance`); None: as much of the recharge as the wallet still holds. A card
    wallet's refund announces `card_recharge_refunded` (its recharge conditions are
    recomputed by H). Idempotent by the caller's `key`. The channel is asked to pay it back
    after the commit (`refunds.refund_id(order_id, 1)`)."""
    request: dict[str, Any] = {"order_id": order.order_id, "amount_fen": amount,
                               "reason": reason}
    async with conn.transaction():
        if await refunds.replay(conn, actor, key, request) is not None:
            return await get_order(conn, order.order_id)
        order = await refunds.locked(conn, order.order_id)
        sm.step(order.kind, order.state, "refund_approved", "operator")  # else 409 first
        wallet = named(order.wallet)
        if amount is not None and amount > order.amount_fen:
            raise RefundExceedsRefundable()
        held = (await ledger.balance(conn, wallet)).available
        want = Fen(amount if amount is not None else max(0, min(order.amount_fen, held)))
        if want <= 0:
            raise InsufficientFunds(wallet, Fen(held), Fen(order.amount_fen))
        refunded = await transition(conn, order, "refund_approved", "operator", actor, topic,
                                    [money.recharge_refund(order.order_id, wallet, want)],
                                    reason=reason, refund_seq=1, refund_fen=want)
        await refunds.record(conn, refunded, 1, want, paid=True, reason=reason, actor=actor,
                             key=key, request=request)
        return await refunds.add_refunded(conn, refunded, want)


async def request_withdrawal(conn: Conn, new: NewOrder, *, agent_id: str, amount: Fen,
                             account: str, min_fen: Fen, fee_bp: BasisPoints, topic: str
                             ) -> tuple[Order, bool]:
    """`requested`: the amount moves `available → withdrawing` (409 `insufficient_balance`,
    422 `withdrawal_below_min`)."""
    if amount < min_fen:
        raise WithdrawalBelowMin()
    async with conn.transaction():
        first = await replay(conn, new)
        if first is not None:
            return first, False
        order = await insert(conn, new, "requested", topic, event="request", by="agent",
                              agent_id=agent_id, amount_fen=amount,
                              fee_fen=money.withdrawal_fee(amount, fee_bp),
                              payout_account=account)
        await ledger.transfer(conn, money.withdrawal_hold(order.order_id, agent_id, amount))
    return order, True


async def approve_withdrawal(conn: Conn, order: Order, actor: Actor, topic: str) -> Order:
    """`requested → approved`; the payout is then asked of the channel under the order's id."""
    return await transition(conn, order, "approve", "finance", actor, topic,
                            payment_id=order.order_id)


async def reject_withdrawal(conn: Conn, order: Order, reason: str | None, actor: Actor,
                            topic: str) -> Order:
    if not (reason or "").strip():
        raise ReasonRequired()
    back = money.withdrawal_return(order.order_id, named(order.agent_id),
                                   Fen(order.amount_fen))
    return await transition(conn, order, "reject", "finance", actor, topic, [back],
                            reason=reason)


async def finish_withdrawal(conn: Conn, order: Order, paid: bool, topic: str,
                            reason: str | None = None) -> Order:
    """The payout's outcome: paid (amount − fee out, fee to revenue) or failed (back)."""
    agent_id, amount, fee = named(order.agent_id), Fen(order.amount_fen), Fen(order.fee_fen)
    if paid:
        return await transition(conn, order, "payout_paid", "channel", SYSTEM, topic,
                                money.withdrawal_payout(order.order_id, agent_id, amount, fee))
    back = money.withdrawal_return(order.order_id, agent_id, amount)
    return await transition(conn, order, "payout_failed", "channel", SYSTEM, topic, [back],
                            reason=reason)
