"""The working-day calendar's and the inbox's tests: people of the delivery roles signed in on
their own clients, the platform clock moved to a date, and the smallest running node run
(until d-engine's tests/support/delivery.py builds real projects)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from core.passwords import hash_password
from store.db import Conn
from store.delivery import clock
from tests.support.api import ADMIN
from tests.support.people import NEW_PASSWORD, log_in, make_user

NODES = '[{"key": "assign_provider", "kind": "assign_provider", "name": "分配服务商"}]'


def own_client(app: FastAPI) -> httpx.AsyncClient:
    """A client with its own cookie jar (one per person signed in)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


async def tenant(conn: Conn, tenant_id: str) -> None:
    await conn.execute("INSERT INTO dl_tenants (tenant_id, name) VALUES (%s, %s) "
                       "ON CONFLICT DO NOTHING", (tenant_id, tenant_id.title()))


async def signed_in(app: FastAPI, conn: Conn, login: str, role: str,
                    dl_tenant: str | None = None) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A person of `role` (a delivery role: of `dl_tenant`) signed in on a new client;
    returns the client and its CSRF header."""
    made = own_client(app)
    if dl_tenant is None and role != "customer":
        password = await make_user(made, login, role, None)
        return made, await log_in(made, login, password)
    if dl_tenant is not None:
        await tenant(conn, dl_tenant)
    await conn.execute(
        "INSERT INTO users (user_id, login, password_hash, role, dl_tenant_id, "
        "must_change_password) VALUES (%s, %s, %s, %s, %s, false)",
        (f"u_{secrets.token_hex(6)}", login, hash_password(NEW_PASSWORD), role, dl_tenant))
    return made, await log_in(made, login, NEW_PASSWORD, change_to=None)


async def user_id(conn: Conn, login: str) -> str:
    async with conn.cursor() as cur:
        await cur.execute("SELECT user_id FROM users WHERE login = %s", (login,))
        row = await cur.fetchone()
    assert row is not None, login
    found: str = row[0]
    return found


async def move_clock(client: httpx.AsyncClient, to: datetime) -> None:
    """The platform clock (Python and SQL) at `to` (the test clock is on in tests)."""
    moved = await client.put("/v1/admin/clock", headers=ADMIN,
                             json={"offset_seconds": round(to.timestamp() - time.time())})
    assert moved.status_code == 204, moved.text


async def running_run(conn: Conn, at: datetime, timeout_tenths: int,
                      project_id: str = "P1") -> int:
    """A project of vendor `v1` with one active provider-side node entered at `at` whose clock
    runs (store.delivery.clock.start); returns its run id."""
    await tenant(conn, "v1")
    await conn.execute("INSERT INTO dl_templates (template_id, vendor_id, name, nodes) "
                       "VALUES ('T1', 'v1', 'T', %s) ON CONFLICT DO NOTHING", (NODES,))
    await conn.execute("INSERT INTO dl_products (product_id, product_no, vendor_id, name, "
                       "template_id) VALUES ('PR1', 'PR1', 'v1', 'P', 'T1') "
                       "ON CONFLICT DO NOTHING")
    await conn.execute("INSERT INTO dl_projects (project_id, order_no, product_id, template_id,"
                       " nodes, vendor_id, provider_id, customer_name) VALUES (%s, %s, 'PR1',"
                       " 'T1', %s, 'v1', 'v1', '客户')", (project_id, f"O-{project_id}", NODES))
    async with conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO dl_node_runs (project_id, epoch, node_key, kind, name, side, role, "
            "state, entered_at, timeout_tenths) VALUES (%s, 1, 'n1', 'confirm', '方案确认', "
            "'provider', '设计师', 'active', %s, %s) RETURNING run_id",
            (project_id, at, timeout_tenths))
        row = await cur.fetchone()
    assert row is not None
    run_id: int = row[0]
    await clock.start(conn, run_id, at)
    return run_id


async def deadline_of(conn: Conn, run_id: int) -> datetime | None:
    async with conn.cursor() as cur:
        await cur.execute("SELECT deadline_at FROM dl_node_runs WHERE run_id = %s", (run_id,))
        row = await cur.fetchone()
    assert row is not None
    found: datetime | None = row[0]
    return None if found is None else found.astimezone(UTC)
