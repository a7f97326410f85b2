"""Package validity (G2-18, G2-19; `packages.validity_cycles`): an applied package order covers
that many billing cycles from the one it was applied in; its bytes count in each (the card's
one `package_bytes` applies to every cycle) and come off the card once the last one is over on
the platform clock — the cycle rollover's expiry, stamped with the instant the next cycle
began. A refund before then takes the bytes off itself (G2-20, `store.order_packages`); an
expired package has nothing left to take off."""

from __future__ import annotations

from datetime import datetime

from domain.orders.fulfilment import expired
from store import audit
from store.cards import update_card
from store.db import Conn
from store.orders import SYSTEM
from store.quota import NOTHING, Outcome

_COVER = """
INSERT INTO card_packages (order_id, iccid, bytes, first_cycle, last_cycle)
SELECT %(order)s, c.iccid, %(bytes)s, cp_cycle(cp_now(), e.timezone),
       (cp_cycle(cp_now(), e.timezone) + make_interval(months => %(cycles)s - 1))::date
FROM cards c JOIN enterprises e ON e.enterprise_id = c.enterprise_id WHERE c.iccid = %(iccid)s
ON CONFLICT (order_id) DO NOTHING
"""
_DUE = """
SELECT p.order_id, p.iccid FROM card_packages p
JOIN cards c ON c.iccid = p.iccid JOIN enterprises e ON e.enterprise_id = c.enterprise_id
WHERE p.expired_at IS NULL AND p.last_cycle < cp_cycle(cp_now(), e.timezone)
ORDER BY p.last_cycle, p.order_id LIMIT %s
"""
_LOCK_CARD = "SELECT package_bytes FROM cards WHERE iccid = %s FOR UPDATE"
# Read after the card's lock: a refund (which locks the card first) has committed or not begun.
_LOCK = """
SELECT p.bytes, o.package_reverted_at IS NOT NULL,
       (p.last_cycle + interval '1 month')::timestamp AT TIME ZONE e.timezone
FROM card_packages p JOIN orders o ON o.order_id = p.order_id
JOIN cards c ON c.iccid = p.iccid JOIN enterprises e ON e.enterprise_id = c.enterprise_id
WHERE p.order_id = %s AND p.expired_at IS NULL AND p.last_cycle < cp_cycle(cp_now(), e.timezone)
FOR UPDATE OF p
"""
_EXPIRE = "UPDATE card_packages SET expired_at = %s WHERE order_id = %s"
_EXPIRED = "SELECT expired_at IS NOT NULL FROM card_packages WHERE order_id = %s"


async def cover(conn: Conn, order_id: str, iccid: str, added: int, cycles: int) -> None:
    """Record that the order's package, just applied, covers `cycles` cycles from now's."""
    await conn.execute(_COVER, {"order": order_id, "bytes": added, "cycles": max(1, cycles),
                                "iccid": iccid})


async def has_expired(conn: Conn, order_id: str) -> bool:
    """Whether the order's package has covered its last cycle and come off its card."""
    row = await (await conn.execute(_EXPIRED, (order_id,))).fetchone()
    return bool(row and row[0])


async def _expire(conn: Conn, order_id: str, iccid: str) -> Outcome:
    async with conn.transaction():
        card = await (await conn.execute(_LOCK_CARD, (iccid,))).fetchone()
        row = await (await conn.execute(_LOCK, (order_id,))).fetchone()
        if card is None or row is None:  # expired meanwhile by another worker
            return NOTHING
        added, reverted, ended_at = int(row[0]), bool(row[1]), row[2]
        outcome = NOTHING
        if not reverted:  # a refunded package is off the card already
            _, outcome = await update_card(conn, iccid, package_bytes=expired(card[0], added))
        await conn.execute(_EXPIRE, (ended_at, order_id))
        await audit.record(conn, SYSTEM.transition(
            "card_package", order_id, "covering", "expired", "validity_ended", iccid=iccid,
            bytes=added, at=_iso(ended_at)))
    return outcome


def _iso(at: datetime) -> str:
    return at.isoformat()


async def expire_due(conn: Conn, limit: int) -> tuple[list[Outcome], bool]:
    """Take off their cards the packages whose last covered cycle is over (up to `limit`,
    each in its own transaction); the quota outcomes to publish, and whether more may be
    left."""
    rows = await (await conn.execute(_DUE, (limit,))).fetchall()
    outcomes = [await _expire(conn, str(order_id), str(iccid)) for order_id, iccid in rows]
    return outcomes, len(rows) == limit
