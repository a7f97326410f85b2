"""The pool forecast: a worked example, the edges (nothing used, exhausted, after the cycle,
the start of a cycle) and properties: more use never moves the exhaustion later, no use in
the window means never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.quota.forecast import (
    Forecast,
    UsePoint,
    forecast,
    hourly_points,
    method,
    projected_use,
)
from domain.usage.cycles import cycle_bounds

pytestmark = pytest.mark.req("CONSOLE")
GiB = 1 << 30
H = timedelta(hours=1)
# Fixed instants: these tests compute, they read no clock.
CYCLE_START = datetime(2026, 11, 30, 16, tzinfo=UTC)  # 1 December, 00:00 in Shanghai
CYCLE_END = datetime(2026, 12, 31, 16, tzinfo=UTC)
NOW = datetime(2026, 12, 15, 4, tzinfo=UTC)  # 15 December, 12:00 in Shanghai


def hours_of_use(uses: list[tuple[int, int]]) -> list[tuple[datetime, int]]:
    """(hour after the cycle start, bytes) → (hour, cumulative bytes), as the rollups give."""
    per_hour: dict[int, int] = {}
    for hour, used in uses:
        per_hour[hour] = per_hour.get(hour, 0) + used
    hours = sorted(per_hour)
    totals = accumulate(per_hour[h] for h in hours)
    return [(CYCLE_START + h * H, total) for h, total in zip(hours, totals, strict=True)]


def run(limit: int, uses: list[tuple[int, int]], now: datetime = NOW) -> Forecast:
    points = hourly_points(hours_of_use(uses), now)
    return forecast(limit, points, cycle_start=CYCLE_START, cycle_end=CYCLE_END, now=now)


def test_a_worked_example() -> None:
    # 10 GiB in the first hour of the cycle, then 1 GiB in each of the last 24 hours.
    last_day = (NOW - CYCLE_START) // H - 24
    uses = [(0, 10 * GiB)] + [(last_day + i, GiB) for i in range(24)]
    result = run(100 * GiB, uses)
    assert result.used_bytes == 34 * GiB
    assert (result.window_start, result.window_end) == (NOW - 24 * H, NOW)
    assert result.rate_bytes_per_hour == GiB
    assert result.exhausts_at == NOW + 66 * H  # 66 GiB left at 1 GiB an hour
    assert result.outlook == "runs_dry" and result.runs_dry_before_cycle_end
    assert projected_use(result, NOW + 6 * H) == 40 * GiB


def test_nothing_used_in_the_window_never_runs_dry() -> None:
    result = run(100 * GiB, [(0, 10 * GiB)])
    assert (result.rate_bytes_per_hour, result.exhausts_at, result.outlook) == (0, None, "never")
    assert not result.runs_dry_before_cycle_end


def test_a_slow_pool_runs_dry_only_after_the_cycle_ends() -> None:
    result = run(100 * GiB, [((NOW - CYCLE_START) // H - 1, 24 << 20)])  # 1 MiB an hour
    assert result.outlook == "after_cycle_end" and not result.runs_dry_before_cycle_end
    assert result.exhausts_at is not None and result.exhausts_at > CYCLE_END


def test_an_exhausted_pool_ran_dry_when_it_reached_the_limit() -> None:
    result = run(5 * GiB, [(10, 3 * GiB), (20, 3 * GiB), (30, GiB)])
    assert result.outlook == "exhausted" and result.runs_dry_before_cycle_end
    assert result.exhausts_at == CYCLE_START + 21 * H  # the end of the hour that crossed it


def test_early_in_the_cycle_the_window_starts_with_the_cycle() -> None:
    now = CYCLE_START + 4 * H
    result = run(100 * GiB, [(0, GiB), (3, GiB)], now=now)
    assert result.window_start == CYCLE_START
    assert result.rate_bytes_per_hour == GiB / 2


def test_the_current_hour_counts_up_to_now() -> None:
    points = hourly_points([(NOW - 2 * H, 5), (NOW - H / 2, 9), (NOW + H, 11)], NOW)
    assert points == [UsePoint(NOW - H, 5), UsePoint(NOW, 9)]


def test_the_method_says_its_window() -> None:
    assert "24 hours" in method() and "6 hours" in method(6 * H)


hour = st.integers(min_value=0, max_value=(NOW - CYCLE_START) // H)
use = st.tuples(hour, st.integers(min_value=0, max_value=50 * GiB))
limits = st.integers(min_value=0, max_value=1 << 50)


def later(a: datetime | None, b: datetime | None) -> bool:
    """a is later than b, never (None) being the latest."""
    if a is None:
        return b is not None
    return b is not None and a > b


@given(limits, st.lists(use, max_size=30), use)
def test_more_use_never_moves_the_exhaustion_later(limit: int, uses: list[tuple[int, int]],
                                                   extra: tuple[int, int]) -> None:
    before, after = run(limit, uses), run(limit, [*uses, extra])
    assert after.rate_bytes_per_hour >= before.rate_bytes_per_hour
    assert not later(after.exhausts_at, before.exhausts_at)


@given(limits, st.lists(use, max_size=30))
def test_the_answer_is_consistent(limit: int, uses: list[tuple[int, int]]) -> None:
    result = run(limit, uses)
    assert result.rate_bytes_per_hour >= 0
    assert result.used_bytes == sum(used for _, used in uses)
    if result.outlook == "exhausted":
        assert result.exhausts_at is not None and result.exhausts_at <= NOW
    elif result.rate_bytes_per_hour == 0:
        assert result.exhausts_at is None and result.outlook == "never"
    elif result.exhausts_at is not None:
        assert result.exhausts_at > NOW
        assert (result.exhausts_at < CYCLE_END) == (result.outlook == "runs_dry")


def test_a_projection_beyond_a_century_is_not_an_instant() -> None:
    result = run(1 << 50, [((NOW - CYCLE_START) // H - 1, 24)])  # a byte an hour
    assert (result.exhausts_at, result.outlook) == (None, "after_cycle_end")


def test_the_counted_total_is_the_start_of_the_projection() -> None:
    last_day = (NOW - CYCLE_START) // H - 24
    points = hourly_points(hours_of_use([(last_day + i, GiB) for i in range(24)]), NOW)
    result = forecast(100 * GiB, points, cycle_start=CYCLE_START, cycle_end=CYCLE_END, now=NOW,
                      used_bytes=40 * GiB)  # a card joined with 16 GiB used elsewhere
    assert (result.used_bytes, result.rate_bytes_per_hour) == (40 * GiB, GiB)
    assert result.exhausts_at == NOW + 60 * H


@pytest.mark.parametrize(("at", "start", "end"), [
    (NOW, CYCLE_START, CYCLE_END),
    (datetime(2026, 12, 31, 16, tzinfo=UTC), CYCLE_END, datetime(2027, 1, 31, 16, tzinfo=UTC)),
])
def test_cycle_bounds_in_the_tenants_zone(at: datetime, start: datetime, end: datetime) -> None:
    assert cycle_bounds(at, "Asia/Shanghai") == (start, end)
