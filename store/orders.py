"""G2 orders in PostgreSQL (schema: migrations/0050_orders.sql): package orders, recharges and
withdrawals (their own steps: `store.package_orders`, `store.wallet_orders`), each moved
through its state machine (`domain.orders.machines`) by a compare-and-set on `state` in one
transaction with its ledger transfers, its audit row (C-08) and its outbox event
(`order_paid`, `card_recharged`, `withdrawal_paid` …).

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.clock import now
from domain.ledger import Transfer
from domain.orders import machines as sm
from domain.orders.errors import (
    IdempotencyConflict,
    TransitionRefused,
)
from store import audit, ledger, outbox
from store.agents import Actor
from store.db import Conn
from store.errors import NotFound
from store.outbox import NewEvent

PAYMENT_TIMEOUT = timedelta(minutes=30)  # (proposed) SM-G2-ORDER / SM-G2-RECHARGE
SYSTEM = Actor("system", "system")  # timers and the payment channel, in the audit trail


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
    package_before: int | None = None
    package_added: int | None = None
    package_applied_at: datetime | None = None
    package_reverted_at: datetime | None = None
    activation_asked_at: datetime | None = None
    counted: bool = False
    event_type: str | None = None  # a number_card_event's card event type
    quantity: int | None = None  # a card_purchase's number of cards
    allocated: list[str] | None = None  # a completed card_purchase's cards
    refunded_fen: int = 0
    released_at: datetime | None = None
    released_by: str | None = None


@dataclass(frozen=True)
class NewOrder:
    """What a create asks for; `request` is hashed for the idempotency check."""

    order_id: str
    kind: sm.Kind
    actor: Actor
    request: dict[str, Any]
    idempotency_key: str | None = None


_INSERT = """
INSERT INTO orders (order_id, kind, state, method, created_by, created_role, agent_id, iccid,
    enterprise_id, wallet, package_id, amount_fen, fee_fen, price_chain, price_risks,
    intercepted, payout_account, idempotency_key, request_hash, pay_due_at, event_type,
    quantity)
VALUES (%(order_id)s, %(kind)s, %(state)s, %(method)s, %(created_by)s, %(created_role)s,
    %(agent_id)s, %(iccid)s, %(enterprise_id)s, %(wallet)s, %(package_id)s, %(amount_fen)s,
    %(fee_fen)s, %(price_chain)s, %(price_risks)s, %(intercepted)s, %(payout_account)s,
    %(idempotency_key)s, %(request_hash)s, %(pay_due_at)s, %(event_type)s, %(quantity)s)
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
_DUE = """
SELECT order_id FROM orders WHERE state = 'pending_payment' AND pay_due_at <= cp_now()
ORDER BY pay_due_at LIMIT %s
"""
_LIST = """
SELECT * FROM orders
WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)
  AND (%(intercepted)s::boolean IS NULL OR intercepted = %(intercepted)s)
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


async def one(conn: Conn, query: str, params: Any) -> Order | None:
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def get_order(conn: Conn, order_id: str) -> Order:
    found = await one(conn, _GET, (order_id,))
    if found is None:
        raise NotFound(f"order {order_id!r}")
    return found


async def list_orders(conn: Conn, *, everything: bool, who: str, agent_id: str | None,
                      enterprise_id: str | None, kind: str | None, limit: int = 100,
                      intercepted: bool | None = None) -> list[Order]:
    """Orders the caller sees: all (platform), its agent's, its enterprise's, its own;
    with `intercepted`, only those (not) held by a price risk (G1-18)."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_LIST, {"kind": kind, "everything": everything, "agent": agent_id,
                                  "who": who, "enterprise": enterprise_id, "limit": limit,
                                  "intercepted": intercepted})
        return await cur.fetchall()


async def replay(conn: Conn, new: NewOrder) -> Order | None:
    """The first order made with the key (C-05), after locking the key; None if none."""
    if new.idempotency_key is None:
        return None
    await conn.execute(_LOCK_KEY, (f"{new.actor.who} {new.idempotency_key}",))
    first = await one(conn, _BY_KEY, (new.actor.who, new.idempotency_key))
    if first is not None and first.request_hash != request_hash(new.request):
        raise IdempotencyConflict()
    return first


