"""Orders as the console lists them: an agent's (its own and those sold through it, as
`GET /v1/orders` shows them to the agent's people) or a person's own, filtered by kind, state,
method and a period of creation, a page at a time (newest first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from store.db import Conn
from store.orders import Order

_PAGE = """
SELECT * FROM orders
WHERE ((%(agent)s::text IS NOT NULL AND agent_id = %(agent)s)
       OR (%(who)s::text IS NOT NULL AND created_by = %(who)s))
  AND (%(kind)s::text IS NULL OR kind = %(kind)s)
  AND (%(state)s::text IS NULL OR state = %(state)s)
  AND (%(method)s::text IS NULL OR method = %(method)s)
  AND (%(start)s::timestamptz IS NULL OR created_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR created_at < %(end)s)
ORDER BY created_at DESC, order_id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""
_CARDS = """
SELECT DISTINCT iccid FROM orders
WHERE created_by = %s AND iccid IS NOT NULL ORDER BY iccid
"""


@dataclass(frozen=True)
class OrderFilter:
    """What a list shows: the agent's orders (`agent_id`) or a person's own (`who`)."""

    agent_id: str | None = None
    who: str | None = None
    kind: str | None = None
    state: str | None = None
    method: str | None = None
    start: datetime | None = None
    end: datetime | None = None


async def order_page(conn: Conn, where: OrderFilter, limit: int, offset: int = 0
                     ) -> list[Order]:
    """Up to `limit` orders after the first `offset`, newest first; none without an owner."""
    if where.agent_id is None and where.who is None:
        return []
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_PAGE, {"agent": where.agent_id, "who": where.who,
                                  "kind": where.kind, "state": where.state,
                                  "method": where.method, "start": where.start,
                                  "end": where.end, "limit": limit, "offset": offset})
        return await cur.fetchall()


async def own_cards(conn: Conn, who: str) -> list[str]:
    """The cards a person ordered or recharged for (its cards, as the console offers them)."""
    rows = await (await conn.execute(_CARDS, (who,))).fetchall()
    return [str(row[0]) for row in rows]
