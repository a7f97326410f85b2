"""BOUNDARIES ON PURPOSE: the last second of a month against the first second of the next, and
31 December against 1 January, for the operators' poll cycle (pure). The SQL side (`cp_cycle`,
the usage writer, the rollover) is in tests/integration/test_cycle_boundaries.py.

Also the test helper every date-dependent test relies on: `mid_cycle` stays in its month and
far from both of its ends, whatever the date the suite runs on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.usage.polling import operator_cycle
from tests.support.dates import SHANGHAI, cycle_of, mid_cycle


@pytest.mark.parametrize(("at", "cycle"), [
    # the last second of November in Beijing time is November, the next second December
    ("2026-11-30T23:59:59+08:00", "2026-11"),
    ("2026-11-30T23:59:59.999999+08:00", "2026-11"),
    ("2026-12-01T00:00:00+08:00", "2026-12"),
    # the same instants told in UTC: still Beijing's months (UTC is still in November)
    ("2026-11-30T15:59:59Z", "2026-11"),
    ("2026-11-30T16:00:00Z", "2026-12"),
    # 31 December → 1 January
    ("2026-12-31T23:59:59+08:00", "2026-12"),
    ("2027-01-01T00:00:00+08:00", "2027-01"),
    ("2026-12-31T16:00:00Z", "2027-01"),
    ("2027-01-01T07:59:59+08:00", "2027-01"),
    # the end of a leap February
    ("2028-02-29T23:59:59+08:00", "2028-02"),
    ("2028-03-01T00:00:00+08:00", "2028-03"),
])
def test_operator_poll_cycle_at_month_and_year_boundaries(at: str, cycle: str) -> None:
    assert operator_cycle(datetime.fromisoformat(at)).label == cycle


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)))
def test_mid_cycle_is_far_from_both_ends_of_its_month(at: datetime) -> None:
    middle = mid_cycle(at)
    assert cycle_of(middle) == cycle_of(at)
    for tz in (SHANGHAI, ZoneInfo("UTC"), ZoneInfo("America/Los_Angeles")):
        for days in (-13, 13):  # a test's pushes and reads stay in one cycle for 13 days
            assert cycle_of(middle + timedelta(days=days), tz) == cycle_of(middle, tz)


@pytest.mark.req("OPS-CYCLE")
@pytest.mark.parametrize(("at", "label", "first", "last"), [
    # China Unicom's cycle starts on the 27th at Beijing midnight [S14, S15]
    ("2026-11-26T23:59:59+08:00", "2026-10-27", "2026-10-27", "2026-11-26"),
    ("2026-11-27T00:00:00+08:00", "2026-11-27", "2026-11-27", "2026-12-26"),
    ("2026-11-26T16:00:00Z", "2026-11-27", "2026-11-27", "2026-12-26"),
    ("2026-12-31T23:59:59+08:00", "2026-12-27", "2026-12-27", "2027-01-26"),
    ("2027-01-27T00:00:00+08:00", "2027-01-27", "2027-01-27", "2027-02-26"),
    ("2028-02-28T12:00:00+08:00", "2028-02-27", "2028-02-27", "2028-03-26"),
])
def test_unicom_cycle_runs_from_the_27th_to_the_26th(at: str, label: str, first: str,
                                                      last: str) -> None:
    cycle = operator_cycle(datetime.fromisoformat(at), 27)
    assert (cycle.label, cycle.first_day.isoformat(), cycle.last_day.isoformat()) == (
        label, first, last)
    assert cycle.start <= datetime.fromisoformat(at) < cycle.end


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)), st.integers(1, 28))
def test_operator_cycles_tile_time(at: datetime, day: int) -> None:
    """Each instant is in exactly one cycle, and a cycle's previous one ends where it starts."""
    cycle = operator_cycle(at, day)
    assert cycle.start <= at < cycle.end
    assert cycle.first_day.day == day and cycle.previous(day).end == cycle.start
    assert operator_cycle(cycle.end, day).start == cycle.end
