"""G2 orders in PostgreSQL (schema: migrations/0050_orders.sql): package orders, recharges and
withdrawals, each moved through its state machine (`domain.orders.machines`) by a
compare-and-set on `state` in one transaction with its ledger transfers, its audit row (C-08)
and its outbox event (`order_paid`, `card_recharged`, `withdrawal_paid` …).

Creates are idempotent (C-05): the same caller's `Idempotency-Key` with the same request
returns the first order; with another request, 409 `idempotency_conflict`. Concurrent repeats
of a key queue on a transaction-level advisory lock of the key.

Payment-channel calls are not made here (the store does no network I/O): the API and the
worker create, close and pay out around these functions (`api/routers/orders.py`,
`cardpulse/roots/worker.py`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.clock import now
from core.money import BasisPoints, Fen
from domain.ledger import Transfer, agent_available, card_wallet
from domain.orders import machines as sm
from domain.orders import money
from domain.orders.errors import (
    FirstPurchaseWalletOnly,
    IdempotencyConflict,
    ReasonRequired,
    TransitionRefused,
    WithdrawalBelowMin,
)
from domain.pricing.chain import PriceChain
from domain.pricing.risk import price_risks
from domain.refusals import Refusal
from store import audit, ledger, outbox
from store.agents import Actor
from store.db import Conn
from store.errors import NotFound
from store.outbox import NewEvent
from store.price_chain import price_chain

PAYMENT_TIMEOUT = timedelta(minutes=30)  # (proposed) SM-G2-ORDER / SM-G2-RECHARGE


@dataclass(frozen=True)
class Order:
    order_id: str
    kind: sm.Kind
    state: str
    method: str | None
    created_by: str
    created_role: str
    agent_id: str | None
    iccid: str | None
    enterprise_id: str | None
    wallet: str | None
    package_id: str | None
    amount_fen: int
    fee_fen: int
    price_chain: dict[str, Any] | None
    price_risks: list[str]
    intercepted: bool
    payment_id: str | None
    pay_url: str | None
    payout_account: str | None
    reason: str | None
    idempotency_key: str | None
    request_hash: str | None
    created_at: datetime
    updated_at: datetime
    pay_due_at: datetime | None
    paid_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class NewOrder:
    """What a create asks for; `request` is hashed for the idempotency check."""

    order_id: str
    kind: sm.Kind
    actor: Actor
    request: dict[str, Any]
    idempotency_key: str | None = None


class NumberCardNotSold(Refusal):
    """G2-09: number cards are paid to the factory; the platform sells no package of them."""

    code = "number_card_not_sold"
    message_zh = "号卡套餐由运营商/厂家直接收款"  # (proposed)
    message_en = "Number-card packages are paid to the operator or factory directly"


_INSERT = """
INSERT INTO orders (order_id, kind, state, method, created_by, created_role, agent_id, iccid,
    enterprise_id, wallet, package_id, amount_fen, fee_fen, price_chain, price_risks,
    intercepted, payout_account, idempotency_key, request_hash, pay_due_at)
VALUES (%(order_id)s, %(kind)s, %(state)s, %(method)s, %(created_by)s, %(created_role)s,
    %(agent_id)s, %(iccid)s, %(enterprise_id)s, %(wallet)s, %(package_id)s, %(amount_fen)s,
    %(fee_fen)s, %(price_chain)s, %(price_risks)s, %(intercepted)s, %(payout_account)s,
    %(idempotency_key)s, %(request_hash)s, %(pay_due_at)s)
RETURNING *
"""
_GET = "SELECT * FROM orders WHERE order_id = %s"
_BY_KEY = "SELECT * FROM orders WHERE created_by = %s AND idempotency_key = %s"
_LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 50))"
_CAS = """
UPDATE orders SET state = %(to)s, updated_at = %(at)s,
    paid_at = CASE WHEN %(paid)s THEN %(at)s ELSE paid_at END,
    finished_at = CASE WHEN %(finished)s THEN %(at)s ELSE finished_at END,
    reason = coalesce(%(reason)s, reason),
    payment_id = coalesce(%(payment_id)s, payment_id)
