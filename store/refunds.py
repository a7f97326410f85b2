"""Refunds of orders, one row each (migrations/0080_refunds.sql): a package order may be
refunded in several parts up to its amount (SM-G2-ORDER), a recharge once (SM-G2-RECHARGE).
A refund is `asked` while its money is on the way back (its order is `refunding`), then
`paid`. A caller's `Idempotency-Key` names its refund (C-05). The functions run in their
caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row

from core.clock import now
from core.money import Fen
from domain.orders.errors import IdempotencyConflict
from store.agents import Actor
from store.db import Conn
from store.orders import Order, get_order, one, request_hash

_LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 80))"
_LOCK_ORDER = "SELECT * FROM orders WHERE order_id = %s FOR UPDATE"
_BY_KEY = "SELECT * FROM order_refunds WHERE created_by = %s AND idempotency_key = %s"
_BY_ID = "SELECT * FROM order_refunds WHERE refund_id = %s"
_ASKED = "SELECT * FROM order_refunds WHERE order_id = %s AND state = 'asked'"
_PAID = "SELECT amount_fen FROM order_refunds WHERE order_id = %s AND state = 'paid' ORDER BY seq"
_INSERT = """
INSERT INTO order_refunds (refund_id, order_id, seq, amount_fen, state, reason, created_by,
                           idempotency_key, request_hash, paid_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *
"""
_MARK_PAID = "UPDATE order_refunds SET state = 'paid', paid_at = %s WHERE refund_id = %s"
_ADD_REFUNDED = """
UPDATE orders SET refunded_fen = refunded_fen + %s WHERE order_id = %s RETURNING *
"""
_CLOSE_INTERCEPT = """
UPDATE orders SET intercepted = false, released_at = %s, released_by = %s
WHERE order_id = %s AND intercepted RETURNING *
"""


@dataclass(frozen=True)
class Refund:
    refund_id: str
    order_id: str
    seq: int
    amount_fen: int
    state: str
    reason: str | None
    created_by: str
    idempotency_key: str | None
    request_hash: str
    created_at: datetime
    paid_at: datetime | None


def refund_id(order_id: str, seq: int) -> str:
    """The refund's id, also the one asked of the payment channel (the first keeps the name
    full refunds always had)."""
    return f"{order_id}-refund" if seq == 1 else f"{order_id}-refund-{seq}"


async def _one(conn: Conn, query: str, params: tuple[object, ...]) -> Refund | None:
    async with conn.cursor(row_factory=class_row(Refund)) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def locked(conn: Conn, order_id: str) -> Order:
    """The order read again under its row lock: concurrent refunds of it queue, and each
    decides on what the one before left."""
    found = await one(conn, _LOCK_ORDER, (order_id,))
    return found if found is not None else await get_order(conn, order_id)


async def replay(conn: Conn, actor: Actor, key: str | None, request: dict[str, Any]
                 ) -> Refund | None:
    """The refund the caller made with `key` (C-05), after locking the key; None if none;
    409 `idempotency_conflict` if it was made for another request."""
    if key is None:
        return None
    await conn.execute(_LOCK_KEY, (f"{actor.who} {key}",))
    found = await _one(conn, _BY_KEY, (actor.who, key))
    if found is not None and found.request_hash != request_hash(request):
        raise IdempotencyConflict()
    return found


async def asked(conn: Conn, order_id: str) -> Refund | None:
    """The order's refund whose money is on the way back, if any."""
    return await _one(conn, _ASKED, (order_id,))


async def by_id(conn: Conn, refund_id_: str) -> Refund | None:
    return await _one(conn, _BY_ID, (refund_id_,))


async def paid_amounts(conn: Conn, order_id: str) -> list[Fen]:
    """The amounts of the order's paid refunds, in order."""
    rows = await (await conn.execute(_PAID, (order_id,))).fetchall()
    return [Fen(int(row[0])) for row in rows]


async def record(conn: Conn, order: Order, seq: int, amount: Fen, *, paid: bool,
                 reason: str | None, actor: Actor, key: str | None,
                 request: dict[str, Any]) -> Refund:
    made = await _one(conn, _INSERT, (
        refund_id(order.order_id, seq), order.order_id, seq, amount,
        "paid" if paid else "asked", reason, actor.who, key, request_hash(request),
        now() if paid else None))
    if made is None:  # INSERT … RETURNING always answers a row
        raise RuntimeError(f"refund of {order.order_id} not recorded")
    return made


async def mark_paid(conn: Conn, refund: Refund) -> None:
    await conn.execute(_MARK_PAID, (now(), refund.refund_id))


async def add_refunded(conn: Conn, order: Order, amount: Fen) -> Order:
    """Count `amount` as paid back on the order."""
    return await one(conn, _ADD_REFUNDED, (amount, order.order_id)) or order


async def close_interception(conn: Conn, order: Order, actor: Actor) -> Order:
    """AMB-49: a refund closes the order's interception (nothing if it had none)."""
    return await one(conn, _CLOSE_INTERCEPT, (now(), actor.who, order.order_id)) or order
