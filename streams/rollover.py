"""Cycle rollover: take off their cards the packages whose covered cycles have ended
(`store.package_validity`), then re-run the quota rules for cards and pools whose reasons
belong to a cycle that has ended, so quota-stopped cards resume in the new month without new
usage (a stopped card produces none) — unless their package ran out with the old month.
Runs on a timer; idempotent and safe on any worker.
"""

from __future__ import annotations

from store.db import Reconnecting
from store.package_validity import expire_due
from store.quota import evaluate_stale
from streams.publish import Publisher
from streams.quota_events import publish_outcome


async def roll_over(db: Reconnecting, publisher: Publisher, chunk: int = 5000) -> int:
    """Bring every stale card and pool into the current cycle; returns changes published."""
    published = 0
    more = True
    while more:  # expiry first: a card whose package ended must not resume for a moment
        outcomes, more = await db.run(lambda conn: expire_due(conn, chunk))
        for expired in outcomes:
            await publish_outcome(publisher, expired)
            published += len(expired.changes)
    more = True
    while more:
        outcome, more = await db.run(lambda conn: evaluate_stale(conn, chunk))
        await publish_outcome(publisher, outcome)
        published += len(outcome.changes)
    return published
