"""Turning quota outcomes into events, and publishing them (with retries) after commit."""

from __future__ import annotations

import asyncio
import logging

from core.clock import now_ms
from store.quota import Outcome
from streams.events import DesiredState, QuotaAlert
from streams.publish import Publisher

log = logging.getLogger(__name__)


def to_events(outcome: Outcome) -> tuple[list[DesiredState], list[QuotaAlert]]:
    now = now_ms()
    desired = [DesiredState(c.iccid, c.desired_status, c.stop_reasons, c.cause, now)
               for c in outcome.changes]
    alerts = [QuotaAlert(a.alert_id, a.enterprise_id, a.kind, a.subject,
                         a.cycle.strftime("%Y-%m"), a.percent, a.used_bytes, a.limit_bytes)
              for a in outcome.alerts]
    return desired, alerts


async def publish_outcome(publisher: Publisher, outcome: Outcome, *, attempts: int = 0) -> None:
    """Publish desired-state changes and alerts; retry while the broker is unavailable.

    `attempts` = 0 retries forever (stream workers); the API passes a small number and lets
    the periodic reconciliation of desired against observed state cover a lost hint.
    """
    desired, alerts = to_events(outcome)
    if not desired and not alerts:
        return
    delay, tried = 0.1, 0
    while True:
        try:
            await publisher.start()
            await publisher.publish_desired(desired)
            await publisher.publish_alerts(alerts)
            return
        except Exception as exc:
            tried += 1
            if attempts and tried >= attempts:
                raise
            log.warning("cannot publish quota events (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
