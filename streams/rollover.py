"""Cycle rollover: re-run the quota rules for cards and pools whose reasons belong to a
cycle that has ended, so quota-stopped cards resume in the new month without new usage
(a stopped card produces none). Runs on a timer; idempotent and safe on any worker.
"""

from __future__ import annotations

from store.db import Conn, Reconnecting
from store.quota import Outcome, evaluate
from streams.publish import Publisher
from streams.quota_events import publish_outcome

_STALE_CARDS = """
SELECT c.iccid FROM cards c JOIN enterprises e ON e.enterprise_id = c.enterprise_id
WHERE c.stop_reasons <> '{}'  -- implies the partial index cards_attention: no fleet scan
  AND c.stop_reasons && ARRAY['package_quota', 'pool_card_cap']::text[]
  AND c.reasons_cycle IS DISTINCT FROM cp_cycle(cp_now(), e.timezone)
ORDER BY c.iccid LIMIT %s
"""
_STALE_POOLS = """
SELECT p.pool_id FROM pools p JOIN enterprises e ON e.enterprise_id = p.enterprise_id
WHERE p.exhausted AND p.state_cycle IS DISTINCT FROM cp_cycle(cp_now(), e.timezone)
ORDER BY p.pool_id LIMIT %s
"""


async def _roll_once(conn: Conn, chunk: int) -> tuple[Outcome, bool]:
    """Re-evaluate one chunk of stale cards and pools; True if more may be left."""
    async with conn.transaction():
        cards = [r[0] for r in await (await conn.execute(_STALE_CARDS, (chunk,))).fetchall()]
        pools = [r[0] for r in await (await conn.execute(_STALE_POOLS, (chunk,))).fetchall()]
        outcome = await evaluate(conn, iccids=cards, pool_ids=pools, cause="cycle_rollover")
    return outcome, len(cards) == chunk or len(pools) == chunk


async def roll_over(db: Reconnecting, publisher: Publisher, chunk: int = 5000) -> int:
    """Bring every stale card and pool into the current cycle; returns changes published."""
    published = 0
    more = True
    while more:
        outcome, more = await db.run(lambda conn: _roll_once(conn, chunk))
        await publish_outcome(publisher, outcome)
        published += len(outcome.changes)
    return published
