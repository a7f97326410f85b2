"""When a pool runs dry: its recent rate of use and the instant its limit would be reached.

The method (also sent to clients as `METHOD`): the pool's cumulative use this cycle is a step
function of time, known at the instants of its points (for the hourly rollups, the end of each
hour; the current hour counts up to now). The rate is the *average over the window*: the use
between the window's start and now, divided by the window's length. The window is the last
`window` (24 hours by default, so a daily rhythm of the fleet averages out), never reaching
back before the start of the cycle. The projection is a straight line from now at that rate;
the pool runs dry where the line meets the limit.

Why an average and not a least-squares slope: a least-squares line through a cumulative series
hardly reacts to a burst at the end of the window (a step at the last instant has no slope),
while the average counts every byte of the window once; and adding use never lowers it, so
more use never moves the exhaustion later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

HOUR = timedelta(hours=1)
DEFAULT_WINDOW = timedelta(hours=24)
# Beyond this, a projected instant means nothing (and would not fit in a datetime).
HORIZON = timedelta(days=365 * 100)
METHOD = ("the average rate of the last {hours} hours of this cycle (the use in that window "
          "divided by its length), projected in a straight line from the use so far to the "
          "limit")

# exhausted: the limit is reached already; runs_dry: at the current rate, before the cycle
# ends; after_cycle_end: only later (the cycle resets first); never: no use in the window.
Outlook = Literal["exhausted", "runs_dry", "after_cycle_end", "never"]


@dataclass(frozen=True)
class UsePoint:
    """`used_bytes` used in the cycle by the instant `at` (cumulative)."""

    at: datetime
    used_bytes: int


@dataclass(frozen=True)
class Forecast:
    """The outlook of a pool: its rate over [window_start, window_end] and when it runs dry."""

    limit_bytes: int
    used_bytes: int
    window_start: datetime
    window_end: datetime
    rate_bytes_per_hour: float
    exhausts_at: datetime | None
    outlook: Outlook

    @property
    def runs_dry_before_cycle_end(self) -> bool:
        return self.outlook in ("exhausted", "runs_dry")


def hourly_points(hours: Iterable[tuple[datetime, int]], now: datetime) -> list[UsePoint]:
    """Cumulative use by hour (each hour's start and the total by its end, as the hourly
    rollups give them) as points at the end of each hour; the current hour's at `now`."""
    return [UsePoint(min(start + HOUR, now), used) for start, used in hours if start <= now]


def used_at(points: Sequence[UsePoint], at: datetime) -> int:
    """The cumulative use by `at`: the latest point at or before it (0 before the first)."""
    known = [p.used_bytes for p in points if p.at <= at]
    return max(known, default=0)


def _exhausted_since(points: Sequence[UsePoint], limit: int, now: datetime) -> datetime:
    """The first instant the use reached the limit (now, if no point shows it)."""
    reached = [p.at for p in points if p.used_bytes >= limit and p.at <= now]
    return min(reached, default=now)


def _projection(remaining: int, rate: float, now: datetime, cycle_end: datetime
                ) -> tuple[datetime | None, Outlook]:
    if rate <= 0:
        return None, "never"
    ahead = timedelta(hours=remaining / rate) if remaining / rate < HORIZON / HOUR else None
    if ahead is None:
        return None, "after_cycle_end"
    at = now + ahead
    return at, ("runs_dry" if at < cycle_end else "after_cycle_end")


def forecast(limit_bytes: int, points: Sequence[UsePoint], *, cycle_start: datetime,
             cycle_end: datetime, now: datetime, window: timedelta = DEFAULT_WINDOW,
             used_bytes: int | None = None) -> Forecast:
    """The pool's rate over the recent window and when, at that rate, it reaches its limit.

    `points` are the cumulative use of the cycle (any order; points after `now` are ignored).
    `exhausts_at` is the instant the limit was reached for an exhausted pool, the projected
    instant otherwise (also when it falls after the cycle end: `outlook` says so), and None
    when nothing was used in the window (or the instant lies beyond a century). `used_bytes`,
    when given, is the use so far as the quota rules count it (the pool's total, which also
    holds the earlier use of cards that joined it), else the last point's.
    """
    ordered = sorted((p for p in points if p.at <= now), key=lambda p: p.at)
    start = min(max(cycle_start, now - window), now)
    counted = used_at(ordered, now)
    used = counted if used_bytes is None else used_bytes
    hours = (now - start) / HOUR
    rate = (counted - used_at(ordered, start)) / hours if hours > 0 else 0.0
    if used >= limit_bytes:
        exhausts_at: datetime | None = _exhausted_since(ordered, limit_bytes, now)
        outlook: Outlook = "exhausted"
    else:
        exhausts_at, outlook = _projection(limit_bytes - used, rate, now, cycle_end)
    return Forecast(limit_bytes, used, start, now, rate, exhausts_at, outlook)


def projected_use(result: Forecast, at: datetime) -> float:
    """The use the straight-line projection expects by `at` (from now on)."""
    return result.used_bytes + result.rate_bytes_per_hour * ((at - result.window_end) / HOUR)


def method(window: timedelta = DEFAULT_WINDOW) -> str:
    """The method in one sentence, for the API's answer."""
    return METHOD.format(hours=f"{window / HOUR:g}")


__all__ = ["DEFAULT_WINDOW", "Forecast", "Outlook", "UsePoint", "forecast", "hourly_points",
           "method", "projected_use", "used_at"]
