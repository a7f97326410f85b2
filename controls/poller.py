"""Polling operators for cumulative usage, as an alternative to pushes.

For each card of a polled operator in this process's partitions: read the month-to-date
counter (through the operator's rate limit), turn it into a delta above the highest value seen
(`domain.usage.polling.delta`), publish the deltas as usage records, then raise the stored
high-water marks. A crash between publishing and storing re-publishes the same record ids,
which the usage pipeline deduplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from connectors.base import OperatorError
from controls.reconciler import OperatorLane
from core.clock import now, now_ms
from domain.control.results import Result
from domain.usage.polling import Delta, delta, operator_cycle
from domain.usage.records import UsageRecord
from store.db import Reconnecting
from store.polling import cards_to_poll, raise_marks
from streams.publish import Publisher

log = logging.getLogger(__name__)


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
    cycle = operator_cycle(now())
    cards = await db.run(lambda conn: cards_to_poll(conn, operator, cycle, partitions))
    deltas: list[Delta] = []
    for card in cards:
        total = await _read(lane, card.iccid)
        if total is None:
            continue
        found = delta(card.iccid, cycle, card.high_bytes, total)
        if found:
            deltas.append(found)
    if not deltas:
        return 0
    read_at = now_ms()  # the platform's time, so the records count in the cycle polled
    await publisher.start()
    await publisher.publish_usage(operator, [
        UsageRecord(d.record_id, d.iccid, d.bytes, read_at, read_at) for d in deltas])
    await db.run(lambda conn: raise_marks(conn, deltas))
    return len(deltas)
