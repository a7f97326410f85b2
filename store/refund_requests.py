"""Refund requests (migrations/0095_refund_requests.sql; §7.2 "refund package order"): the
platform operator requests a refund, the order does not move; platform finance approves it
(`approve`: the refund starts in the same transaction; the API then sends the money back) or
rejects it with a reason. Each change writes its audit row (C-08) and its outbox event in the
same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.clock import now
from core.money import Fen
from domain.orders.errors import IdempotencyConflict, PartialRefundNotAllowed
from domain.orders.refund_requests import (
    RefundAlreadyRequested,
    RefundRequestDecided,
    check_refundable,
)
from domain.refusals import Refusal
from store import audit, card_purchases, outbox, package_orders, refunds
from store.agents import Actor
from store.db import Conn
from store.errors import NotFound
from store.orders import Order, get_order, request_hash
from store.outbox import NewEvent

State = Literal["requested", "approved", "rejected", "failed"]
Decision = Literal["approved", "rejected", "failed"]
_LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 95))"
_BY_KEY = "SELECT * FROM refund_requests WHERE requested_by = %s AND idempotency_key = %s"
_GET = "SELECT * FROM refund_requests WHERE request_id = %s"
_LOCK = "SELECT * FROM refund_requests WHERE request_id = %s FOR UPDATE"
_OPEN = "SELECT * FROM refund_requests WHERE order_id = %s AND state = 'requested'"
_OF_ORDER = "SELECT * FROM refund_requests WHERE order_id = %s ORDER BY requested_at, request_id"
_SEARCH = """
SELECT * FROM refund_requests WHERE %(state)s::text IS NULL OR state = %(state)s
ORDER BY requested_at DESC, request_id DESC LIMIT %(limit)s
"""
_INSERT = """
INSERT INTO refund_requests (request_id, order_id, amount_fen, reason, requested_by,
                             requested_at, idempotency_key, request_hash)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *
"""
_DECIDE = """
UPDATE refund_requests SET state = %s, decided_by = %s, decided_at = %s, decision_reason = %s,
                           failure = %s
