"""The price chain an order snapshots (G1-13), for G2's orders to call inside their own
transaction: `price_chain(conn, package_id, agent_id, at)` reads, at one instant, the package,
the seller's ancestors (top-level first) with their cost versions in force, and the seller's
retail version, and lets `domain.pricing.chain.build_chain` decide — the whole chain with every
row's id and version, or a refusal (`PriceUnavailable` 409 `price_unavailable` for a missing or
invalid price, G1-08/G1-12; `AgentDisabled` for a disabled agent or ancestor, G1-20;
`LineNotAllowed`, G1-19). Price risks of a realised price: `domain.pricing.risk.price_risks`.
"""

from __future__ import annotations

from datetime import datetime

from core.clock import now
from core.money import Fen
from domain.pricing import chain as ch
from store import agents as ag
from store.db import Conn
from store.packages import PackageRow, get_package

_LEVELS = """
SELECT a.agent_id, a.status, a.business_lines,
       c.price_id, c.version, c.amount_fen, c.status AS price_status
FROM agents a
LEFT JOIN prices c ON c.kind = 'cost' AND c.package_id = %(package)s AND c.agent_id = a.agent_id
     AND c.status <> 'deleted' AND tstzrange(c.valid_from, c.valid_to) @> %(at)s::timestamptz
WHERE a.path @> (SELECT path FROM agents WHERE agent_id = %(agent)s)
ORDER BY nlevel(a.path)
"""
_RETAIL = """
SELECT price_id, version, amount_fen, status FROM prices
WHERE kind = 'retail' AND package_id = %(package)s AND agent_id = %(agent)s
  AND status <> 'deleted' AND tstzrange(valid_from, valid_to) @> %(at)s::timestamptz
"""



def _row(price_id: int | None, version: int | None, amount: int | None, status: str | None
         ) -> ch.PriceRow | None:
    if price_id is None or version is None or amount is None or status not in (
            "active", "invalid"):
        return None
    return ch.PriceRow(price_id, version, Fen(amount), "active" if status == "active"
                       else "invalid")


def _package(row: PackageRow) -> ch.Package:
    return ch.Package(row.package_id, row.business_line, row.card_managed, row.version,
                      None if row.purchase_price_fen is None else Fen(row.purchase_price_fen),
                      None if row.factory_price_fen is None else Fen(row.factory_price_fen),
                      row.package_bytes, row.validity_cycles)


async def price_chain(conn: Conn, package_id: str, agent_id: str, at: datetime | None = None
                      ) -> ch.PriceChain:
    """The chain of `package_id` sold by `agent_id` at `at` (default: now on the platform
    clock) for an order to snapshot (G1-13), or a refusal: PriceUnavailable (G1-08, G1-12),
    AgentDisabled (G1-20), LineNotAllowed (G1-19). Unknown package or agent: NotFound."""
    at = at or now()
    async with conn.transaction():  # inside the caller's (an order's) transaction, if any
        package = _package(await get_package(conn, package_id))
        await ag.get_agent(conn, agent_id)
        params = {"package": package_id, "agent": agent_id, "at": at}
        rows = await (await conn.execute(_LEVELS, params)).fetchall()
        retail = await (await conn.execute(_RETAIL, params)).fetchone()
    levels = [ch.Level(r[0], r[1] == "active", tuple(r[2]), _row(r[3], r[4], r[5], r[6]))
              for r in rows]
    return ch.build_chain(package, levels, _row(*retail) if retail else None, at)
