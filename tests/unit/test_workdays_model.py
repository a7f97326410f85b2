"""The working-day clock (I-41, AMB-03, AMB-04) against a brute-force model: time is walked
hour by hour (every UTC hour lies inside one Asia/Shanghai day, whose offset is a whole +8 h
without daylight saving), each piece counted when its local day is a working day. Random
calendars, start instants (in and out of working days, across local midnight), timeouts in
tenths of a day and pauses; a calendar that stops short raises CalendarGap, never a guess."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.delivery.workdays import (
    DAY_S,
    TENTH_S,
    TZ,
    CalendarGap,
    DayTable,
    add_working,
    day_start,
    deadline,
    working_seconds,
)

pytestmark = pytest.mark.req("I-41")
FIRST = date(2026, 3, 1)
SPAN = 40  # days each random calendar covers
HOUR = timedelta(hours=1)


def _pieces(start: datetime, table: DayTable
            ) -> Iterator[tuple[datetime, datetime, bool | None]]:
    """(piece start, piece end, working?) from `start`, cut at every whole UTC hour, until the
    calendar's end; a day it does not cover ends the walk with that day."""
    pos = start.astimezone(UTC)
    while True:
        nxt = pos.replace(minute=0, second=0, microsecond=0) + HOUR
        day = pos.astimezone(TZ).date()
        working = table.is_workday(day)
        if working is None:
            yield pos, nxt, None
            return
        yield pos, nxt, working
        pos = nxt


def brute_seconds(start: datetime, end: datetime, table: DayTable) -> int:
    total = 0
    for lo, hi, working in _pieces(start, table):
        if lo >= end:
            return total
        if working is None:
            raise CalendarGap(lo.astimezone(TZ).date())
        if working:
            total += int((min(hi, end) - lo).total_seconds())
    raise AssertionError("unreachable")


def brute_first(start: datetime, need: int, table: DayTable) -> datetime:
    """The first instant at which the working time from `start` reaches `need` > 0."""
    acc = 0
    for lo, hi, working in _pieces(start, table):
        if working is None:
            raise CalendarGap(lo.astimezone(TZ).date())
        if working:
            piece = int((hi - lo).total_seconds())
            if acc + piece >= need:
                return lo + timedelta(seconds=need - acc)
            acc += piece
    raise AssertionError("unreachable")


calendars = st.lists(st.booleans(), min_size=SPAN, max_size=SPAN).map(
    lambda flags: DayTable({FIRST + timedelta(days=i): f for i, f in enumerate(flags)}))
# Instants in the first 12 days of the calendar, to the second (so across local midnights).
instants = st.integers(0, 12 * DAY_S - 1).map(
    lambda s: (day_start(FIRST) + timedelta(seconds=s)).astimezone(UTC))
tenths = st.integers(1, 150)


def _same(model: Callable[[], object], real: Callable[[], object]) -> None:
    """Both raise CalendarGap on the same day, or agree."""
    try:
        expected = model()
    except CalendarGap as gap:
        with pytest.raises(CalendarGap) as raised:
            real()
        assert raised.value.day == gap.day
        return
    assert real() == expected


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(0, 20 * DAY_S))
def test_working_seconds_is_the_walk(table: DayTable, start: datetime, length: int) -> None:
    end = start + timedelta(seconds=length)
    _same(lambda: brute_seconds(start, end, table), lambda: working_seconds(start, end, table))


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(0, 6 * DAY_S), st.integers(0, 6 * DAY_S))
def test_working_seconds_add_up(table: DayTable, a: datetime, ab: int, bc: int) -> None:
    b, c = a + timedelta(seconds=ab), a + timedelta(seconds=ab + bc)
    assert working_seconds(a, c, table) == working_seconds(a, b, table) \
        + working_seconds(b, c, table)
    assert working_seconds(c, a, table) == 0 or ab + bc == 0


@settings(max_examples=150, deadline=None)
@given(calendars, instants, tenths)
def test_the_deadline_is_the_first_instant_the_timeout_is_worked(
        table: DayTable, entered: datetime, timeout: int) -> None:
    need = timeout * TENTH_S
    _same(lambda: brute_first(entered, need, table),
          lambda: deadline(entered, 0, timeout, table))
    try:
        due = add_working(entered, need, table)
    except CalendarGap:
        return
    assert working_seconds(entered, due, table) == need
    assert working_seconds(entered, due - timedelta(seconds=1), table) == need - 1


@settings(max_examples=150, deadline=None)
@given(calendars, instants, tenths, st.integers(0, 4 * DAY_S), st.integers(0, 4 * DAY_S))
def test_a_pause_moves_the_deadline_by_the_paused_working_time(
        table: DayTable, entered: datetime, timeout: int, run: int, paused: int) -> None:
    """AMB-04: the time worked before the pause is kept, the paused interval not counted."""
    pause_at = entered + timedelta(seconds=run)
    resume_at = pause_at + timedelta(seconds=paused)
    worked = working_seconds(entered, pause_at, table)
    need = timeout * TENTH_S - worked
    if need <= 0:  # the timeout was worked before the pause: the first working instant
        due = deadline(resume_at, worked, timeout, table)
        assert due is not None and due >= resume_at
        assert working_seconds(resume_at, due, table) == 0
        assert table.is_workday(due.astimezone(TZ).date()) is True
        return
    _same(lambda: brute_first(resume_at, need, table),
          lambda: deadline(resume_at, worked, timeout, table))


@settings(max_examples=50, deadline=None)
@given(calendars, instants, st.integers(0, SPAN - 1))
def test_a_day_the_calendar_does_not_cover_is_never_guessed(
        table: DayTable, start: datetime, hole: int) -> None:
    missing = FIRST + timedelta(days=hole)
    holed = DayTable({d: w for d, w in table.days.items() if d != missing})
    end = day_start(FIRST + timedelta(days=SPAN)).astimezone(UTC)
    if start.astimezone(TZ).date() > missing:
        assert working_seconds(start, end, holed) == brute_seconds(start, end, holed)
    else:
        with pytest.raises(CalendarGap) as raised:
            working_seconds(start, end, holed)
        assert raised.value.day == missing


def test_no_timeout_has_no_deadline() -> None:
    assert deadline(datetime(2026, 1, 9, 7, tzinfo=UTC), 0, 0, DayTable({})) is None


@pytest.mark.parametrize(("entered", "timeout", "due"), [
    (datetime(2026, 1, 9, 15, tzinfo=TZ), 10, datetime(2026, 1, 12, 15, tzinfo=TZ)),  # Friday
    (datetime(2026, 1, 12, 9, tzinfo=TZ), 5, datetime(2026, 1, 12, 21, tzinfo=TZ)),
    (datetime(2026, 1, 10, 15, tzinfo=TZ), 5, datetime(2026, 1, 12, 12, tzinfo=TZ)),  # Saturday
])
def test_the_examples_of_the_spec(entered: datetime, timeout: int, due: datetime) -> None:
    january = [date(2026, 1, 1) + timedelta(days=i) for i in range(40)]
    weekdays = DayTable({day: day.isoweekday() < 6 for day in january})  # no holidays
    assert deadline(entered, 0, timeout, weekdays) == due
