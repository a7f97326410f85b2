"""Polled usage counters: the cards to poll and the high-water mark of each counter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg.rows import class_row

from domain.usage.polling import Delta
from store.db import Conn


@dataclass(frozen=True)
class Polled:
    """A card to poll, and the highest month-to-date total seen for it this cycle."""

    iccid: str
    high_bytes: int | None


_CARDS = """
SELECT c.iccid, s.high_bytes FROM cards c
LEFT JOIN usage_snapshots s ON s.iccid = c.iccid AND s.cycle = %s
WHERE c.operator = %s AND c.kafka_partition = ANY(%s) ORDER BY c.iccid
"""
_RAISE = """
INSERT INTO usage_snapshots AS s (iccid, cycle, high_bytes)
SELECT * FROM unnest(%s::text[], %s::text[], %s::int8[])
ON CONFLICT (iccid, cycle) DO UPDATE SET high_bytes = greatest(s.high_bytes, excluded.high_bytes),
                                         updated_at = now()
"""


async def cards_to_poll(conn: Conn, operator: str, cycle: str, partitions: Sequence[int]
                        ) -> list[Polled]:
    """The operator's cards in `partitions`, with their high-water marks of `cycle`."""
    async with conn.cursor(row_factory=class_row(Polled)) as cur:
        await cur.execute(_CARDS, (cycle, operator, list(partitions)))
        return await cur.fetchall()


async def raise_marks(conn: Conn, deltas: Sequence[Delta]) -> None:
    """Raise the stored high-water marks to the totals just published (never lower them)."""
    await conn.execute(_RAISE, ([d.iccid for d in deltas], [d.cycle for d in deltas],
                                [d.high for d in deltas]))
