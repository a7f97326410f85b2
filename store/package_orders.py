"""Package orders (G2-02…G2-11, G2-24, SM-G2-ORDER): created with the price-chain snapshot,
paid in Flow 2 from the agent's wallet at once, from the card's wallet at once, or online on
the channel's notification; fulfilled through the `on_paid` hook and the worker's fulfilment
(`store.fulfilment`); settled at completion; refunded in full or in parts (the package
reverted by the refund that completes it, G2-20); intercepted ones released (G1-18).
Transitions and events: `store.orders`."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.clock import now
from core.money import Fen
from domain.ledger import agent_available, card_wallet
from domain.orders import machines as sm
from domain.orders import money
from domain.orders.errors import (
    FirstPurchaseWalletOnly,
    NotIntercepted,
    NumberCardNotSold,
    PartialRefundNotAllowed,
    RefundExceedsRefundable,
    TransitionRefused,
)
from domain.pricing.chain import PriceChain
from domain.pricing.risk import price_risks
from store import audit, ledger, outbox, refunds
from store.agents import Actor
from store.db import Conn
from store.order_packages import card_managed, count, lock_card, revert_package
from store.orders import (
    PAYMENT_TIMEOUT,
    SYSTEM,
    NewOrder,
    Order,
    announcement,
    get_order,
    insert,
    named,
    one,
    replay,
    transition,
)
from store.outbox import NewEvent
from store.price_chain import price_chain
from store.quota import NOTHING, Outcome

_RELEASE = """
UPDATE orders SET intercepted = false, released_at = %s, released_by = %s
WHERE order_id = %s AND intercepted AND state IN ('pending_payment', 'paid') RETURNING *
"""
_SET_PAYMENT = """
UPDATE orders SET payment_id = %s, pay_url = %s WHERE order_id = %s AND payment_id IS NULL
RETURNING *
"""


_ONE_TIME_RULE = """
SELECT EXISTS (
    SELECT 1 FROM commission_rules r JOIN packages p ON p.package_id = %(package)s
    WHERE r.agent_id = %(agent)s AND r.kind IN ('one_time', 'combined') AND r.status = 'active'
      AND (%(package)s = ANY(r.package_ids) OR r.business_line = p.business_line)
      AND r.effective_from <= cp_now() AND (r.effective_to IS NULL OR cp_now() < r.effective_to))
