"""Fulfilment of card-managed package orders (G2-17, G2-18, SM-G2-ORDER `fulfilling → completed
| failed`), run by the worker's fulfilment timer.

Why a timer over the table rather than a consumer of the orders topic: the state of record is
the order's row; a scan of the orders in `fulfilling` needs no offsets, survives any restart
and also finds orders whose `order_fulfilling` event was lost or relayed late, and it has to
come back anyway to an order waiting for its card to open (which no orders event announces).

Each order moves in its own savepoint that locks its row (`FOR UPDATE SKIP LOCKED`: two
workers never work on the same order) and records every step on it (package applied,
activation asked); up to `PER_COMMIT` orders share one commit (issue 16: a commit per order
was most of a round). A crash anywhere repeats at most the steps that did not commit, and a
committed step is never done twice. The desired changes are published after the commit (a
hint: the controls' periodic reconciliation picks up one that is lost).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from psycopg.rows import class_row

from core.clock import now
from domain.orders.fulfilment import Next, Progress, applied, next_step
from store import package_orders
from store.cards import CardView, activate, get_card, get_cards, lock_cards, update_packages
from store.db import Conn
from store.errors import NotFound
from store.order_packages import (
    apply_package,
    lock_card,
    package_bytes,
    revert_package,
    validity_cycles,
)
from store.orders import SYSTEM, Order, named, one, transition
from store.package_validity import cover
from store.quota import Outcome

BATCH = 200
PER_COMMIT = 50  # orders of a round moved in one transaction, each in a savepoint
log = logging.getLogger(__name__)
_DUE = """
SELECT order_id FROM orders
WHERE kind = 'package' AND state = 'fulfilling'
  AND coalesce((price_chain ->> 'card_managed')::boolean, true) AND order_id > %s
  AND (hashtextextended(order_id, 0) & 1023) %% %s = %s
ORDER BY order_id LIMIT %s
"""
_LOCK = "SELECT * FROM orders WHERE order_id = %s AND state = 'fulfilling' FOR UPDATE SKIP LOCKED"
_LOCK_MANY = """
SELECT * FROM orders WHERE order_id = ANY(%s) AND state = 'fulfilling'
ORDER BY order_id FOR UPDATE SKIP LOCKED
"""
_APPLIED_MANY = """
UPDATE orders o SET package_before = n.before, package_added = n.added,
    package_applied_at = %s
FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS n (order_id, before, added)
WHERE o.order_id = n.order_id AND o.package_applied_at IS NULL
RETURNING o.*
"""
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
    for lo in range(0, len(rows), PER_COMMIT):
        chunk = [str(row[0]) for row in rows[lo:lo + PER_COMMIT]]
        async with conn.transaction():
            rest = await _fulfil_plain(conn, chunk, topic, done)
            for order_id in rest:  # each in a savepoint
                await _fulfil_one(conn, order_id, topic, done)
        done.looked_at += len(chunk)
        done.last = chunk[-1]
    return done


async def _fulfil_plain(conn: Conn, order_ids: list[str], topic: str, done: Round,
                        ) -> list[str]:
    """Lock the chunk's orders, then their cards (in ICCID order, so that lanes never wait on
    each other in a circle), and move the plain ones all at once: package not applied yet,
    card registered and opened, no other order of the chunk on the card — package applied
    to every card with the rules re-run once (`update_packages`), then completed with their
    settlements in one ledger batch (`package_orders.complete_many`). Returns the ids of the
    others, for `fulfil` one by one (in the same transaction: their rows stay locked)."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_LOCK_MANY, (order_ids,))
        locked = await cur.fetchall()
    cards = await lock_cards(conn, sorted({o.iccid for o in locked if o.iccid is not None}))
    per_card = Counter(o.iccid for o in locked)
    candidates = [o for o in locked if o.package_applied_at is None and o.iccid in cards
                  and per_card[o.iccid] == 1]
    views = await get_cards(conn, [named(o.iccid) for o in candidates])
    plain = [o for o in candidates if views[named(o.iccid)].opened]
    plain_ids = {o.order_id for o in plain}
    rest = [order_id for order_id in order_ids if order_id not in plain_ids]
    if not plain:
        return rest
    before = {named(o.iccid): cards[named(o.iccid)][0] for o in plain}
    added = {o.order_id: package_bytes(o) for o in plain}
    _, outcome = await update_packages(conn, {
        named(o.iccid): applied(before[named(o.iccid)], added[o.order_id]) for o in plain})
    done.outcomes.append(outcome)
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_APPLIED_MANY, (
            now(), [o.order_id for o in plain], [before[named(o.iccid)] for o in plain],
            [added[o.order_id] for o in plain]))
        marked = await cur.fetchall()
    async with conn.pipeline():  # what each package covers (as `apply_package` records it)
        for order in marked:
            await cover(conn, order.order_id, named(order.iccid), added[order.order_id],
                        validity_cycles(order))
    completed = await package_orders.complete_many(conn, marked, SYSTEM, topic)
    done.completed += len(completed)
    return rest


async def _fulfil_one(conn: Conn, order_id: str, topic: str, done: Round) -> None:
    """`fulfil` in a savepoint: an order that fails unexpectedly is left for the next round
    (its savepoint rolled back) without holding up the others of its commit."""
    mark = (len(done.outcomes), len(done.to_refund), done.completed)
    try:
        await fulfil(conn, order_id, topic, done)
    except (psycopg.OperationalError, psycopg.errors.InFailedSqlTransaction):
        raise
    except Exception:
        log.exception("fulfilment of order %s failed; the next round tries it again",
                      order_id)
        del done.outcomes[mark[0]:], done.to_refund[mark[1]:]
        done.completed = mark[2]


async def unrefunded(conn: Conn, older_than: timedelta, limit: int = BATCH) -> list[Order]:
    """Failed online orders whose refund the channel has not notified `older_than` after they
    failed: their refund is asked again (the channel keys it by the refund id)."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_UNREFUNDED, (older_than, limit))
        return await cur.fetchall()