WHERE order_id = %(order_id)s AND state = %(from)s
RETURNING *
"""
_SET_PAYMENT = """
UPDATE orders SET payment_id = %s, pay_url = %s WHERE order_id = %s AND payment_id IS NULL
RETURNING *
"""
_DUE = """
SELECT order_id FROM orders WHERE state = 'pending_payment' AND pay_due_at <= cp_now()
ORDER BY pay_due_at LIMIT %s
"""
_FIRST_RECHARGE = """
SELECT NOT EXISTS (SELECT 1 FROM orders WHERE kind = 'recharge' AND iccid = %s
                   AND state IN ('credited', 'refunded') AND order_id <> %s)
"""
_LIST = """
SELECT * FROM orders
WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)
  AND (%(everything)s OR (%(agent)s::text IS NOT NULL AND agent_id = %(agent)s)
       OR created_by = %(who)s
       OR (%(enterprise)s::text IS NOT NULL AND enterprise_id = %(enterprise)s))
ORDER BY created_at DESC, order_id DESC LIMIT %(limit)s
"""


async def card_reachable(conn: Conn, iccid: str, agent_id: str | None, who: str) -> bool:
    """Whether a card's wallet is an agent's business (an order or recharge of the card
    through the agent) or the caller's own (it ordered or recharged for the card)."""
    row = await (await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM orders WHERE iccid = %s AND (created_by = %s "
        "OR (%s::text IS NOT NULL AND agent_id = %s)))", (iccid, who, agent_id, agent_id))
    ).fetchone()
    return bool(row and row[0])


def request_hash(request: dict[str, Any]) -> str:
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


async def _one(conn: Conn, query: str, params: Any) -> Order | None:
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def get_order(conn: Conn, order_id: str) -> Order:
    found = await _one(conn, _GET, (order_id,))
    if found is None:
        raise NotFound(f"order {order_id!r}")
    return found


