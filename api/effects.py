"""Publishing the effects of a committed change (desired states, alerts) from the API."""

from __future__ import annotations

import logging

from api.deps import Resources
from store.quota import Outcome
from streams.quota_events import publish_outcome

log = logging.getLogger(__name__)


async def publish(res: Resources, outcome: Outcome) -> None:
    """Best effort after commit: the state of record is already in PostgreSQL, and the
    controls reconcile desired against observed state from there if a hint is lost."""
    try:
        await publish_outcome(res.publisher, outcome, attempts=3)
    except Exception:
        log.exception("desired-state events not published; reconciliation will catch up")
