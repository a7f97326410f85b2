"""The platform clock: what "now" is for every time-based rule of CardPulse.

In production it is the system clock. With `CARDPULSE_TEST_CLOCK=true`, `PUT /v1/admin/clock`
stores an offset in PostgreSQL (`platform_clock`, which SQL reads through `cp_now()`), and
each process adopts it (`set_offset`, kept in step by `store.clock.follow`), so that rules in
Python and in SQL agree on the date.

What is not a platform rule reads other clocks on purpose: durations inside one process use
`time.monotonic`/`perf_counter`; signature windows and operator cooldowns are agreements with
the outside world, whose clocks the test clock does not move.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


class PlatformClock:
    """The system clock plus an offset in seconds (0 unless a test or demo moved it)."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._offset_s = 0.0

    @property
    def offset_s(self) -> float:
        return self._offset_s

    def set_offset(self, seconds: float) -> None:
        self._offset_s = float(seconds)

    def time(self) -> float:
        """Platform time as unix seconds."""
        return self._wall() + self._offset_s

    def now(self) -> datetime:
        """Platform time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)


# The process's clock. A plain object: creating it reads nothing and connects nothing.
CLOCK = PlatformClock()


def now() -> datetime:
    """The platform's current time (aware, UTC)."""
    return CLOCK.now()


def now_ms() -> int:
    """The platform's current time in epoch milliseconds."""
    return int(CLOCK.time() * 1000)
