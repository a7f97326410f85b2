"""Node deadlines on the working-day calendar (I-41 … I-43, I-62).

A node run's clock: `worked_s` accrued before `counting_since`, which is NULL while the project
is paused. `deadline_at` follows from them and the `work_calendar` table through the pure
`domain.delivery.workdays`; when the calendar does not reach it, `deadline_at` stays NULL and
`deadline_unknown` is set — never a guess — until operations extend the calendar, which
re-computes every running clock (`reschedule_all`).

Every function takes the caller's transaction and the instant to use (the platform clock's
`cp_now()`, read by the caller in the same transaction).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from psycopg.rows import tuple_row

from domain.delivery.workdays import CalendarGap, DayTable, deadline, local_day, working_seconds
from store.db import Conn

# A timeout is at most 365.0 working days; this many calendar days always hold them.
_HORIZON = timedelta(days=800)

_DAYS = "SELECT day, is_workday FROM work_calendar WHERE day BETWEEN %s AND %s"
_RUN_CLOCK = """
SELECT run_id, counting_since, worked_s, timeout_tenths FROM dl_node_runs
WHERE project_id = %s AND state IN ('active', 'queued') FOR UPDATE
"""
_SET_DEADLINE = """
UPDATE dl_node_runs SET deadline_at = %s, deadline_unknown = %s WHERE run_id = %s
"""
_START = """
UPDATE dl_node_runs SET counting_since = %s, worked_s = 0 WHERE run_id = %s
RETURNING counting_since, worked_s, timeout_tenths
"""
_PAUSE = """
UPDATE dl_node_runs SET worked_s = %s, counting_since = NULL, deadline_at = NULL,
    deadline_unknown = false
WHERE run_id = %s
"""
_RESUME = "UPDATE dl_node_runs SET counting_since = %s WHERE run_id = %s"
_RUNNING = """
SELECT run_id, counting_since, worked_s, timeout_tenths FROM dl_node_runs
WHERE state = 'active' AND timed_out_at IS NULL AND counting_since IS NOT NULL
  AND timeout_tenths > 0
ORDER BY run_id FOR UPDATE
"""


async def calendar(conn: Conn, first: date, last: date) -> DayTable:
    """The covered days between `first` and `last` (inclusive)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_DAYS, (first, last))
        return DayTable(dict(await cur.fetchall()))


async def _schedule(conn: Conn, run_id: int, since: datetime, worked_s: int,
                    timeout_tenths: int, cal: DayTable | None = None) -> datetime | None:
    if cal is None:
        cal = await calendar(conn, local_day(since), local_day(since + _HORIZON))
    try:
        due = deadline(since, worked_s, timeout_tenths, cal)
        unknown = False
    except CalendarGap:
        due, unknown = None, True
    await conn.execute(_SET_DEADLINE, (due, unknown, run_id))
    return due


async def start(conn: Conn, run_id: int, at: datetime, *, paused: bool = False
                ) -> datetime | None:
    """A node was (re-)entered at `at`: its clock starts from zero (I-42), or waits for the
    project's resume when it is paused. Returns the deadline (None: no timeout, or unknown)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_START, (None if paused else at, run_id))
        row = await cur.fetchone()
    if row is None or row[0] is None:
        return None
    return await _schedule(conn, run_id, row[0], row[1], row[2])


async def pause(conn: Conn, project_id: str, at: datetime) -> None:
    """The project pauses at `at`: its current run keeps the working time accrued so far and
    stops counting (I-43). A run already timed out keeps its flag."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_RUN_CLOCK, (project_id,))
        rows = await cur.fetchall()
    for run_id, since, worked_s, _tenths in rows:
        if since is None:
            continue
        try:
            more = working_seconds(since, at, await calendar(conn, local_day(since),
                                                             local_day(at)))
        except CalendarGap:  # an uncovered stretch counts as working time: never less
            more = int((at - since).total_seconds())
        await conn.execute(_PAUSE, (worked_s + more, run_id))


async def resume(conn: Conn, project_id: str, at: datetime) -> None:
    """The project starts again at `at`: counting continues from the time already accrued,
    so the deadline moves by the paused working time (AMB-04)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_RUN_CLOCK, (project_id,))
        rows = await cur.fetchall()
    for run_id, _since, worked_s, tenths in rows:
        await conn.execute(_RESUME, (at, run_id))
        await _schedule(conn, run_id, at, worked_s, tenths)


async def reschedule_all(conn: Conn) -> int:
    """Re-compute the deadline of every running, not yet timed-out clock from its entry (or
    resume) and accrued time — after a change of the calendar (I-62). Returns how many."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_RUNNING)
        rows = await cur.fetchall()
    if not rows:
        return 0
    first = min(local_day(r[1]) for r in rows)
    cal = await calendar(conn, first, max(local_day(r[1]) for r in rows) + _HORIZON)
    for run_id, since, worked_s, tenths in rows:
        await _schedule(conn, run_id, since, worked_s, tenths, cal)
    return len(rows)
