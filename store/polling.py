"""Polled usage counters: the cards to poll or close, and the high-water mark of each counter
per operator cycle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg.rows import class_row

from domain.usage.polling import Delta
from store.db import Conn


@dataclass(frozen=True)
class Polled:
    """A card to poll (or close), and the highest total seen for it in the cycle."""

    iccid: str
    msisdn: str | None
    high_bytes: int | None


_CARDS = """
SELECT c.iccid, c.msisdn, s.high_bytes FROM cards c
LEFT JOIN usage_snapshots s ON s.iccid = c.iccid AND s.cycle = %s
WHERE c.operator = %s AND c.kafka_partition = ANY(%s) ORDER BY c.iccid
"""
# Cards of a cycle that ended, whose total was not yet read from the closed-cycle call.
_TO_CLOSE = """
SELECT c.iccid, c.msisdn, s.high_bytes FROM cards c
LEFT JOIN usage_snapshots s ON s.iccid = c.iccid AND s.cycle = %(cycle)s
WHERE c.operator = %(operator)s AND c.kafka_partition = ANY(%(partitions)s)
  AND s.closed_at IS NULL
ORDER BY c.iccid LIMIT %(limit)s
"""
_RAISE = """
INSERT INTO usage_snapshots AS s (iccid, cycle, high_bytes, closed_at)
SELECT v.iccid, v.cycle, v.high, CASE WHEN v.closed THEN now() END
FROM unnest(%s::text[], %s::text[], %s::int8[], %s::bool[]) AS v(iccid, cycle, high, closed)
ON CONFLICT (iccid, cycle) DO UPDATE SET high_bytes = greatest(s.high_bytes, excluded.high_bytes),
                                         updated_at = now(),
                                         closed_at = coalesce(s.closed_at, excluded.closed_at)
"""


async def cards_to_poll(conn: Conn, operator: str, cycle: str, partitions: Sequence[int]
                        ) -> list[Polled]:
    """The operator's cards in `partitions`, with their high-water marks of `cycle`."""
    async with conn.cursor(row_factory=class_row(Polled)) as cur:
        await cur.execute(_CARDS, (cycle, operator, list(partitions)))
        return await cur.fetchall()


async def cards_to_close(conn: Conn, operator: str, cycle: str, partitions: Sequence[int],
                         limit: int) -> list[Polled]:
    """Up to `limit` cards whose ended `cycle` is not closed yet."""
    async with conn.cursor(row_factory=class_row(Polled)) as cur:
        await cur.execute(_TO_CLOSE, {"cycle": cycle, "operator": operator,
                                      "partitions": list(partitions), "limit": limit})
        return await cur.fetchall()


async def raise_marks(conn: Conn, deltas: Sequence[Delta]) -> None:
    """Raise the stored high-water marks to the totals just published (never lower them)."""
    await conn.execute(_RAISE, ([d.iccid for d in deltas], [d.cycle for d in deltas],
                                [d.high for d in deltas], [False] * len(deltas)))


async def close_marks(conn: Conn, cycle: str, totals: dict[str, int]) -> None:
    """Mark `cycle` closed for these cards, at the closed-cycle totals (never lowering a
    mark)."""
    iccids = sorted(totals)
    await conn.execute(_RAISE, (iccids, [cycle] * len(iccids), [totals[i] for i in iccids],
                                [True] * len(iccids)))
