"""Fulfilment of card-managed package orders (G2-17, G2-18, SM-G2-ORDER `fulfilling → completed
| failed`), run by the worker's fulfilment timer.

Why a timer over the table rather than a consumer of the orders topic: the state of record is
the order's row; a scan of the orders in `fulfilling` needs no offsets, survives any restart
and also finds orders whose `order_fulfilling` event was lost or relayed late, and it has to
come back anyway to an order waiting for its card to open (which no orders event announces).

Each order moves in its own transaction that locks its row (`FOR UPDATE SKIP LOCKED`: two
workers never work on the same order) and records every step on it (package applied,
activation asked), so a crash anywhere repeats at most the step that did not commit, and a
committed step is never done twice. The desired changes are published after the commit (a
hint: the controls' periodic reconciliation picks up one that is lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from psycopg.rows import class_row

from core.clock import now
from domain.orders.fulfilment import Next, Progress, next_step
from store import package_orders
from store.cards import CardView, activate, get_card
from store.db import Conn
from store.errors import NotFound
from store.order_packages import apply_package, lock_card, revert_package
from store.orders import SYSTEM, Order, named, one, transition
from store.quota import Outcome

BATCH = 200
_DUE = """
SELECT order_id FROM orders
WHERE kind = 'package' AND state = 'fulfilling'
  AND coalesce((price_chain ->> 'card_managed')::boolean, true) AND order_id > %s
  AND (hashtextextended(order_id, 0) & 1023) %% %s = %s
ORDER BY order_id LIMIT %s
"""
_LOCK = "SELECT * FROM orders WHERE order_id = %s AND state = 'fulfilling' FOR UPDATE SKIP LOCKED"
_ASKED = "UPDATE orders SET activation_asked_at = %s WHERE order_id = %s RETURNING *"
_UNREFUNDED = """
SELECT * FROM orders
WHERE kind = 'package' AND state = 'failed' AND method = 'online' AND updated_at <= cp_now() - %s
ORDER BY updated_at, order_id LIMIT %s
"""


@dataclass
class Round:
    """What one round did: the desired changes to publish, the orders that failed and wait for
    the channel to refund them (online payments), how many orders it looked at."""

    outcomes: list[Outcome] = field(default_factory=list)
    to_refund: list[Order] = field(default_factory=list)
    completed: int = 0
    looked_at: int = 0
    last: str = ""  # the greatest order id looked at: the next round starts after it


def _failed(card: CardView) -> bool:
    control = card.control
    return control is not None and control.state == "failed" and control.target == "active"


def _progress(order: Order, card: CardView) -> Progress:
    return Progress(package_applied=order.package_applied_at is not None,
                    card_opened=card.opened,
                    activation_asked=order.activation_asked_at is not None,
                    activation_failed=_failed(card))


async def _fail(conn: Conn, order: Order, topic: str, done: Round) -> None:
    """`fulfilling → failed` (the activation failed for good), then the full refund: the
    package off the card, and the money back to a wallet at once or, for an online payment,
    once the channel has refunded it (`refund_paid` on its notification)."""
    failed = await transition(conn, order, "activation_failed", "system", SYSTEM, topic,
                              reason="activation_failed")
    if failed.method == "online":
        failed, outcome = await revert_package(conn, failed)
        done.outcomes.append(outcome)
        done.to_refund.append(failed)
        return
    _, outcome = await package_orders.refund_paid(conn, failed, topic)
    done.outcomes.append(outcome)


async def _step(conn: Conn, order: Order, card: CardView, step: Next, topic: str,
                done: Round) -> Order | None:
    """Do `step`; the order to look at again in the same transaction, or None."""
    if step == "apply":
        order, outcome = await apply_package(conn, order)
        done.outcomes.append(outcome)
        return order
    if step == "activate":
        _, outcome = await activate(conn, named(order.iccid))
        done.outcomes.append(outcome)
        return await one(conn, _ASKED, (now(), order.order_id))
    if step == "complete":
        await package_orders.complete(conn, order, SYSTEM, topic)
        done.completed += 1
    elif step == "fail":
        await _fail(conn, order, topic, done)
    return None


async def fulfil(conn: Conn, order_id: str, topic: str, done: Round) -> None:
    """Move one order in `fulfilling` as far as it goes now (nothing if another worker holds
    it, it moved on, or its card is not registered: it then waits, and the platform's
    stand-in `POST /v1/orders/{id}/complete` or a refund ends it)."""
    async with conn.transaction():
        order = await one(conn, _LOCK, (order_id,))
        if order is not None:
            await lock_card(conn, order)
        while order is not None:
            try:
                card = await get_card(conn, named(order.iccid))
            except NotFound:
                return
            order = await _step(conn, order, card, next_step(_progress(order, card)), topic,
                                done)


async def fulfil_due(conn: Conn, topic: str, after: str = "", limit: int = BATCH,
                     lane: int = 0, lanes: int = 1) -> Round:
    """One round over up to `limit` orders in `fulfilling`, by order id after `after` (orders
    waiting for their card to open never hold up the others); with `lanes` > 1, only the
    orders of lane `lane` (by a hash of the order id), so that lanes run side by side."""
    done = Round(last=after)
    rows = await (await conn.execute(_DUE, (after, lanes, lane, limit))).fetchall()
    for (order_id,) in rows:
        done.looked_at += 1
        done.last = str(order_id)
        await fulfil(conn, str(order_id), topic, done)
    return done


async def unrefunded(conn: Conn, older_than: timedelta, limit: int = BATCH) -> list[Order]:
    """Failed online orders whose refund the channel has not notified `older_than` after they
    failed: their refund is asked again (the channel keys it by the refund id)."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_UNREFUNDED, (older_than, limit))
        return await cur.fetchall()
