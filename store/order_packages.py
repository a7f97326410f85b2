"""A package order's side on its card (G2-18…G2-20): the package applied through the same
store path as `PATCH /v1/cards/{iccid}` (`store.cards.update_card`: the quota rules re-run at
once), reverted by a refund, and the card's package count. Each runs in its caller's
transaction, with the order's row recording it, so none happens twice."""

from __future__ import annotations

from core.clock import now
from domain.orders.fulfilment import applied, reverted
from store.cards import update_card
from store.db import Conn
from store.orders import Order, named, one
from store.package_validity import cover, has_expired
from store.quota import NOTHING, Outcome

_APPLIED = """
UPDATE orders SET package_before = %s, package_added = %s, package_applied_at = %s
WHERE order_id = %s AND package_applied_at IS NULL RETURNING *
"""
_REVERTED = """
UPDATE orders SET package_reverted_at = %s
WHERE order_id = %s AND package_applied_at IS NOT NULL AND package_reverted_at IS NULL
RETURNING *
"""
_COUNT = "UPDATE cards SET package_count = package_count + %s WHERE iccid = %s"
_COUNTED = "UPDATE orders SET counted = %s WHERE order_id = %s AND counted <> %s RETURNING *"
_CARD_PACKAGE = "SELECT package_bytes FROM cards WHERE iccid = %s FOR UPDATE"


async def lock_card(conn: Conn, order: Order) -> None:
    """Lock the order's card before any ledger account: fulfilment and refunds take the card,
    then the accounts, so two of them on the same card never wait on each other in a
    circle."""
    if order.iccid is not None:
        await conn.execute(_CARD_PACKAGE, (order.iccid,))


def card_managed(order: Order) -> bool:
    """Whether the order's product goes through card management (G1-02; default true)."""
    return bool((order.price_chain or {}).get("card_managed", True))


def validity_cycles(order: Order) -> int:
    """How many billing cycles the order's package covers (its snapshot; default 1)."""
    return int((order.price_chain or {}).get("validity_cycles") or 1)


def package_bytes(order: Order) -> int:
    """The bytes the order's package gives (its snapshot; a package without any: 0)."""
    return int((order.price_chain or {}).get("package_bytes") or 0)


async def _package_of(conn: Conn, iccid: str) -> tuple[bool, int | None]:
    row = await (await conn.execute(_CARD_PACKAGE, (iccid,))).fetchone()
    return (False, None) if row is None else (True, row[0])


async def apply_package(conn: Conn, order: Order) -> tuple[Order, Outcome]:
    """Add the order's package to its card (once), remembering what the card had before."""
    iccid = named(order.iccid)
    exists, before = await _package_of(conn, iccid)
    if not exists or order.package_applied_at is not None:
        return order, NOTHING
    added = package_bytes(order)
    _, outcome = await update_card(conn, iccid, package_bytes=applied(before, added))
    marked = await one(conn, _APPLIED, (before, added, now(), order.order_id))
    await cover(conn, order.order_id, iccid, added, validity_cycles(order))
    return marked or order, outcome


async def revert_package(conn: Conn, order: Order) -> tuple[Order, Outcome]:
    """Take the order's package off its card again (G2-20; once, and only if it was
    applied and has not expired already); the quota rules re-run, so a card the package kept
    running may stop."""
    if order.package_applied_at is None or order.package_reverted_at is not None:
        return order, NOTHING
    iccid = named(order.iccid)
    exists, current = await _package_of(conn, iccid)
    outcome = NOTHING
    if exists and not await has_expired(conn, order.order_id):  # expired: nothing left on it
        goal = reverted(current, order.package_before, order.package_added or 0)
        _, outcome = await update_card(conn, iccid, package_bytes=goal)
    marked = await one(conn, _REVERTED, (now(), order.order_id))
    return marked or order, outcome


async def count(conn: Conn, order: Order, counted: bool) -> Order:
    """Put the order in (or take it out of) its card's package count (G2-19), once."""
    if order.iccid is None or not card_managed(order):
        return order
    marked = await one(conn, _COUNTED, (counted, order.order_id, counted))
    if marked is None:
        return order
    await conn.execute(_COUNT, (1 if counted else -1, order.iccid))
    return marked