async def list_orders(conn: Conn, *, everything: bool, who: str, agent_id: str | None,
                      enterprise_id: str | None, kind: str | None, limit: int = 100
                      ) -> list[Order]:
    """Orders the caller sees: all (platform), its agent's, its enterprise's, its own."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_LIST, {"kind": kind, "everything": everything, "agent": agent_id,
                                  "who": who, "enterprise": enterprise_id, "limit": limit})
        return await cur.fetchall()


async def replay(conn: Conn, new: NewOrder) -> Order | None:
    """The first order made with the key (C-05), after locking the key; None if none."""
    if new.idempotency_key is None:
        return None
    await conn.execute(_LOCK_KEY, (f"{new.actor.who} {new.idempotency_key}",))
    first = await _one(conn, _BY_KEY, (new.actor.who, new.idempotency_key))
    if first is not None and first.request_hash != request_hash(new.request):
        raise IdempotencyConflict()
    return first


def _event_kind(kind: sm.Kind, state: str, order: Order) -> str:
    if kind == "package":
        return f"order_{state}"
    if kind == "recharge":
        if state == "credited":
            return "card_recharged" if order.iccid else "wallet_recharged"
        return f"recharge_{state}"
    return f"withdrawal_{state}"


def _event_data(order: Order, state: str, at: datetime, extra: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"order_id": order.order_id, "kind": order.kind, "state": state,
                            "amount": order.amount_fen, "at": at.isoformat()}
    for key in ("agent_id", "iccid", "enterprise_id", "package_id", "method"):
        if getattr(order, key) is not None:
            data[key] = getattr(order, key)
    return {**data, **extra}


async def _announce(conn: Conn, order: Order, from_state: str | None, actor: Actor, topic: str,
                    at: datetime, reason: str | None, extra: dict[str, Any]) -> None:
    """The audit row and the outbox event of `order` having reached its state."""
    await audit.record(conn, actor.transition("order", order.order_id, from_state, order.state,
                                              reason, order_kind=order.kind, **extra))
    await outbox.enqueue(conn, NewEvent(
        f"{order.order_id}:{order.state}", topic, order.order_id,
        _event_kind(order.kind, order.state, order), _event_data(order, order.state, at, extra)))


async def _insert(conn: Conn, new: NewOrder, state: str, topic: str, **fields: Any) -> Order:
    sm.step(new.kind, sm.NEW, fields.pop("event"), fields.pop("by"))
    row = {"order_id": new.order_id, "kind": new.kind, "state": state, "method": None,
           "created_by": new.actor.who, "created_role": new.actor.role, "agent_id": None,
           "iccid": None, "enterprise_id": None, "wallet": None, "package_id": None,
           "fee_fen": 0, "price_chain": None, "price_risks": Jsonb([]), "intercepted": False,
           "payout_account": None, "idempotency_key": new.idempotency_key,
           "request_hash": request_hash(new.request), "pay_due_at": None, **fields}
    order = await _one(conn, _INSERT, row)
    if order is None:  # INSERT … RETURNING always answers a row
        raise RuntimeError(f"order {new.order_id} not inserted")
    await _announce(conn, order, None, new.actor, topic, order.created_at, None, {})
    return order


async def transition(conn: Conn, order: Order, event: str, by: sm.Actor, actor: Actor,
                     topic: str, transfers: Sequence[Transfer] = (), *,
                     reason: str | None = None, at: datetime | None = None,
                     payment_id: str | None = None, **extra: Any) -> Order:
    """Move `order` on `event` (compare-and-set from its state as read), with its transfers,
    audit row and event, in one transaction. TransitionRefused if the table refuses or the
    order moved meanwhile (it then names the state found)."""
    to = sm.step(order.kind, order.state, event, by)
    at = at or now()
    async with conn.transaction():
        moved = await _one(conn, _CAS, {
            "to": to, "at": at, "paid": to in ("paid", "credited"),
            "finished": to in sm.FINISHED[order.kind], "reason": reason,
            "payment_id": payment_id, "order_id": order.order_id, "from": order.state})
        if moved is None:
            current = await get_order(conn, order.order_id)
            raise TransitionRefused(order.kind, current.state, event)
        if transfers:
            await ledger.transfer(conn, *transfers)
        await _announce(conn, moved, order.state, actor, topic, at, reason, extra)
    return moved


# ---- package orders (G2-02 … G2-11, SM-G2-ORDER) ------------------------------------------


def has_one_time_commission(package_id: str, agent_id: str) -> bool:
    """Whether the package carries an active one-time commission rule for the selling agent
    (G2-11, AMB-22). The commission engine (H) does not exist yet: no package has one, so the
    first-purchase rule never applies today. H replaces this with a lookup of its rules."""
    del package_id, agent_id
    return False


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
    price at once; `online` waits for the channel (`pending_payment`)."""
    async with conn.transaction():
        first = await replay(conn, new)
        if first is not None:
            return first, False
        chain = await price_chain(conn, package_id, agent_id)
        if chain.business_line == "number_card" or not chain.levels:
            raise NumberCardNotSold()
        if (method != "wallet" and has_one_time_commission(package_id, agent_id)
                and await _first_purchase(conn, iccid, package_id)):
            raise FirstPurchaseWalletOnly()
        cost = chain.levels[-1].cost_price_fen
        amount = money.paid_amount(method, chain.retail_price_fen, cost)
        risks = [r.code for r in price_risks(chain, amount if method != "agent_wallet"
                                             else chain.retail_price_fen)]
        flow2 = method == "agent_wallet"
        order = await _insert(
            conn, new, "paid" if flow2 else "pending_payment", topic,
            event="create_agent_wallet" if flow2 else "create_pay_later",
            by="agent" if flow2 else "buyer", method=method, agent_id=agent_id, iccid=iccid,
            enterprise_id=enterprise_id,
            package_id=package_id, amount_fen=amount, price_chain=Jsonb(snapshot(chain)),
            price_risks=Jsonb(risks), intercepted=bool(risks),
            pay_due_at=None if flow2 else now() + PAYMENT_TIMEOUT)
        if flow2:
            await ledger.transfer(conn, money.payment_transfer(
                order.order_id, agent_available(agent_id), Fen(amount), method))
            order = await on_paid(conn, order, new.actor, topic)
        elif method == "wallet":
            order = await pay(conn, order, card_wallet(iccid), new.actor, topic)
    return order, True


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
    """The fulfilment hook of a paid order (G2-08, G2-17, G2-18). Today: fulfilment starts at
    once (`paid → fulfilling`) unless a price risk intercepted the order (G1-18: it waits in
    `paid` for a platform user), and a product that is not card-managed completes at once
    (G2-18). For card-managed products, applying the package to the card and the activation
    command (→controls) are NOT wired yet: whoever wires them calls `complete` when the
    package is applied (and, for a first package, the card is active)."""
    if order.intercepted:
        return order
    fulfilling = await transition(conn, order, "fulfilment_started", "system", actor, topic)
    chain = order.price_chain or {}
    if not chain.get("card_managed", True):
        return await complete(conn, fulfilling, actor, topic)
    return fulfilling


