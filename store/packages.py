"""Packages (G1-01…G1-04, G1-15/16): business line, `card_managed`, the purchase price
(traffic cards) or the factory's price (number cards), data and validity. A change of the
purchase price re-checks the platform's cost prices for top-level agents (G1-06, G1-12)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from domain.pricing.chain import BusinessLine
from store import audit
from store.agents import Actor
from store.db import Conn
from store.errors import AlreadyExists, NotFound


@dataclass(frozen=True)
class PackageRow:
    package_id: str
    name: str
    business_line: BusinessLine
    card_managed: bool
    purchase_price_fen: int | None
    factory_price_fen: int | None
    package_bytes: int | None
    voice_minutes: int | None
    validity_cycles: int
    listed: bool
    version: int
    created_at: datetime
    updated_at: datetime
    card_price_fen: int | None = None  # one physical card of the product (card purchases)


_COLUMNS = ("package_id", "name", "business_line", "card_managed", "purchase_price_fen",
            "factory_price_fen", "package_bytes", "voice_minutes", "validity_cycles", "listed",
            "card_price_fen")
_CHANGEABLE = ("name", "purchase_price_fen", "factory_price_fen", "package_bytes",
               "voice_minutes", "validity_cycles", "listed", "card_managed",
               "card_price_fen")
_GET = "SELECT * FROM packages WHERE package_id = %s"
_LOCK = "SELECT * FROM packages WHERE package_id = %s FOR UPDATE"
# Platform: every package. Agents: traffic packages they hold a cost price for (G1-08) and
# listed number cards. End users: packages their agent retails now, and listed number cards.
_LIST = """
SELECT k.* FROM packages k
WHERE %(everything)s
   OR (k.business_line = 'number_card' AND k.listed)
   OR EXISTS (SELECT 1 FROM prices p WHERE p.package_id = k.package_id
              AND p.agent_id = %(agent)s AND p.kind = %(kind)s
              AND p.status <> 'deleted' AND (NOT %(active_only)s OR p.status = 'active')
              AND (p.valid_to IS NULL OR p.valid_to > cp_now()))
ORDER BY k.package_id
"""


async def _one(conn: Conn, query: str | sql.Composed, params: Any) -> PackageRow | None:
    async with conn.cursor(row_factory=class_row(PackageRow)) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def get_package(conn: Conn, package_id: str, *, lock: bool = False) -> PackageRow:
    found = await _one(conn, _LOCK if lock else _GET, (package_id,))
    if found is None:
        raise NotFound(f"package {package_id!r}")
    return found


async def create_package(conn: Conn, values: dict[str, Any], actor: Actor) -> PackageRow:
    """A new package (G1-01: its line; G1-04: its purchase price)."""
    sent = {c: values[c] for c in _COLUMNS if c in values}
    query = sql.SQL("INSERT INTO packages ({}) VALUES ({}) RETURNING *").format(
        sql.SQL(", ").join(map(sql.Identifier, sent)),
        sql.SQL(", ").join(sql.Placeholder() * len(sent)))
    async with conn.transaction():
        try:
            made = await _one(conn, query, tuple(sent.values()))
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"package {values['package_id']!r}") from None
        if made is None:
            raise NotFound(f"package {values['package_id']!r}")
        await audit.record(conn, actor.transition(
            "package", made.package_id, None, "listed" if made.listed else "delisted",
            "created", purchase_price_fen=made.purchase_price_fen))
    return made


async def update_package(conn: Conn, package: PackageRow, changes: dict[str, Any],
                         actor: Actor) -> PackageRow:
    """Apply `changes` to the locked `package` (call inside a transaction); the version moves
    on; listing and purchase-price changes are audited."""
    sent = {c: v for c, v in changes.items() if c in _CHANGEABLE}
    if not sent:
        return package
    query = sql.SQL("UPDATE packages SET {}, version = version + 1, updated_at = cp_now() "
                    "WHERE package_id = %s RETURNING *").format(sql.SQL(", ").join(
                        sql.SQL("{} = %s").format(sql.Identifier(c)) for c in sent))
    changed = await _one(conn, query, (*sent.values(), package.package_id))
    if changed is None:
        raise NotFound(f"package {package.package_id!r}")
    before = "listed" if package.listed else "delisted"
    after = "listed" if changed.listed else "delisted"
    await audit.record(conn, actor.transition(
        "package", package.package_id, before, after, "changed",
        changes={c: [getattr(package, c), v] for c, v in sent.items()}))
    return changed


async def list_packages(conn: Conn, *, everything: bool, agent_id: str | None,
                        kind: str = "cost", active_only: bool = False) -> list[PackageRow]:
    """The packages a viewer may see (G1-08, G1-14)."""
    async with conn.cursor(row_factory=class_row(PackageRow)) as cur:
        await cur.execute(_LIST, {"everything": everything, "agent": agent_id, "kind": kind,
                                  "active_only": active_only})
        return await cur.fetchall()
