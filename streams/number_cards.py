"""The daily sweep of number-card commissions (shared/specs/business.md H-35): once per
platform day (the platform clock's date in UTC+8) every frozen number-card commission is
judged again — conditions met → unfreezing (approval) or available; deadline reached unmet →
invalid, stamped with the deadline. The worker's leader ticks it every minute; only the first
tick of a new day sweeps. A sweep is idempotent, so a restart that sweeps twice in one day
changes nothing."""

from __future__ import annotations

import logging
from datetime import date
from zoneinfo import ZoneInfo

from core.clock import now
from store.db import Reconnecting
from store.settlements import Evaluated, sweep_number_cards

log = logging.getLogger(__name__)
PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
TICK_S = 60.0


class DailySweep:
    def __init__(self, db: Reconnecting, topic: str) -> None:
        self.db = db
        self.topic = topic
        self.last: date | None = None

    async def tick(self) -> Evaluated | None:
        """Sweep if this platform day has not been swept yet (None: it has)."""
        at = now()
        today = at.astimezone(PLATFORM_TZ).date()
        if self.last == today:
            return None
        done = await self.db.run(lambda conn: sweep_number_cards(conn, at, self.topic))
        self.last = today
        log.info("number-card sweep %s: %s unfrozen, %s invalid, %s waiting", today,
                 done.unfrozen, done.invalidated, done.waiting)
        return done