# A number card's operator event, as the commission module (H) reads it on the orders topic.
NUMBER_CARD_EVENT_KINDS = {"real_name_verified": "real_name_verified",
                           "activated": "card_activated", "recharged": "number_card_recharged"}


def _event_kind(kind: sm.Kind, state: str, order: Order) -> str:
    if kind == "package":
        return f"order_{state}"
    if kind == "number_card_event":
        return NUMBER_CARD_EVENT_KINDS[named(order.event_type)]
    if kind == "card_purchase":
        return f"card_purchase_{state}"
    if kind == "recharge":
        if state == "credited":
            return "card_recharged" if order.iccid else "wallet_recharged"
        if state == "refunded" and order.iccid:
            return "card_recharge_refunded"  # H recomputes the card's recharge conditions
        return f"recharge_{state}"
    return f"withdrawal_{state}"


def _event_data(order: Order, state: str, at: datetime, extra: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"order_id": order.order_id, "kind": order.kind, "state": state,
                            "amount": order.amount_fen, "at": at.isoformat()}
    for key in ("agent_id", "iccid", "enterprise_id", "package_id", "method", "event_type",
                "quantity"):
        if getattr(order, key) is not None:
            data[key] = getattr(order, key)
    return {**data, **extra}


def announcement(order: Order, from_state: str | None, actor: Actor, topic: str, at: datetime,
                 reason: str | None = None, extra: dict[str, Any] | None = None,
                 ) -> tuple[audit.Transition, NewEvent]:
    """The audit row and the outbox event of `order` having reached its state."""
    extra = extra or {}
    # a second refund of an order passes its states again: its events are its own
    seq = int(extra.get("refund_seq", 1))
    event_id = f"{order.order_id}:{order.state}" + (f":{seq}" if seq > 1 else "")
    return (actor.transition("order", order.order_id, from_state, order.state, reason,
                             order_kind=order.kind, **extra),
            NewEvent(event_id, topic, order.order_id,
                     _event_kind(order.kind, order.state, order),
                     _event_data(order, order.state, at, extra)))


async def _announce(conn: Conn, order: Order, from_state: str | None, actor: Actor, topic: str,
                    at: datetime, reason: str | None, extra: dict[str, Any]) -> None:
    row, event = announcement(order, from_state, actor, topic, at, reason, extra)
    await audit.record(conn, row)
    await outbox.enqueue(conn, event)


async def insert(conn: Conn, new: NewOrder, state: str, topic: str,
                 announce: dict[str, Any] | None = None, **fields: Any) -> Order:
    """Insert a new order in `state` (checked against its machine's create row) with its
    audit row and event (`announce`: more data for the event)."""
    sm.step(new.kind, sm.NEW, fields.pop("event"), fields.pop("by"))
    row = {"order_id": new.order_id, "kind": new.kind, "state": state, "method": None,
           "created_by": new.actor.who, "created_role": new.actor.role, "agent_id": None,
           "iccid": None, "enterprise_id": None, "wallet": None, "package_id": None,
           "fee_fen": 0, "price_chain": None, "price_risks": Jsonb([]), "intercepted": False,
           "payout_account": None, "idempotency_key": new.idempotency_key,
           "request_hash": request_hash(new.request), "pay_due_at": None, "event_type": None,
           "quantity": None, **fields}
    order = await one(conn, _INSERT, row)
    if order is None:  # INSERT … RETURNING always answers a row
        raise RuntimeError(f"order {new.order_id} not inserted")
    await _announce(conn, order, None, new.actor, topic, order.created_at, None, announce or {})
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
        moved = await one(conn, _CAS, {
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


def named(value: str | None) -> str:
    """A column the order's kind always fills (a recharge's wallet, a withdrawal's agent)."""
    if value is None:
        raise ValueError("the order lacks a column its kind requires")
    return value


# ---- cancellation and the payment timeout (package orders and recharges) -------------------


async def cancel(conn: Conn, order: Order, by: sm.Actor, actor: Actor, topic: str,
                 reason: str | None = None, at: datetime | None = None) -> Order:
    """`pending_payment → cancelled` (package orders and recharges)."""
    return await transition(conn, order, "cancel", by, actor, topic, reason=reason, at=at)




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


