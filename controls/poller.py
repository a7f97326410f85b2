"""Polling operators for cumulative usage, as an alternative to pushes.

For each card of a polled operator in this process's partitions: read the counter of the
operator's current cycle (through the operator's rate limit), turn it into a delta above the
highest value seen in that cycle (`domain.usage.polling.delta`), publish the deltas as usage
records, then raise the stored high-water marks. A crash between publishing and storing
re-publishes the same record ids, which the usage pipeline deduplicates.

Once a cycle has ended (plus `close_delay_s`, so T-1 numbers have reported its last day), the
month close reads each card's total for the whole closed cycle from the operator's own call
(OneLink monthly batch, China Telecom by date) and counts what the polls had not seen, dated
at the cycle's last instant: the last day of a T-1 number is counted once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from connectors.base import OperatorError
from controls.reconciler import OperatorLane
from core.clock import now, now_ms
from domain.control.results import CardRef, Result
from domain.usage.polling import Delta, OperatorCycle, delta, operator_cycle
from domain.usage.records import UsageRecord
from store.db import Reconnecting
from store.polling import Polled, cards_to_close, cards_to_poll, close_marks, raise_marks
from streams.publish import Publisher

log = logging.getLogger(__name__)
CLOSE_CHUNK = 1000  # cards read per closing step


async def _read(lane: OperatorLane, card: CardRef, tries: int = 4) -> int | None:
    """One card's counter; a rate-limit answer slows the lane down and asks again."""
    for _ in range(tries):
        await lane.bucket.acquire()
        try:
            return await lane.client.usage_bytes(card)
        except OperatorError as exc:
            if exc.result is not Result.RATE_LIMITED:
                log.warning("usage poll of %s failed: %s", card.iccid, exc.detail)
                return None
            lane.bucket.slow_down(1.0)
    log.warning("usage poll of %s: still rate limited after %d tries", card.iccid, tries)
    return None


async def _publish(publisher: Publisher, operator: str, deltas: list[Delta], at_ms: int
                   ) -> None:
    await publisher.start()
    await publisher.publish_usage(operator, [
        UsageRecord(d.record_id, d.iccid, d.bytes, at_ms, at_ms) for d in deltas])


async def close_cycle(db: Reconnecting, lane: OperatorLane, publisher: Publisher,
                      partitions: Sequence[int], cycle: OperatorCycle) -> int:
    """Count each card's usage of the ended `cycle` that its polls had not seen, from the
    operator's closed-cycle totals; returns the usage records published."""
    operator = lane.client.dialect
    published = 0
    while cards := await db.run(lambda conn: cards_to_close(
            conn, operator, cycle.label, partitions, CLOSE_CHUNK)):
        published += await _close(db, lane, publisher, cycle, cards)
    return published


async def _close(db: Reconnecting, lane: OperatorLane, publisher: Publisher,
                 cycle: OperatorCycle, cards: list[Polled]) -> int:
    refs = [CardRef(c.iccid, c.msisdn) for c in cards]
    totals: dict[str, int] = {}
    for start in range(0, len(refs), lane.max_batch):  # one call each, at the lane's rate
        await lane.bucket.acquire()
        # None: the dialect has no closed-cycle call, so its last poll closed the cycle.
        totals |= await lane.client.cycle_bytes(refs[start:start + lane.max_batch],
                                                cycle.first_day, cycle.last_day) or {}
    marks = {c.iccid: c.high_bytes for c in cards}
    found = [d for iccid, total in totals.items()
             if (d := delta(iccid, cycle.label, marks.get(iccid), total, "close"))]
    if found:
        last_ms = int(cycle.end.timestamp() * 1000) - 1  # inside the closed cycle
        await _publish(publisher, lane.client.dialect, found, last_ms)
    # Cards the operator could not answer for are closed at what the polls saw.
    closed = {c.iccid: max(totals.get(c.iccid, 0), c.high_bytes or 0) for c in cards}
    await db.run(lambda conn: close_marks(conn, cycle.label, closed))
    return len(found)


async def poll_operator(db: Reconnecting, lane: OperatorLane, publisher: Publisher,
                        partitions: Sequence[int], *, cycle_day: int = 1,
                        close_delay_s: float = 7200.0) -> int:
    """One polling pass over an operator's cards, closing the previous cycle first once it is
    due; returns the usage records published."""
    operator = lane.client.dialect
    at = now()
    cycle = operator_cycle(at, cycle_day)
    published = 0
    closing = lane.client.closes_cycles  # else its last poll closed the cycle
    if closing and at >= cycle.start + timedelta(seconds=close_delay_s):
        try:
            published += await close_cycle(db, lane, publisher, partitions,
                                           cycle.previous(cycle_day))
        except OperatorError as exc:
            log.warning("closing %s cycle %s failed: %s", operator,
                        cycle.previous(cycle_day).label, exc.detail)
    cards = await db.run(lambda conn: cards_to_poll(conn, operator, cycle.label, partitions))
    deltas: list[Delta] = []
    for card in cards:
        total = await _read(lane, CardRef(card.iccid, card.msisdn))
        if total is None:
            continue
        found = delta(card.iccid, cycle.label, card.high_bytes, total)
        if found:
            deltas.append(found)
    if not deltas:
        return published
    # Dated by the platform's clock, so the records count in the cycle polled.
    await _publish(publisher, operator, deltas, now_ms())
    await db.run(lambda conn: raise_marks(conn, deltas))
    return published + len(deltas)
