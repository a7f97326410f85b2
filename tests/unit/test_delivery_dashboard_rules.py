"""The delivery dashboard's pure rules (I-55 … I-59): windows, status precedence, the rounded
mean cycle and the saturation colours on exact fractions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.delivery.dashboard import (
    DAY_S,
    PAUSE_ACTION,
    RESUME_ACTION,
    ProjectTimes,
    half_up_tenth,
    mean_cycle_days,
    per_day,
    per_month,
    saturation_colour,
    saturation_percent,
    status_at,
    status_counts,
    today_start,
    windows,
)
from domain.delivery.workdays import TZ


@pytest.mark.req("I-59", "AMB-01", "AMB-47")
@pytest.mark.parametrize(("current", "max_load", "colour", "percent"), [
    (0, 10, "green", "0.0"), (3999, 10000, "green", "40.0"),  # 39.99 %: green, shown 40.0
    (2, 5, "blue", "40.0"), (4, 5, "blue", "80.0"), (799, 1000, "blue", "79.9"),
    (8001, 10000, "red", "80.0"),  # 80.01 %: red, shown 80.0
    (5, 5, "red", "100.0"), (0, 0, "red", "100"), (3, 0, "red", "100"), (7, 5, "red", "140.0"),
])
def test_saturation_colour_on_the_exact_fraction(current: int, max_load: int, colour: str,
                                                 percent: str) -> None:
    assert saturation_colour(current, max_load) == colour
    assert saturation_percent(current, max_load) == Decimal(percent)


@given(st.integers(0, 4000), st.integers(1, 2000))
def test_the_colour_follows_the_fraction(current: int, max_load: int) -> None:
    share = Fraction(current, max_load)
    expected = "green" if share < Fraction(2, 5) else "blue" if share <= Fraction(4, 5) else "red"
    assert saturation_colour(current, max_load) == expected


@pytest.mark.req("I-56", "AMB-27")
def test_the_mean_cycle_rounds_half_up_to_a_tenth() -> None:
    assert mean_cycle_days(int(Decimal("2.25") * DAY_S), 1) == Decimal("2.3")  # float: 2.2
    assert mean_cycle_days(int(Decimal("2.24") * DAY_S) * 2, 2) == Decimal("2.2")
    assert mean_cycle_days(Decimal("0.000001"), 1) == Decimal("0.0")
    assert mean_cycle_days(0, 0) is None  # shown as "—"
    assert half_up_tenth(Fraction(5, 100)) == Decimal("0.1")
    assert half_up_tenth(Fraction(4999, 100000)) == Decimal("0.0")


@pytest.mark.req("I-55", "I-57")
def test_the_windows_end_at_midnight_in_shanghai() -> None:
    at = datetime(2026, 1, 5, 16, 30, tzinfo=UTC)  # 00:30 on 6 January in Shanghai
    w = windows(at, 60)
    assert w.cutoff == datetime(2026, 1, 6, tzinfo=TZ) == today_start(at)
    assert w.days == tuple(date(2025, 12, 30) + timedelta(days=n) for n in range(7))
    assert w.months == (date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1),
                        date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1))
    assert w.status_from == w.cutoff - timedelta(days=60)
    assert w.cycle_from == w.cutoff - timedelta(days=365)
    # On the 1st, yesterday's month is the last one shown; the current month is not.
    first = windows(datetime(2026, 3, 1, 12, tzinfo=TZ))
    assert first.months[-1] == date(2026, 2, 1) and first.months[0] == date(2025, 9, 1)
    with pytest.raises(ValueError, match="status window"):
        windows(at, 45)


@pytest.mark.req("I-57")
def test_new_projects_are_zero_filled() -> None:
    w = windows(datetime(2026, 3, 10, 10, tzinfo=TZ))
    counts = {date(2026, 3, 9): 2, date(2026, 3, 3): 1, date(2026, 3, 2): 4,
              date(2025, 10, 1): 1, date(2026, 3, 10): 9}  # today's never counts
    assert per_day(w, counts) == [(date(2026, 3, 3), 1)] + [
        (date(2026, 3, d), 0) for d in range(4, 9)] + [(date(2026, 3, 9), 2)]
    assert per_month(w, counts) == [(date(2025, 10, 1), 1), (date(2025, 11, 1), 0),
                                    (date(2025, 12, 1), 0), (date(2026, 1, 1), 0),
                                    (date(2026, 2, 1), 0), (date(2026, 3, 1), 7)]


@pytest.mark.req("I-58")
def test_one_status_per_project_by_precedence() -> None:
    cut = datetime(2026, 3, 10, tzinfo=TZ)
    before, after = cut - timedelta(seconds=1), cut
    everything = ProjectTimes(before, before, before, True)
    assert status_at(everything, cut) == "cancelled"
    assert status_at(ProjectTimes(None, before, before, True), cut) == "completed"
    assert status_at(ProjectTimes(None, None, before, True), cut) == "paused"
    assert status_at(ProjectTimes(None, None, None, True), cut) == "timed_out"
    assert status_at(ProjectTimes(after, after, after, False), cut) == "in_progress"
    # The flow log's last pause or resume before the cutoff decides over the current pause.
    assert status_at(ProjectTimes(None, None, None, True, pause_logged=True), cut) == "paused"
    assert status_at(ProjectTimes(None, None, before, False, pause_logged=False),
                     cut) == "in_progress"
    counts = status_counts([everything, ProjectTimes(None, None, None, False)], cut)
    assert counts == {"cancelled": 1, "completed": 0, "paused": 0, "timed_out": 0,
                      "in_progress": 1}


def test_the_pause_actions_are_the_engines() -> None:
    """The dashboard reads the flow log's 暂停项目 / 启动项目 as the engine writes them."""
    machines = pytest.importorskip("domain.delivery.machines")
    assert (PAUSE_ACTION, RESUME_ACTION) == (machines.PAUSED, machines.RESUMED)
