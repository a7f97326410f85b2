"""The chart of a pool's page: this cycle's cumulative use hour by hour against the limit (a
mark line), and the forecast's straight line from now on, dashed, until it meets the limit or
the cycle ends. An hourly grid over the whole cycle, labelled in the tenant's time zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from api.console import charts
from api.forecasts import PoolOutlook
from domain.quota.forecast import hourly_points, projected_use, used_at

HOUR = timedelta(hours=1)
GiB, MiB = 1 << 30, 1 << 20


def scale(largest: int) -> tuple[str, int]:
    """The unit the chart's axis counts in: GB from a gigabyte up, else MB."""
    return ("GB", GiB) if largest >= GiB else ("MB", MiB)


def grid(start: datetime, end: datetime) -> list[datetime]:
    count = int((end - start) / HOUR)
    return [start + i * HOUR for i in range(count + 1)]


def _projection(outlook: PoolOutlook, used: list[float | None], times: list[datetime]
                ) -> list[float | None]:
    """From the last measured hour on: the forecast's line, until it reaches the limit."""
    result = outlook.forecast
    out: list[float | None] = [None] * len(times)
    if result.outlook not in ("runs_dry", "after_cycle_end"):
        return out
    now = result.window_end
    anchor = max((i for i, t in enumerate(times) if t <= now), default=None)
    if anchor is None:
        return out
    out[anchor] = used[anchor]
    for i in range(anchor + 1, len(times)):
        out[i] = value = projected_use(result, times[i])
        if value >= result.limit_bytes:
            break
    return out


def outlook_chart(outlook: PoolOutlook, gettext: Callable[[str], str]) -> charts.Option:
    """The ECharts option of the pool's cycle (names in the page's language)."""
    now = outlook.forecast.window_end
    times = grid(outlook.cycle_start, outlook.cycle_end)
    points = hourly_points(((h.time, h.used_bytes) for h in outlook.hours), now)
    unit, size = scale(max(outlook.pool.limit_bytes, outlook.forecast.used_bytes))

    def scaled(values: list[float | None]) -> list[float | None]:
        return [None if v is None else round(v / size, 3) for v in values]

    used = [float(used_at(points, t)) if t <= now else None for t in times]
    zone = ZoneInfo(outlook.timezone)
    labels = [t.astimezone(zone).strftime("%m-%d %H:%M") for t in times]
    forecast = _projection(outlook, used, times)
    option = charts.lines(labels, [(gettext("Used"), scaled(used)),
                                   (gettext("Forecast"), scaled(forecast))],
                          unit=unit, marks=[(gettext("Limit"),
                                             round(outlook.pool.limit_bytes / size, 3))])
    option["dataZoom"] = [{"type": "inside"}]  # the wheel zooms into a part of the cycle
    return charts.dashed(option, 1)
