"""The delivery dashboard through the API (I-55 … I-60) and the Grafana delivery dashboard's
SQL, on projects whose creation, completion, pause, cancellation and node timeouts were
written at chosen instants around the platform clock's "00:00 today" (2026-03-10, Shanghai)."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import AsyncConnection

from api.app import create_app
from core.clock import CLOCK
from core.settings import Settings
from dashboards.build import all_dashboards, sql_targets
from domain.delivery.dashboard import PAUSE_ACTION, RESUME_ACTION
from domain.delivery.machines import Actor
from store import series
from store.delivery import dashboard_series as d
from store.delivery import project_admin, project_rows, projects, timeouts
from tests.support import delivery as dl
from tests.support.api import ADMIN
from tests.support.dates import SHANGHAI, store_clock
from tests.support.delivery_rows import (
    logged,
    node_run,
    product,
    project,
    provider,
)

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
CUT = datetime(2026, 3, 10, tzinfo=SHANGHAI)  # 00:00 today: the cutoff of I-55
DAY = timedelta(days=1)


def at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
       year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[AsyncConnection]:
    await store_clock(db_url, NOW)
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as made:
        yield made
    CLOCK.set_offset(0)  # this process's clock, for the tests that follow


@pytest.fixture
async def app_clients(settings: Settings, conn: AsyncConnection
                      ) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Clients of one API app (one per signed-in person; the first sends the admin token)."""
    app = create_app(settings)
    clients: list[httpx.AsyncClient] = []
    async with app.router.lifespan_context(app):
        for _ in range(5):
            clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                             base_url="http://api"))
        yield clients
        for each in clients:
            await each.aclose()


