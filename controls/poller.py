"""Polling operators for cumulative usage, as an alternative to pushes.

For each card of a polled operator in this process's partitions: read the month-to-date
counter (through the operator's rate limit), turn it into a delta above the highest value seen
(`connectors.usage_poll.delta`), publish the deltas as usage records, then raise the stored
high-water marks. A crash between publishing and storing re-publishes the same record ids,
which the usage pipeline deduplicates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.base import OperatorError, Result
from connectors.usage_poll import Delta, delta
from controls.reconciler import OperatorLane
from store.db import Conn, Reconnecting
from streams.events import UsageRecord
from streams.publish import Publisher

log = logging.getLogger(__name__)
OPERATOR_TZ = ZoneInfo("Asia/Shanghai")  # Chinese operators count months in Beijing time

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


async def _cards(conn: Conn, operator: str, cycle: str, partitions: Sequence[int]
                 ) -> list[tuple[str, int | None]]:
    cur = await conn.execute(_CARDS, (cycle, operator, list(partitions)))
    return [(str(r[0]), r[1]) for r in await cur.fetchall()]


async def _raise_marks(conn: Conn, deltas: Sequence[Delta]) -> None:
    await conn.execute(_RAISE, ([d.iccid for d in deltas], [d.cycle for d in deltas],
                                [d.high for d in deltas]))


async def _read(lane: OperatorLane, iccid: str, tries: int = 4) -> int | None:
    """One card's counter; a rate-limit answer slows the lane down and asks again."""
    for _ in range(tries):
        await lane.bucket.acquire()
        try:
            return await lane.client.usage_bytes(iccid)
        except OperatorError as exc:
            if exc.result is not Result.RATE_LIMITED:
                log.warning("usage poll of %s failed: %s", iccid, exc.detail)
                return None
            lane.bucket.slow_down(1.0)
    log.warning("usage poll of %s: still rate limited after %d tries", iccid, tries)
    return None


async def poll_operator(db: Reconnecting, lane: OperatorLane, publisher: Publisher,
                        partitions: Sequence[int]) -> int:
    """One polling pass over an operator's cards; returns the usage records published."""
    operator = lane.client.dialect
    cycle = datetime.now(OPERATOR_TZ).strftime("%Y-%m")
    cards = await db.run(lambda conn: _cards(conn, operator, cycle, partitions))
    deltas: list[Delta] = []
    for iccid, high in cards:
        total = await _read(lane, iccid)
        if total is None:
            continue
        found = delta(iccid, cycle, high, total)
        if found:
            deltas.append(found)
    if not deltas:
        return 0
    now_ms = int(time.time() * 1000)
    await publisher.start()
    await publisher.publish_usage(operator, [
        UsageRecord(d.record_id, d.iccid, d.bytes, now_ms, now_ms) for d in deltas])
    await db.run(lambda conn: _raise_marks(conn, deltas))
    return len(deltas)