"""


async def has_one_time_commission(conn: Conn, package_id: str, agent_id: str) -> bool:
    """Whether the package carries a one-time commission rule (or a combined one, whose
    one-time part is one) of the selling agent in force now (G2-11, AMB-22)."""
    row = await (await conn.execute(_ONE_TIME_RULE, {"package": package_id,
                                                     "agent": agent_id})).fetchone()
    return bool(row and row[0])


async def _first_purchase(conn: Conn, iccid: str, package_id: str) -> bool:
    row = await (await conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM orders WHERE kind = 'package' AND iccid = %s "
        "AND package_id = %s AND state = 'completed')", (iccid, package_id))).fetchone()
    return bool(row and row[0])


def snapshot(chain: PriceChain) -> dict[str, Any]:
    """The price chain as the order keeps it (G1-13), JSON-ready."""
    found: dict[str, Any] = json.loads(json.dumps(asdict(chain), default=str))
    return found


async def create_package_order(conn: Conn, new: NewOrder, *, package_id: str, agent_id: str,
                               iccid: str, method: str, topic: str,
                               enterprise_id: str | None = None) -> tuple[Order, bool]:
    """A package order for card `iccid` sold by `agent_id` (the second value: whether it was
    made now, False for a replay). Flow 2 (`agent_wallet`) debits the seller's cost at once
    (409 `insufficient_balance` leaves nothing); `wallet` debits the card's wallet the retail
    price at once; `online` waits for the channel (`pending_payment`).

    A Flow-2 create on a connection outside any transaction is first tried in pipeline mode
    with the agent's wallet debited by the last statements, sent with the COMMIT
    (`ledger.append_last`): the wallet's row is then never held across a round trip to this
    process. If the database refuses (the balance, a racing repeat …), all of it was rolled
    back and the create runs again the careful way, which says why."""
    if method == "agent_wallet" and conn.info.transaction_status == TransactionStatus.IDLE:
        try:
            async with conn.pipeline(), conn.transaction():
                return await _create(conn, new, package_id, agent_id, iccid, method, topic,
                                     enterprise_id, last=True)
        except psycopg.errors.IntegrityError:
            pass
    async with conn.transaction():
        return await _create(conn, new, package_id, agent_id, iccid, method, topic,
                             enterprise_id, last=False)


async def _create(conn: Conn, new: NewOrder, package_id: str, agent_id: str, iccid: str,
                  method: str, topic: str, enterprise_id: str | None, *, last: bool,
                  ) -> tuple[Order, bool]:
    first = await replay(conn, new)
    if first is not None:
        return first, False
    chain = await price_chain(conn, package_id, agent_id)
    if chain.business_line == "number_card" or not chain.levels:
        raise NumberCardNotSold()
    if (method != "wallet" and await has_one_time_commission(conn, package_id, agent_id)
            and await _first_purchase(conn, iccid, package_id)):
        raise FirstPurchaseWalletOnly()
    cost = chain.levels[-1].cost_price_fen
    amount = money.paid_amount(method, chain.retail_price_fen, cost)
    risks = [r.code for r in price_risks(chain, amount if method != "agent_wallet"
                                         else chain.retail_price_fen)]
    flow2 = method == "agent_wallet"
    order = await insert(
        conn, new, "paid" if flow2 else "pending_payment", topic,
        event="create_agent_wallet" if flow2 else "create_pay_later",
        by="agent" if flow2 else "buyer", method=method, agent_id=agent_id, iccid=iccid,
        enterprise_id=enterprise_id,
        package_id=package_id, amount_fen=amount, price_chain=Jsonb(snapshot(chain)),
        price_risks=Jsonb(risks), intercepted=bool(risks),
        pay_due_at=None if flow2 else now() + PAYMENT_TIMEOUT)
    if flow2:
        order = await _pay_from_agent(conn, order, new.actor, topic, last)
    elif method == "wallet":
        order = await pay(conn, order, card_wallet(iccid), new.actor, topic)
    return order, True


async def _pay_from_agent(conn: Conn, order: Order, actor: Actor, topic: str,
                          last: bool = False) -> Order:
    """Flow 2: the seller's cost into the escrow, and the fulfilment hook. The agent's wallet
    row is locked by the transfer until the commit and every Flow-2 order of the agent waits
    for it, so for a card-managed package (nothing leaves the escrow before completion) the
    transfer comes last: the row is held for the transfer and the commit only (with `last`,
    appended unread and sent with the commit)."""
    move = money.payment_transfer(order.order_id, agent_available(named(order.agent_id)),
                                  Fen(order.amount_fen), "agent_wallet")
    if not card_managed(order):  # completes at once: the escrow must hold the money first
        await ledger.transfer(conn, move)
        return await on_paid(conn, order, actor, topic)
    fulfilling = await on_paid(conn, order, actor, topic)
    if last:
        await ledger.append_last(conn, move)
    else:
        await ledger.transfer(conn, move)
    return fulfilling


async def pay(conn: Conn, order: Order, source: str, actor: Actor, topic: str,
              payment_id: str | None = None, at: datetime | None = None) -> Order:
    """`pending_payment → paid`: the money from `source` (the channel or a wallet) into the
    escrow, then the fulfilment hook."""
    move = money.payment_transfer(order.order_id, source, Fen(order.amount_fen),
                                  order.method or "online")
    paid = await transition(conn, order, "payment_confirmed", "channel", actor, topic, [move],
                            payment_id=payment_id, at=at)
    return await on_paid(conn, paid, actor, topic)


async def on_paid(conn: Conn, order: Order, actor: Actor, topic: str) -> Order:
    """The fulfilment hook of a paid order (G2-08, G2-18): fulfilment starts at once
    (`paid → fulfilling`) unless a price risk intercepted the order (G1-18: it waits in `paid`
    for a platform user), and a product that is not card-managed completes at once (G2-18).
    A card-managed one is fulfilled by the worker's fulfilment timer (`store.fulfilment`):
    package applied, card opened if it never was (G2-17), then `complete`."""
    if order.intercepted:
        return order
    fulfilling = await transition(conn, order, "fulfilment_started", "system", actor, topic)
    if not card_managed(order):
        return await complete(conn, fulfilling, actor, topic)
    return fulfilling


def _costs(order: Order) -> list[tuple[str, Fen]]:
    levels = (order.price_chain or {}).get("levels", [])
    return [(str(level["agent_id"]), Fen(int(level["cost_price_fen"]))) for level in levels]


async def complete(conn: Conn, order: Order, actor: Actor, topic: str,
                   by: sm.Actor = "system") -> Order:
    """`fulfilling → completed` with the settlement (G2-24, G2-05): the escrow pays the
    platform and every agent of the chain and ends at 0; the card's package count +1 (G2-19).
    Commission (H, G2-07) is not yet evaluated: `order_completed` is the event H will
    consume."""
    chain = order.price_chain or {}
    moves = money.settlement_transfers(order.order_id, order.method or "online", _costs(order),
                                       Fen(int(chain["retail_price_fen"])))
    async with conn.transaction():
        done = await transition(conn, order, "fulfilled", by, actor, topic, moves)
        return await count(conn, done, True)


_COMPLETE_MANY = """
UPDATE orders SET state = 'completed', updated_at = %(at)s, finished_at = %(at)s
WHERE order_id = ANY(%(ids)s) AND state = 'fulfilling'
RETURNING *
"""
_COUNTED_MANY = """
UPDATE orders SET counted = true WHERE order_id = ANY(%s) AND NOT counted RETURNING iccid
"""
_COUNT_MANY = """
UPDATE cards c SET package_count = package_count + n.orders
FROM (SELECT iccid, count(*) AS orders FROM unnest(%s::text[]) AS iccid GROUP BY iccid) n
WHERE c.iccid = n.iccid
"""


async def complete_many(conn: Conn, fulfilling: list[Order], actor: Actor, topic: str,
                        ) -> list[Order]:
    """`complete` for many card-managed orders in `fulfilling` (rows locked by the caller):
    one compare-and-set, one ledger batch of all their settlements, their audit rows and
    events, their cards' package counts. TransitionRefused (nothing done) if one moved."""
    if not fulfilling:
        return []
    for order in fulfilling:
        sm.step(order.kind, order.state, "fulfilled", "system")
    moves = [move for order in fulfilling for move in money.settlement_transfers(
        order.order_id, order.method or "online", _costs(order),
        Fen(int((order.price_chain or {})["retail_price_fen"])))]
    at = now()
    async with conn.transaction():
        async with conn.cursor(row_factory=class_row(Order)) as cur:
            await cur.execute(_COMPLETE_MANY, {"at": at,
                                               "ids": [o.order_id for o in fulfilling]})
            done = await cur.fetchall()
        if len(done) != len(fulfilling):
            moved = {o.order_id for o in done}
            lost = next(o for o in fulfilling if o.order_id not in moved)
            raise TransitionRefused(lost.kind, "moved", "fulfilled")
        if moves:
            await ledger.transfer(conn, *moves)
        said = [announcement(order, "fulfilling", actor, topic, at) for order in done]
        await audit.record(conn, *(row for row, _ in said))
        await outbox.enqueue(conn, *(event for _, event in said))
        counted = await (await conn.execute(_COUNTED_MANY, ([o.order_id for o in done],))
                         ).fetchall()
        await conn.execute(_COUNT_MANY, ([row[0] for row in counted if row[0]],))
        done = [replace(order, counted=True) for order in done]
    return done