WHERE request_id = %s AND state = 'requested' RETURNING *
"""


@dataclass(frozen=True)
class RefundRequest:
    request_id: str
    order_id: str
    amount_fen: int | None
    reason: str
    state: State
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    failure: dict[str, Any] | None
    idempotency_key: str | None
    request_hash: str


async def _one(conn: Conn, query: str, params: Any) -> RefundRequest | None:
    async with conn.cursor(row_factory=class_row(RefundRequest)) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def _all(conn: Conn, query: str, params: Any) -> list[RefundRequest]:
    async with conn.cursor(row_factory=class_row(RefundRequest)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def get(conn: Conn, request_id: str) -> RefundRequest:
    found = await _one(conn, _GET, (request_id,))
    if found is None:
        raise NotFound(f"refund request {request_id!r}")
    return found


async def locked(conn: Conn, request_id: str) -> RefundRequest:
    """The request under its row lock (in the caller's transaction): approvals queue."""
    found = await _one(conn, _LOCK, (request_id,))
    if found is None:
        raise NotFound(f"refund request {request_id!r}")
    return found


async def search(conn: Conn, state: State | None = None, limit: int = 200
                 ) -> list[RefundRequest]:
    """Newest first, of one state or all."""
    return await _all(conn, _SEARCH, {"state": state, "limit": limit})


async def of_order(conn: Conn, order_id: str) -> list[RefundRequest]:
    return await _all(conn, _OF_ORDER, (order_id,))


async def create(conn: Conn, request_id: str, order_id: str, amount: int | None, reason: str,
                 actor: Actor, topic: str, key: str | None = None) -> RefundRequest:
    """A refund requested (`requested`) for `amount` (None: all that remains), refused as the
    refund would refuse it now, or when the order has an open request already (409
    `refund_already_requested`); the order does not move. Idempotent by the requester's `key`
    (C-05)."""
    asked = {"order_id": order_id, "amount_fen": amount, "reason": reason}
    async with conn.transaction():
        if key is not None:
            await conn.execute(_LOCK_KEY, (f"{actor.who} {key}",))
            first = await _one(conn, _BY_KEY, (actor.who, key))
            if first is not None:
                if first.request_hash != request_hash(asked):
                    raise IdempotencyConflict()
                return first
        order = await refunds.locked(conn, order_id)  # requests of one order queue here
        check_refundable(order.kind, order.state, order.amount_fen, order.refunded_fen, amount)
        if await _one(conn, _OPEN, (order_id,)) is not None:
            raise RefundAlreadyRequested()
        at = now()
        made = await _one(conn, _INSERT, (request_id, order_id, amount, reason, actor.who, at,
                                          key, request_hash(asked)))
        if made is None:  # INSERT … RETURNING answers the row
            raise RuntimeError(f"refund request {request_id} not inserted")
        await _announce(conn, made, None, actor, topic, reason, order_state=order.state)
        return made


async def decide(conn: Conn, request: RefundRequest, to: Decision, actor: Actor, topic: str,
                 reason: str | None = None, failure: dict[str, Any] | None = None
                 ) -> RefundRequest:
    """`requested → approved | rejected | failed` (409 `refund_request_decided` if decided
    meanwhile), with who, when and why; the caller runs the refund itself."""
    async with conn.transaction():
        done = await _one(conn, _DECIDE, (to, actor.who, now(), reason,
                                          Jsonb(failure) if failure else None,
                                          request.request_id))
        if done is None:
            raise RefundRequestDecided()
        await _announce(conn, done, "requested", actor, topic, reason)
        return done


async def _announce(conn: Conn, req: RefundRequest, was: str | None, actor: Actor, topic: str,
                    reason: str | None, **extra: Any) -> None:
    data = {"request_id": req.request_id, "order_id": req.order_id,
            "amount_fen": req.amount_fen, "state": req.state, "by": actor.who,
            "at": (req.decided_at or req.requested_at).isoformat(), "failure": req.failure,
            **extra}
    await audit.record(conn, actor.transition("refund_request", req.request_id, was,
                                              req.state, reason, **data))
    await outbox.enqueue(conn, NewEvent(f"{req.request_id}:{req.state}", topic, req.order_id,
                                        f"refund_{req.state}", {**data, "reason": reason}))


async def begin_refund(conn: Conn, order: Order, reason: str, amount: int | None, actor: Actor,
                       topic: str, key: str | None = None) -> Order:
    """The refund approved: `→ refunding` (refused as SM-G2-ORDER refuses it); a card
    purchase in full only. The one start of a refund, for `POST /v1/orders/{id}/refund` and
    for an approved request."""
    if order.kind == "card_purchase":
        if amount is not None and amount != order.amount_fen:
            raise PartialRefundNotAllowed()
        return await card_purchases.start_refund(conn, order, actor, topic, reason)
    return await package_orders.start_refund(
        conn, order, actor, topic, reason, None if amount is None else Fen(amount), key)


async def approve(conn: Conn, request_id: str, actor: Actor, topic: str) -> RefundRequest:
    """An open request approved: its refund started (`→ refunding`) and the request
    `approved` in one transaction; a refund refused now leaves it `failed` with the refusal
    (`failure`). A decided request is answered as it is (the caller tells them apart)."""
    async with conn.transaction():
        req = await locked(conn, request_id)
        if req.state != "requested":
            return req
        order = await get_order(conn, req.order_id)
        try:
            await begin_refund(conn, order, req.reason, req.amount_fen, actor, topic)
        except Refusal as exc:
            return await decide(conn, req, "failed", actor, topic,
                                failure={**exc.as_detail(), "field": exc.field})
        return await decide(conn, req, "approved", actor, topic)


def refusal(req: RefundRequest) -> Refusal:
    """The refusal a failed request met, to answer again; a rejected one: 409
    `refund_request_decided`."""
    found = req.failure
    if req.state != "failed" or found is None:
        return RefundRequestDecided()
    return Refusal(found["message_en"], code=found["code"], message_zh=found["message_zh"],
                   message_en=found["message_en"], field=found.get("field"))
