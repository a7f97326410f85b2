"""The `work_calendar` table as operations maintain it (I-40, I-62, AMB-38).

Every change — one day, or a whole year entered from the State Council notice — re-computes
the deadline of every running node clock (`store.delivery.clock.reschedule_all`) and writes
its audit event, both in the change's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from psycopg.rows import class_row, tuple_row

from domain.delivery.calendar import CalendarYearExists, Coverage, Day
from domain.delivery.workdays import covered_until
from store.agents import Actor
from store.audit import record
from store.db import Conn
from store.delivery.clock import reschedule_all


@dataclass(frozen=True)
class CalendarDay:
    day: date
    is_workday: bool
    name: str
    source: str
    updated_at: datetime
    updated_by: str

    def plain(self) -> Day:
        return Day(self.day, self.is_workday, self.name)


_YEAR = """
SELECT day, is_workday, name, source, updated_at, updated_by FROM work_calendar
WHERE day BETWEEN %s AND %s ORDER BY day
"""
_ONE = "SELECT day, is_workday, name, source, updated_at, updated_by FROM work_calendar " \
       "WHERE day = %s FOR UPDATE"
_UPSERT = """
INSERT INTO work_calendar (day, is_workday, name, source, updated_at, updated_by)
VALUES (%s, %s, %s, 'ops', cp_now(), %s)
ON CONFLICT (day) DO UPDATE SET is_workday = EXCLUDED.is_workday, name = EXCLUDED.name,
    source = 'ops', updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
"""
_COUNT = "SELECT count(*) FROM work_calendar WHERE day BETWEEN %s AND %s"
_TODAY = "SELECT (cp_now() AT TIME ZONE 'Asia/Shanghai')::date"
_LOOK_AHEAD = 3 * 366
_COVERED = "SELECT day FROM work_calendar WHERE day BETWEEN %s AND %s"


async def year(conn: Conn, of: int) -> list[CalendarDay]:
    """The covered days of the year, in order."""
    async with conn.cursor(row_factory=class_row(CalendarDay)) as cur:
        await cur.execute(_YEAR, (date(of, 1, 1), date(of, 12, 31)))
        return await cur.fetchall()


def _state(workday: bool | None) -> str:
    return "uncovered" if workday is None else "workday" if workday else "day_off"


async def set_day(conn: Conn, day: date, is_workday: bool, name: str, actor: Actor) -> int:
    """Mark one day (covered or not) a working day or a day off with a name; returns how many
    running deadlines were re-computed."""
    async with conn.transaction():
        async with conn.cursor(row_factory=class_row(CalendarDay)) as cur:
            await cur.execute(_ONE, (day,))
            before = await cur.fetchone()
        await conn.execute(_UPSERT, (day, is_workday, name, actor.who))
        moved = await reschedule_all(conn)
        await record(conn, actor.transition(
            "work_calendar", day.isoformat(), _state(None if before is None else before.is_workday),
            _state(is_workday), name or None, rescheduled=moved))
    return moved


async def enter_year(conn: Conn, of: int, days: list[Day], actor: Actor, *,
                     replace: bool = False) -> int:
    """Store a whole year (from `domain.delivery.calendar.year_days`); a year with any day
    already covered is refused unless `replace`. Returns the re-computed deadlines."""
    async with conn.transaction():
        await conn.execute("LOCK TABLE work_calendar IN SHARE ROW EXCLUSIVE MODE")
        async with conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(_COUNT, (date(of, 1, 1), date(of, 12, 31)))
            row = await cur.fetchone()
            existing = row[0] if row else 0
        if existing and not replace:
            raise CalendarYearExists
        async with conn.cursor() as cur:
            await cur.executemany(_UPSERT, [(d.day, d.is_workday, d.name, actor.who)
                                            for d in days])
        moved = await reschedule_all(conn)
        await record(conn, actor.transition(
            "work_calendar", str(of), "covered" if existing else "uncovered", "covered",
            "replaced" if existing else "entered", days=len(days),
            holidays=sum(1 for d in days if not d.is_workday and d.name),
            workdays=sum(1 for d in days if d.is_workday and d.name), rescheduled=moved))
    return moved


async def today(conn: Conn) -> date:
    """The platform clock's date in Asia/Shanghai."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_TODAY)
        row = await cur.fetchone()
    assert row is not None  # noqa: S101 - a SELECT without FROM returns its row
    found: date = row[0]
    return found


async def coverage(conn: Conn) -> Coverage:
    """How far the calendar reaches from today (looked at up to three years ahead)."""
    now = await today(conn)
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_COVERED, (now, now + timedelta(days=_LOOK_AHEAD)))
        days = {r[0]: True for r in await cur.fetchall()}
    return Coverage(now, covered_until(days, now))
