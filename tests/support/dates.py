"""Dates for tests, taken from the clock the suite runs under, never from the day a test was
written: the billing cycle of a moment, a moment in the middle of the current cycle, and
moving the platform's test clock there.

A test that pushes usage and then reads the current cycle must not straddle a month boundary
(the suite may run at 23:59 on the last day of a month: `make test-dates`), so it first moves
the platform clock to `mid_cycle()` and dates its records from the platform clock. The
platform clock is the machine's clock plus the stored offset (`core.clock`); signature
windows keep reading the machine's clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import psycopg

from core.clock import CLOCK
from store import clock as stored_clock
from tests.support.waiting import eventually

# The default enterprise time zone, and the one Chinese operators count their months in.
SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = {"Authorization": "Bearer test-admin-token"}  # the `settings` fixture's admin token


def cycle_of(at: datetime, tz: ZoneInfo = SHANGHAI) -> str:
    """The billing cycle (`YYYY-MM`) `at` falls in, in time zone `tz`."""
    return at.astimezone(tz).strftime("%Y-%m")


def mid_cycle(at: datetime | None = None, tz: ZoneInfo = SHANGHAI) -> datetime:
    """Noon on the 15th of the month `at` (default: now) falls in, in `tz`: 13 days or more
    from either end of that month in any time zone."""
    local = (at or datetime.now(UTC)).astimezone(tz)
    return local.replace(day=15, hour=12, minute=0, second=0, microsecond=0)


def offset_to(target: datetime) -> int:
    """Whole seconds to add to this machine's clock for the platform clock to read `target`."""
    return round(target.timestamp() - time.time())


@dataclass(frozen=True)
class MovedClock:
    """The platform clock as a test moved it: the machine's clock plus `offset_s`."""

    offset_s: int

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.offset_s, UTC)


async def move_clock(client: httpx.AsyncClient, target: datetime,
                     headers: dict[str, str] = ADMIN) -> MovedClock:
    """Move the platform clock to read `target` now, through `PUT /v1/admin/clock`."""
    return await put_offset(client, offset_to(target), headers)


async def put_offset(client: httpx.AsyncClient, offset_s: int,
                     headers: dict[str, str] = ADMIN) -> MovedClock:
    """Set the platform clock's offset through the API (its process adopts it at once, SQL
    reads it at once, other processes within a second)."""
    answer = await client.put("/v1/admin/clock", json={"offset_seconds": offset_s},
                              headers=headers)
    assert answer.status_code == 204, answer.text
    return MovedClock(offset_s)


def move_clock_sync(client: httpx.Client, target: datetime) -> MovedClock:
    """`move_clock` for a synchronous client (of a `cardpulse up` started with
    CARDPULSE_TEST_CLOCK=true; `client` sends the admin token)."""
    moved = MovedClock(offset_to(target))
    answer = client.put("/v1/admin/clock", json={"offset_seconds": moved.offset_s})
    assert answer.status_code == 204, answer.text
    return moved


async def store_clock(db_url: str, target: datetime) -> MovedClock:
    """Move the platform clock without the API: store the offset (SQL and the processes that
    follow it) and adopt it in this process (for code the test runs in-process)."""
    moved = MovedClock(offset_to(target))
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await stored_clock.set_offset(conn, moved.offset_s)
    CLOCK.set_offset(moved.offset_s)
    return moved


def last_second_of_year(at: datetime | None = None, tz: ZoneInfo = SHANGHAI) -> datetime:
    """23:59:59 on 31 December of the year `at` (default: now) falls in, in `tz`."""
    local = (at or datetime.now(UTC)).astimezone(tz)
    return local.replace(month=12, day=31, hour=23, minute=59, second=59, microsecond=0)



def seconds_left_in_month(tz: ZoneInfo = SHANGHAI) -> float:
    """Seconds from now (this machine's clock) to the start of the next month in `tz`."""
    local = datetime.now(tz)
    first = (local.replace(day=28) + timedelta(days=4)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - local).total_seconds()


def wait_out_month_end(margin_s: float, tz: ZoneInfo = SHANGHAI) -> None:
    """With fewer than `margin_s` seconds of this month left, wait for the next month: for a
    sequence dated by this machine's clock (which no test moves) that must not straddle the
    end of a month, like the README's session."""
    if seconds_left_in_month(tz) < margin_s:
        eventually(lambda: seconds_left_in_month(tz) > margin_s, timeout=margin_s + 10,
                   what="the next month")