def _costs(order: Order) -> list[tuple[str, Fen]]:
    levels = (order.price_chain or {}).get("levels", [])
    return [(str(level["agent_id"]), Fen(int(level["cost_price_fen"]))) for level in levels]


async def complete(conn: Conn, order: Order, actor: Actor, topic: str,
                   by: sm.Actor = "system") -> Order:
    """`fulfilling → completed` with the settlement (G2-24, G2-05): the escrow pays the
    platform and every agent of the chain and ends at 0. Commission (H, G2-07) is not yet
    evaluated: `order_completed` is the event H will consume."""
    chain = order.price_chain or {}
    moves = money.settlement_transfers(order.order_id, order.method or "online", _costs(order),
                                       Fen(int(chain["retail_price_fen"])))
    return await transition(conn, order, "fulfilled", by, actor, topic, moves)


async def start_refund(conn: Conn, order: Order, actor: Actor, topic: str, reason: str
                       ) -> Order:
    """A full refund approved (`paid`/`fulfilling`/`completed → refunding`): a completed
    order's settlement goes back into the escrow at once. Stopping fulfilment, reverting the
    package (G2-20) and reversing commissions (H-38) are not wired yet; `order_refunding` and
    `order_refunded` announce it."""
    moves = []
    if order.state == "completed":
        chain = order.price_chain or {}
        moves = money.settlement_reversals(order.order_id, order.method or "online",
                                           _costs(order), Fen(int(chain["retail_price_fen"])))
    return await transition(conn, order, "refund_approved", "operator", actor, topic, moves,
                            reason=reason)


async def finish_refund(conn: Conn, order: Order, topic: str) -> Order:
    """`refunding → refunded`: the escrow pays the payer back (the channel once it notified
    the refund, a wallet at once)."""
    payer = money.payer_account(order.method or "online", _named(order.agent_id),
                                _named(order.iccid))
    move = money.refund_transfer(order.order_id, payer, Fen(order.amount_fen))
    return await transition(conn, order, "refund_paid", "system", SYSTEM, topic, [move])


async def set_payment(conn: Conn, order_id: str, payment_id: str, pay_url: str) -> Order:
    """Remember the channel's payment of an order (once; later calls keep the first)."""
    await _one(conn, _SET_PAYMENT, (payment_id, pay_url, order_id))
    return await get_order(conn, order_id)


# ---- cancellation and the payment timeout ---------------------------------------------------