async def board(client: httpx.AsyncClient, headers: dict[str, str] | None = None,
                **params: Any) -> dict[str, Any]:
    answer = await client.get("/v1/delivery/dashboard", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


@pytest.mark.req("I-55", "I-57")
async def test_new_projects_per_day_and_month_end_before_today(
        conn: AsyncConnection, app_clients: list[httpx.AsyncClient]) -> None:
    await product(conn, "pnew", "vnew")
    for pid, created, count in (
            ("y1", at(3, 9, 23, 59, 59), 1), ("y2", at(3, 9), 1),  # yesterday
            ("t1", CUT, 1), ("t2", at(3, 10, 9), 1),  # today: not counted
            ("w7", at(3, 3), 2), ("w8", at(3, 2, 23, 59, 59), 1),  # today−7; before it
            ("feb", at(2, 14, 12), 3), ("oct", at(10, 1, year=2025), 1),
            ("sep", at(9, 30, 23, 59, 59, year=2025), 1)):  # before the 6 months
        await project(conn, pid, "pnew", created_at=created, count=count)
    found = await board(app_clients[0], ADMIN, vendor_id="vnew")
    assert found["as_of"] == CUT.isoformat()
    assert [(p["day"], p["projects"]) for p in found["per_day"]] == [
        ("2026-03-03", 2), ("2026-03-04", 0), ("2026-03-05", 0), ("2026-03-06", 0),
        ("2026-03-07", 0), ("2026-03-08", 0), ("2026-03-09", 2)]
    assert [(p["month"], p["projects"]) for p in found["per_month"]] == [
        ("2025-10", 1), ("2025-11", 0), ("2025-12", 0), ("2026-01", 0), ("2026-02", 3),
        ("2026-03", 5)]


@pytest.mark.req("I-56", "AMB-27")
async def test_the_mean_cycle_of_the_365_days_before_today(
        conn: AsyncConnection, app_clients: list[httpx.AsyncClient]) -> None:
    await product(conn, "pcyc", "vcyc")
    await product(conn, "pcyc2", "vcyc2")
    await product(conn, "pnone", "vnone")
    cycle = timedelta(days=2, hours=6)  # 2.25 days
    start = CUT - 365 * DAY
    for pid, completed, took in (("c1", at(2, 1), cycle), ("c2", at(3, 9, 23), cycle),
                                 ("c3", start, cycle),  # the window's first instant
                                 ("late", at(3, 10, 1), 100 * DAY),  # today
                                 ("old", start - timedelta(seconds=1), 100 * DAY)):
        await project(conn, pid, "pcyc", provider_id="pc1", created_at=completed - took,
                      status="completed", at=completed)
    await project(conn, "c4", "pcyc2", created_at=at(1, 1), status="completed",
                  at=at(1, 1) + timedelta(days=2, seconds=int(0.24 * 86400)))
    admin = app_clients[0]
    found = await board(admin, ADMIN, vendor_id="vcyc")
    assert found["cycle"] == {"days": "2.3", "projects": 3,
                              "completed_from": start.isoformat()}  # 2.25 half-up
    assert (await board(admin, ADMIN, provider_id="pc1"))["cycle"]["days"] == "2.3"
    assert (await board(admin, ADMIN, vendor_id="vcyc2"))["cycle"]["days"] == "2.2"
    none = await board(admin, ADMIN, vendor_id="vnone")
    assert none["cycle"] == {"days": None, "projects": 0, "completed_from": start.isoformat()}
    assert [p["projects"] for p in none["per_day"]] == [0] * 7
    assert [p["projects"] for p in none["per_month"]] == [0] * 6
    assert none["status"]["total"] == 0


@pytest.mark.req("I-58", "AMB-02", "I-55")
async def test_statuses_are_exclusive_as_of_midnight_and_follow_the_window(
        conn: AsyncConnection, app_clients: list[httpx.AsyncClient]) -> None:
    await product(conn, "pst", "vst")
    made = at(3, 1)
    today = at(3, 10, 8)
    for pid, status, when in (("cancel", "cancelled", at(3, 5)),
                              ("cancel-late", "cancelled", at(3, 10, 9)),
                              ("done", "completed", at(3, 6)),
                              ("done-late", "completed", today),
                              ("paused", "paused", at(3, 7)),
                              ("paused-late", "paused", today),
                              ("timeout", "in_progress", None),
                              ("timeout-late", "in_progress", None),
                              ("recovered", "in_progress", None),
                              ("run", "in_progress", None),
                              ("resumed-late", "in_progress", None),
                              ("resumed-early", "in_progress", None)):
        await project(conn, pid, "pst", created_at=made, status=status, at=when)
    await project(conn, "today", "pst", created_at=at(3, 10, 1))
    await project(conn, "edge", "pst", created_at=CUT - 30 * DAY)
    await project(conn, "before", "pst", created_at=CUT - 30 * DAY - timedelta(seconds=1))
    await project(conn, "old", "pst", created_at=at(1, 20), status="completed", at=at(2, 1))
    # A run timed out before the cutoff and left after it: timed out as of 00:00.
    await node_run(conn, "done-late", entered_at=made, timed_out_at=at(3, 4), done_at=today)
    await node_run(conn, "paused", entered_at=made, timed_out_at=at(3, 4))
    await node_run(conn, "timeout", entered_at=made, timed_out_at=at(3, 3))
    await node_run(conn, "timeout-late", entered_at=made, timed_out_at=at(3, 10, 1))
    await node_run(conn, "recovered", entered_at=made, timed_out_at=at(3, 2), done_at=at(3, 3))
    await node_run(conn, "recovered", entered_at=at(3, 3))
    await node_run(conn, "run", entered_at=made)
    # Paused before 00:00 and resumed after it: paused as of 00:00 (the flow log says so).
    await logged(conn, "resumed-late", PAUSE_ACTION, at(3, 5))
    await logged(conn, "resumed-late", RESUME_ACTION, today)
    await logged(conn, "resumed-early", PAUSE_ACTION, at(3, 4))
    await logged(conn, "resumed-early", RESUME_ACTION, at(3, 5))
    admin = app_clients[0]
    thirty = (await board(admin, ADMIN, vendor_id="vst"))["status"]
    assert thirty == {"window_days": 30, "created_from": (CUT - 30 * DAY).isoformat(),
                      "total": 13, "cancelled": 1, "completed": 1, "paused": 2,
                      "timed_out": 2, "in_progress": 7}
    sixty = (await board(admin, ADMIN, vendor_id="vst", window=60))["status"]
    assert sixty == {"window_days": 60, "created_from": (CUT - 60 * DAY).isoformat(),
                     "total": 15, "cancelled": 1, "completed": 2, "paused": 2,
                     "timed_out": 2, "in_progress": 8}
    for counts in (thirty, sixty):
        assert sum(counts[k] for k in ("cancelled", "completed", "paused", "timed_out",
                                       "in_progress")) == counts["total"]
    bad = await admin.get("/v1/delivery/dashboard", params={"window": 45}, headers=ADMIN)
    assert bad.status_code == 422


async def _saturation_world(conn: AsyncConnection) -> None:
    await product(conn, "psat", "vsat")
    await product(conn, "psat2", "vsat")
    await product(conn, "pother", "vother")
    for product_id, provider_id, max_load, live, paused in (
            ("psat", "green", 2000, 700, 99),  # 39.95 %: green, shown 40.0
            ("psat", "b40", 5, 2, 0), ("psat", "b80", 5, 3, 1),  # exactly 40 %, 80 %: blue
            ("psat", "red", 2000, 1601, 0),  # 80.05 %: red
            ("psat2", "zero", 0, 0, 0),  # max load 0: 100 %, red
            ("pother", "oth", 10, 1, 0)):
        await provider(conn, product_id, provider_id, max_load)
        if live:
            await project(conn, f"{product_id}-{provider_id}", product_id, provider_id=provider_id,
                          created_at=at(3, 1), count=live)
        if paused:
            await project(conn, f"{product_id}-{provider_id}-p", product_id,
                          provider_id=provider_id, created_at=at(3, 1), status="paused",
                          at=at(3, 2), count=paused)
    # Ended projects hold no load.
    await project(conn, "ended", "psat", provider_id="b40", created_at=at(3, 1),
                  status="completed", at=at(3, 2), count=3)
    await project(conn, "gone", "psat", provider_id="b40", created_at=at(3, 1),
                  status="cancelled", at=at(3, 2), count=3)


@pytest.mark.req("I-59", "I-60", "AMB-01", "AMB-28", "AMB-47")
async def test_saturation_is_live_for_vendors_and_not_for_providers(
        conn: AsyncConnection, app_clients: list[httpx.AsyncClient]) -> None:
    await _saturation_world(conn)
    admin, vendor, pm, prov, staff = app_clients
    for client, login, role, tenant in (
            (vendor, "vadmin", "vendor_admin", "vsat"), (pm, "vpm", "vendor_pm", "vsat"),
            (prov, "radmin", "provider_admin", "red"), (staff, "rstaff", "provider_staff", "red")):
        await dl.log_in(client, conn, await dl.staff(conn, login, tenant, (), role=role))
    answer = await vendor.get("/v1/delivery/dashboard/saturation")
    assert answer.status_code == 200, answer.text
    bars = [(b["product_id"], b["provider_id"], b["current"], b["max_load"], b["percent"],
             b["colour"]) for b in answer.json()]
    assert bars == [("psat", "b40", 2, 5, "40.0", "blue"), ("psat", "b80", 4, 5, "80.0", "blue"),
                    ("psat", "green", 799, 2000, "40.0", "green"),
                    ("psat", "red", 1601, 2000, "80.1", "red"),
                    ("psat2", "zero", 0, 0, "100.0", "red")]
    assert (await pm.get("/v1/delivery/dashboard/saturation")).json() == answer.json()
    # Live: one more project of b40 moves it at once (3/5 = 60 %: still blue; 4/5 at b80 …).
    await project(conn, "extra", "psat", provider_id="b80", created_at=at(3, 10, 9))
    moved = (await vendor.get("/v1/delivery/dashboard/saturation")).json()
    assert [(b["current"], b["colour"]) for b in moved if b["provider_id"] == "b80"] == [
        (5, "red")]
    # Scopes: the vendor's own projects; the provider admin's provider's, without saturation.
    mine = await board(vendor)
    assert (mine["vendor_id"], mine["provider_id"]) == ("vsat", None)
    assert mine["status"]["total"] == 799 + 2 + 4 + 1601 + 6  # created 03-01; today's excluded
    theirs = await board(prov)
    assert (theirs["vendor_id"], theirs["provider_id"]) == (None, "red")
    assert theirs["status"] | {"created_from": None} == {
        "window_days": 30, "created_from": None, "total": 1601, "cancelled": 0,
        "completed": 0, "paused": 0, "timed_out": 0, "in_progress": 1601}
    assert (await prov.get("/v1/delivery/dashboard/saturation")).status_code == 403
    for path in ("/v1/delivery/dashboard", "/v1/delivery/dashboard/saturation"):
        assert (await staff.get(path)).status_code == 403
        assert (await vendor.get(path, params={"vendor_id": "vother"})).status_code == 404
        assert (await admin.get(path, params={"vendor_id": "nobody"},
                                headers=ADMIN)).status_code == 404
    everyone = (await admin.get("/v1/delivery/dashboard/saturation", headers=ADMIN)).json()
    assert {b["product_id"] for b in everyone} == {"psat", "psat2", "pother"}

    # The console's page: the same numbers, coloured bars for the vendor only, zh and en.
    page = await vendor.get("/console/delivery/dashboard", params={"view": "month"})
    assert page.status_code == 200, page.text
    assert "数据看板" in page.text and "服务商饱和度" in page.text
    assert re.findall(r'data-colour="(\w+)"', page.text) == [
        "blue", "red", "green", "red", "red"]  # b40, b80 (now 5/5), green, red, zero
    assert 'data-testid="status-total">2412<' in page.text
    vendor.cookies.set("cardpulse_lang", "en")
    english = await vendor.get("/console/delivery/dashboard", params={"window": "60"})
    assert "Provider saturation" in english.text and "Last 60 days" in english.text
    provider_page = await prov.get("/console/delivery/dashboard")
    assert provider_page.status_code == 200, provider_page.text
    assert "data-colour" not in provider_page.text and "1601" in provider_page.text
    assert (await staff.get("/console/delivery/dashboard")).status_code == 404


def grafana(query: str, start: datetime, end: datetime) -> str:
    """The panel's SQL with the time range macros expanded as Grafana's data source does."""
    return (series.for_grafana(query)
            .replace("$__timeFrom()", f"'{start.isoformat()}'::timestamptz")
            .replace("$__timeTo()", f"'{end.isoformat()}'::timestamptz"))


async def panel(conn: AsyncConnection, query: str) -> list[tuple[Any, ...]]:
    sql = grafana(query, NOW - 30 * DAY, NOW + DAY)
    return list(await (await conn.execute(sql.encode())).fetchall())


async def test_the_delivery_panels_show_projects_timeouts_and_the_queue(
        conn: AsyncConnection) -> None:
    await product(conn, "pg", "vg")
    await provider(conn, "pg", "pr", 5)
    await provider(conn, "pg", "pz", 0)
    await project(conn, "live", "pg", provider_id="pr", created_at=at(3, 9, 10), count=2)
    await project(conn, "done", "pg", provider_id="pr", created_at=at(3, 1),
                  status="completed", at=at(3, 3, 6))  # 2.25 days
    late = NOW - timedelta(minutes=2)
    await node_run(conn, "live", entered_at=at(3, 9, 10))
    await node_run(conn, "live-2", entered_at=at(3, 9, 10), timed_out_at=at(3, 9, 12))
    await conn.execute("UPDATE dl_node_runs SET deadline_at = %s WHERE project_id = 'live'",
                       (late,))
    await conn.execute("INSERT INTO dl_queue (project_id, kind, node_key, reason, queued_at)"
                       " VALUES ('done', 'provider', 'assign_provider', 'full', %s)",
                       (NOW - timedelta(minutes=30),))

    assert await panel(conn, d.BY_STATUS) == [("completed", 1), ("in_progress", 2)]
    assert [(t.astimezone(SHANGHAI).date().isoformat(), n)
            for t, n in await panel(conn, d.NEW_DAILY)] == [("2026-03-01", 1),
                                                            ("2026-03-09", 2)]
    assert await panel(conn, d.CYCLE) == [(Decimal("2.3"), 1)]
    assert await panel(conn, d.SATURATION) == [("NO-pg / pr", Decimal(40)), ("NO-pg / pz", 100)]
    assert await panel(conn, d.TIMED_OUT) == [(1,)]
    assert await panel(conn, d.OVERDUE) == [(1,)]  # 2 minutes past its deadline, not flagged
    [(queued, oldest)] = await panel(conn, d.QUEUE)
    assert (queued, oldest) == (1, 30)
    assert await panel(conn, d.CALENDAR_LEFT) == [(296,)]  # the seed ends on 2026-12-31


def test_the_delivery_dashboard_carries_every_query() -> None:
    [found] = [b for b in all_dashboards() if b["uid"] == "cardpulse-delivery"]
    shown = {sql for _, sql in sql_targets(found)}
    queries = [getattr(d, name) for name in dir(d)
               if name.isupper() and isinstance(getattr(d, name), str)]
    assert shown == {series.for_grafana(q) for q in queries}
    [bars] = [p for p in found["panels"] if p["type"] == "bargauge"]
    steps = bars["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [(None, "green"), (40, "blue"),
                                                         (80.01, "red")]


@pytest.mark.req("I-58", "I-56", "I-55")
async def test_projects_run_by_the_engine_count_as_they_stood_at_midnight(
        db_url: str, conn: AsyncConnection, app_clients: list[httpx.AsyncClient]) -> None:
    """Three projects started on Monday 2026-03-09 by the engine: one paused that evening and
    resumed on Tuesday morning, one whose 0.5-day node ran out at 22:00, one completed after
    3 hours. On Tuesday at 10:00 the dashboard says paused, timed out and delivered."""
    monday = at(3, 9, 10)
    await store_clock(db_url, monday)
    await dl.forms_and_messages(conn)
    await dl.tenant(conn, "vend")
    await dl.tenant(conn, "acme")
    designer = await dl.staff(conn, "d1", "acme", max_load=5)
    admin = await dl.staff(conn, "padmin", "acme", ("服务商管理员",), role="provider_admin")
    client = await dl.customer(conn, "cust1")
    nodes = dl.flow({"key": "pick", "kind": "assign", "name": "分配设计师", "role": "设计师"},
                    {"key": "draft", "kind": "general", "name": "设计稿", "role": "设计师",
                     "timeout_days": "0.5"})
    product_id = await dl.product(conn, await dl.template(conn, nodes, "vend"), "vend",
                                  providers=[("acme", 10, 100)])
    started = {}
    for name in ("paused", "late", "done"):
        started[name] = await projects.start_project(
            conn, order_no=f"MSP-{name}", product_id=product_id, customer_name="客户甲",
            customer_user_id=client, rng=random.Random(7))
    draft = await project_rows.current_run(conn, started["done"])
    assert draft is not None
    await store_clock(db_url, at(3, 9, 12))
    await projects.confirm(conn, started["done"], draft.run_id, Actor(designer, "d1"),
                           rng=random.Random(7))
    accept = await project_rows.current_run(conn, started["done"])
    assert accept is not None
    await store_clock(db_url, at(3, 9, 13))  # 3 hours after the start: 0.125 days
    await projects.confirm(conn, started["done"], accept.run_id, Actor(client, "cust1"),
                           rng=random.Random(7))
    await store_clock(db_url, at(3, 9, 18))
    await project_admin.pause(conn, started["paused"], Actor(admin, "padmin"), "客户出差")
    await store_clock(db_url, NOW - timedelta(hours=1))  # Tuesday 09:00
    await project_admin.resume(conn, started["paused"], Actor(admin, "padmin"))
    assert await timeouts.sweep(conn, 10) == 1  # "late": due at 22:00 on Monday
    await store_clock(db_url, NOW)

    found = await board(app_clients[0], ADMIN, vendor_id="vend")
    assert found["status"] | {"created_from": None} == {
        "window_days": 30, "created_from": None, "total": 3, "cancelled": 0, "completed": 1,
        "paused": 1, "timed_out": 1, "in_progress": 0}
    assert found["cycle"]["days"] == "0.1" and found["cycle"]["projects"] == 1
    assert found["per_day"][-1] == {"day": "2026-03-09", "projects": 3}
    provider_view = await board(app_clients[0], ADMIN, provider_id="acme")
    assert provider_view["status"] == found["status"]