REFUNDABLE = ("paid", "fulfilling", "completed", "partially_refunded")


async def start_refund(conn: Conn, order: Order, actor: Actor, topic: str, reason: str,
                       amount: Fen | None = None, key: str | None = None) -> Order:
    """A refund approved (`paid`/`fulfilling`/`completed`/`partially_refunded → refunding`)
    for `amount` (None: all that remains refundable), idempotent by the caller's `key`: a
    repeat answers the order as it is now. Only a completed order is refunded in part; its
    settlement legs give their shares back into the escrow at once (`money.
    partial_refund_transfers`; a first full refund reverses them whole). Fulfilment stops (it
    only moves orders in `fulfilling`); the refund closes an interception (AMB-49); the money
    goes to the payer in `refund_paid`. Concurrent refunds of one order queue on its row:
    one moves it, the others find it `refunding` (409 `invalid_transition`). Reversing
    commissions (H-38) is not wired yet; `order_refunding` and `order_refunded` announce it."""
    request: dict[str, Any] = {"order_id": order.order_id, "amount_fen": amount,
                               "reason": reason}
    async with conn.transaction():
        if await refunds.replay(conn, actor, key, request) is not None:
            return await get_order(conn, order.order_id)
        order = await refunds.locked(conn, order.order_id)
        want = _refund_amount(order, amount)
        earlier = await refunds.paid_amounts(conn, order.order_id)
        seq = len(earlier) + 1
        moves = []
        if order.state in ("completed", "partially_refunded"):
            chain = order.price_chain or {}
            method, retail = order.method or "online", Fen(int(chain["retail_price_fen"]))
            moves = (money.settlement_reversals(order.order_id, method, _costs(order), retail)
                     if seq == 1 and want == order.amount_fen else
                     money.partial_refund_transfers(order.order_id, seq, method, _costs(order),
                                                    retail, earlier, want))
        moved = await transition(conn, order, "refund_approved", "operator", actor, topic,
                                 moves, reason=reason, refund_seq=seq, refund_fen=want)
        await refunds.record(conn, moved, seq, want, paid=False, reason=reason, actor=actor,
                             key=key, request=request)
        return await refunds.close_interception(conn, moved, actor)