async def cancel(conn: Conn, order: Order, by: sm.Actor, actor: Actor, topic: str,
                 reason: str | None = None, at: datetime | None = None) -> Order:
    """`pending_payment → cancelled` (package orders and recharges)."""
    return await transition(conn, order, "cancel", by, actor, topic, reason=reason, at=at)


SYSTEM = Actor("system", "system")


async def expire_due(conn: Conn, topic: str, limit: int = 100) -> list[Order]:
    """Cancel the orders and recharges still unpaid 30 minutes after creation on the platform
    clock, each stamped with its due instant (C-09); returns them (their channel payments are
    to be closed). An order paid meanwhile is left alone (the compare-and-set refuses)."""
    rows = await (await conn.execute(_DUE, (limit,))).fetchall()
    done = []
    for (order_id,) in rows:
        order = await get_order(conn, order_id)
        try:
            done.append(await cancel(conn, order, "system", SYSTEM, topic, "payment_timeout",
                                     at=order.pay_due_at))
        except TransitionRefused:
            continue
    return done


# ---- recharges (G2-12 … G2-14, SM-G2-RECHARGE) --------------------------------------------


async def create_recharge(conn: Conn, new: NewOrder, *, wallet: str, amount: Fen,
                          topic: str, agent_id: str | None = None, iccid: str | None = None,
                          enterprise_id: str | None = None) -> tuple[Order, bool]:
    """A recharge of `wallet` waiting for the channel (`pending_payment`)."""
    async with conn.transaction():
        first = await replay(conn, new)
        if first is not None:
            return first, False
        order = await _insert(conn, new, "pending_payment", topic, event="create",
                              by="buyer", method="online", agent_id=agent_id, iccid=iccid,
                              enterprise_id=enterprise_id, wallet=wallet, amount_fen=amount,
                              pay_due_at=now() + PAYMENT_TIMEOUT)
    return order, True


async def credit(conn: Conn, order: Order, payment_id: str, topic: str,
                 at: datetime | None = None) -> Order:
    """`pending_payment → credited`: the channel's money into the wallet in one transfer;
    a card wallet's recharge announces `card_recharged` with `is_first` (G2-13)."""
    move = money.recharge_transfer(order.order_id, _named(order.wallet), Fen(order.amount_fen))
    async with conn.transaction():
        await ledger.transfer(conn, move)  # locks the wallet: is_first is decided in turn
        extra: dict[str, Any] = {}
        if order.iccid is not None:
            row = await (await conn.execute(_FIRST_RECHARGE, (order.iccid, order.order_id))
                         ).fetchone()
            extra["is_first"] = bool(row and row[0])
        return await transition(conn, order, "payment_confirmed", "channel", SYSTEM, topic,
                                payment_id=payment_id, at=at, **extra)


def _named(value: str | None) -> str:
    """A column the order's kind always fills (a recharge's wallet, a withdrawal's agent)."""
    if value is None:
        raise ValueError("the order lacks a column its kind requires")
    return value


# ---- withdrawals (G2-15, SM-G2-WITHDRAWAL) --------------------------------------------------


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
        order = await _insert(conn, new, "requested", topic, event="request", by="agent",
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
    back = money.withdrawal_return(order.order_id, _named(order.agent_id),
                                   Fen(order.amount_fen))
    return await transition(conn, order, "reject", "finance", actor, topic, [back],
                            reason=reason)


async def finish_withdrawal(conn: Conn, order: Order, paid: bool, topic: str,
                            reason: str | None = None) -> Order:
    """The payout's outcome: paid (amount − fee out, fee to revenue) or failed (back)."""
    agent_id, amount, fee = _named(order.agent_id), Fen(order.amount_fen), Fen(order.fee_fen)
    if paid:
        return await transition(conn, order, "payout_paid", "channel", SYSTEM, topic,
                                money.withdrawal_payout(order.order_id, agent_id, amount, fee))
    back = money.withdrawal_return(order.order_id, agent_id, amount)
    return await transition(conn, order, "payout_failed", "channel", SYSTEM, topic, [back],
                            reason=reason)
