"""The forecast of a pool, assembled from the store for the API and the console alike: this
cycle's hourly use (`store.series.pool_utilisation`), the pool's counted total and limit, and
the cycle's bounds in the tenant's zone, handed to `domain.quota.forecast`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.clock import now
from domain.quota.forecast import Forecast, forecast, hourly_points
from domain.usage.cycles import cycle_bounds
from store import enterprises, series
from store.db import Conn
from store.pools import PoolView
from store.series import Utilisation


@dataclass(frozen=True)
class PoolOutlook:
    """A pool, this cycle's use hour by hour, and where it is heading."""

    pool: PoolView
    timezone: str
    cycle_start: datetime
    cycle_end: datetime
    hours: list[Utilisation]
    forecast: Forecast


async def pool_outlook(db: Conn, pool: PoolView) -> PoolOutlook:
    """The outlook of a pool the caller may see (checked before)."""
    timezone = (await enterprises.get_enterprise(db, pool.enterprise_id)).timezone
    at = now()
    start, end = cycle_bounds(at, timezone)
    hours = await series.pool_utilisation(db, pool.pool_id)
    points = hourly_points(((h.time, h.used_bytes) for h in hours), at)
    result = forecast(pool.limit_bytes, points, cycle_start=start, cycle_end=end, now=at,
                      used_bytes=pool.used_bytes)
    return PoolOutlook(pool, timezone, start, end, hours, result)