def _refund_amount(order: Order, amount: Fen | None) -> Fen:
    """What a refund of `order` pays back: `amount`, at most what remains; all of it before
    completion (422 `refund_exceeds_refundable`, 409 `partial_refund_not_allowed`). An order
    in a state no refund leaves is refused by the transition."""
    left = Fen(order.amount_fen - order.refunded_fen)
    if amount is None or order.state not in REFUNDABLE:
        return left
    if amount > left:
        raise RefundExceedsRefundable()
    if amount < left and order.state not in ("completed", "partially_refunded"):
        raise PartialRefundNotAllowed()
    return amount


def refund_id(order: Order) -> str:
    """The first refund asked of the payment channel for an online order."""
    return refunds.refund_id(order.order_id, 1)


async def finish_refund(conn: Conn, order: Order, topic: str) -> Order:
    """`refunding`/`failed → refunded` (or `partially_refunded`): see `refund_paid`."""
    refunded, _ = await refund_paid(conn, order, topic)
    return refunded


async def refund_paid(conn: Conn, order: Order, topic: str) -> tuple[Order, Outcome]:
    """The refund asked (a failed order: all of it) is paid: the escrow pays the payer back
    (the channel once it notified the refund, a wallet at once). Once the whole amount is
    back the order is `refunded`, the package it applied is taken off its card and the card's
    package count −1 (G2-20); a partial refund leaves the package and the count alone
    (`partially_refunded`). The returned quota outcome (the card may now stop on
    `package_quota`) is the same one `PATCH /v1/cards/{iccid}` publishes: the caller
    publishes it after the commit."""
    payer = money.payer_account(order.method or "online", named(order.agent_id),
                                named(order.iccid))
    async with conn.transaction():
        await lock_card(conn, order)
        pending = await refunds.asked(conn, order.order_id)
        amount = Fen(pending.amount_fen if pending else order.amount_fen - order.refunded_fen)
        if amount <= 0:  # nothing asked and nothing left: refunded already
            raise TransitionRefused(order.kind, order.state, "refund_paid")
        seq = pending.seq if pending else 1
        move = (money.refund_transfer(order.order_id, payer, amount) if seq == 1
                else money.refund_out(order.order_id, seq, payer, amount))
        whole = order.refunded_fen + amount == order.amount_fen
        refunded = await transition(conn, order,
                                    "refund_paid" if whole else "partial_refund_paid", "system",
                                    SYSTEM, topic, [move], refund_seq=seq, refund_fen=amount)
        refunded = await refunds.add_refunded(conn, refunded, amount)
        if pending is not None:
            await refunds.mark_paid(conn, pending)
        if not whole:
            return refunded, NOTHING
        refunded, outcome = await revert_package(conn, refunded)
        return await count(conn, refunded, False), outcome


async def release(conn: Conn, order: Order, actor: Actor, topic: str, reason: str) -> Order:
    """G1-18: a platform user lets an intercepted order proceed (409 `not_intercepted`
    otherwise), recorded with who, when and why (C-08: the audit row keeps the state, the
    event `order_released`); a paid order then starts its fulfilment."""
    at = now()
    async with conn.transaction():
        released = await one(conn, _RELEASE, (at, actor.who, order.order_id))
        if released is None:
            raise NotIntercepted()
        data = {"order_kind": released.kind, "event": "released",
                "price_risks": released.price_risks}
        await audit.record(conn, actor.transition("order", released.order_id, released.state,
                                                  released.state, reason, **data))
        await outbox.enqueue(conn, NewEvent(
            f"{released.order_id}:released", topic, released.order_id, "order_released",
            {"order_id": released.order_id, "state": released.state, "at": at.isoformat(),
             "by": actor.who, "reason": reason, "price_risks": released.price_risks}))
        if released.state == "paid":
            return await on_paid(conn, released, actor, topic)
        return released


async def set_payment(conn: Conn, order_id: str, payment_id: str, pay_url: str) -> Order:
    """Remember the channel's payment of an order (once; later calls keep the first)."""
    await one(conn, _SET_PAYMENT, (payment_id, pay_url, order_id))
    return await get_order(conn, order_id)


