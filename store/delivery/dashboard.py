"""The delivery dashboard's reads (I-55 … I-60): new projects, the mean completion cycle and
the project statuses of a vendor's or a provider's projects as of 00:00 today, and the live
saturation of each product's providers. The windows, the status precedence, the rounding and
the colours are the pure rules of `domain.delivery.dashboard`; this module only counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from psycopg.rows import class_row, tuple_row

from domain.delivery.dashboard import (
    PAUSE_ACTION,
    RESUME_ACTION,
    Colour,
    ProjectTimes,
    Scope,
    Status,
    Windows,
    mean_cycle_days,
    per_day,
    per_month,
    saturation_colour,
    saturation_percent,
    status_counts,
)
from store.db import Conn

# Every query is scoped to a vendor's or a provider's projects (None: not restricted).
# New projects per local day (Asia/Shanghai) in [start, cutoff).
_NEW = """
SELECT (p.created_at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*) AS projects
FROM dl_projects p
WHERE p.created_at >= %(start)s AND p.created_at < %(cutoff)s AND
  (%(vendor)s::text IS NULL OR p.vendor_id = %(vendor)s)
  AND (%(provider)s::text IS NULL OR p.provider_id = %(provider)s)
GROUP BY 1"""
# Projects completed in [start, cutoff): their summed cycles in seconds (calendar time).
_CYCLE = """
SELECT coalesce(sum(extract(epoch FROM p.completed_at - p.created_at)), 0) AS total_s,
       count(*) AS projects
FROM dl_projects p
WHERE p.completed_at >= %(start)s AND p.completed_at < %(cutoff)s AND
  (%(vendor)s::text IS NULL OR p.vendor_id = %(vendor)s)
  AND (%(provider)s::text IS NULL OR p.provider_id = %(provider)s)"""
# Projects created in [start, cutoff) and what decides their status at the cutoff: a node run
# current at the cutoff (entered before, not left before) that had timed out before it (the
# sweep sets `timed_out_at` to the deadline), and the last pause or resume logged before it.
_TIMES = """
SELECT p.cancelled_at, p.completed_at, p.paused_at,
       EXISTS (SELECT 1 FROM dl_node_runs r
               WHERE r.project_id = p.project_id AND r.entered_at < %(cutoff)s
                 AND r.timed_out_at < %(cutoff)s
                 AND (r.done_at IS NULL OR r.done_at >= %(cutoff)s)) AS timed_out,
       (SELECT l.action = %(pause)s FROM dl_project_log l
        WHERE l.project_id = p.project_id AND l.action IN (%(pause)s, %(resume)s)
          AND l.at < %(cutoff)s
        ORDER BY l.at DESC, l.log_id DESC LIMIT 1) AS pause_logged
FROM dl_projects p
WHERE p.created_at >= %(start)s AND p.created_at < %(cutoff)s AND
  (%(vendor)s::text IS NULL OR p.vendor_id = %(vendor)s)
  AND (%(provider)s::text IS NULL OR p.provider_id = %(provider)s)"""
# Each product's providers with their live load: the provider's in-progress and paused
# projects of the product (a load is never a counter: 0200_delivery.sql).
_SATURATION = """
SELECT pr.product_id, pr.product_no, pr.name AS product_name, pp.provider_id,
       t.name AS provider_name, pp.max_load,
       (SELECT count(*) FROM dl_projects p
        WHERE p.product_id = pp.product_id AND p.provider_id = pp.provider_id
          AND p.status IN ('in_progress', 'paused'))::int AS current
FROM dl_product_providers pp
JOIN dl_products pr ON pr.product_id = pp.product_id
JOIN dl_tenants t ON t.tenant_id = pp.provider_id
WHERE %(vendor)s::text IS NULL OR pr.vendor_id = %(vendor)s
ORDER BY pr.product_no, pp.provider_id"""
_TENANT = "SELECT 1 FROM dl_tenants WHERE tenant_id = %s"


@dataclass(frozen=True)
class Dashboard:
    """The three "as of 00:00 today" widgets of I-56 … I-58."""

    windows: Windows
    cycle_days: Decimal | None  # None: no project completed in the 365 days ("—")
    cycle_projects: int
    per_day: list[tuple[date, int]]
    per_month: list[tuple[date, int]]
    statuses: dict[Status, int]
    total: int


@dataclass(frozen=True)
class _LoadRow:
    product_id: str
    product_no: str
    product_name: str
    provider_id: str
    provider_name: str
    max_load: int
    current: int


@dataclass(frozen=True)
class Saturation:
    """One progress bar of I-59: a provider of a product, its live load and colour."""

    product_id: str
    product_no: str
    product_name: str
    provider_id: str
    provider_name: str
    current: int
    max_load: int
    percent: Decimal
    colour: Colour


def _params(scope: Scope, start: datetime, cutoff: datetime) -> dict[str, object]:
    return {"vendor": scope.vendor_id, "provider": scope.provider_id, "start": start,
            "cutoff": cutoff, "pause": PAUSE_ACTION, "resume": RESUME_ACTION}


async def tenant_exists(conn: Conn, tenant_id: str) -> bool:
    cur = await conn.execute(_TENANT, (tenant_id,))
    return await cur.fetchone() is not None


async def new_projects(conn: Conn, scope: Scope, start: datetime,
                       cutoff: datetime) -> dict[date, int]:
    """New projects per local day in [start, cutoff)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_NEW, _params(scope, start, cutoff))
        return {day: int(n) for day, n in await cur.fetchall()}


async def completed_cycles(conn: Conn, scope: Scope, start: datetime,
                           cutoff: datetime) -> tuple[Decimal, int]:
    """(summed cycle seconds, projects) of the projects completed in [start, cutoff)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_CYCLE, _params(scope, start, cutoff))
        row = await cur.fetchone()
    if row is None:  # an aggregate always answers one row
        return Decimal(0), 0
    return Decimal(row[0]), int(row[1])


async def project_times(conn: Conn, scope: Scope, start: datetime,
                        cutoff: datetime) -> list[ProjectTimes]:
    """The projects created in [start, cutoff) with what decides their status at `cutoff`."""
    async with conn.cursor(row_factory=class_row(ProjectTimes)) as cur:
        await cur.execute(_TIMES, _params(scope, start, cutoff))
        return await cur.fetchall()


async def dashboard(conn: Conn, scope: Scope, w: Windows) -> Dashboard:
    """Cycle, new projects and statuses of the scope's projects for the windows `w`."""
    total_s, completed = await completed_cycles(conn, scope, w.cycle_from, w.cutoff)
    created = await new_projects(conn, scope, w.created_from, w.cutoff)
    times = await project_times(conn, scope, w.status_from, w.cutoff)
    return Dashboard(windows=w, cycle_days=mean_cycle_days(total_s, completed),
                     cycle_projects=completed, per_day=per_day(w, created),
                     per_month=per_month(w, created), statuses=status_counts(times, w.cutoff),
                     total=len(times))


async def saturation(conn: Conn, vendor_id: str | None) -> list[Saturation]:
    """Live saturation of every provider of the vendor's products (all vendors' for None)."""
    async with conn.cursor(row_factory=class_row(_LoadRow)) as cur:
        await cur.execute(_SATURATION, {"vendor": vendor_id})
        rows = await cur.fetchall()
    return [Saturation(product_id=r.product_id, product_no=r.product_no,
                       product_name=r.product_name, provider_id=r.provider_id,
                       provider_name=r.provider_name, current=r.current, max_load=r.max_load,
                       percent=saturation_percent(r.current, r.max_load),
                       colour=saturation_colour(r.current, r.max_load)) for r in rows]
