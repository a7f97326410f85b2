"""Delivery rows with chosen timestamps, written straight into the tables, for the dashboard's
tests (I-55 … I-60): a project's creation, completion, pause, cancellation and timed-out node
runs happen at instants the engine would only reach by waiting (people and sessions:
`tests.support.delivery`)."""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncConnection

TEMPLATE = "tpl-dash"


async def tenant(conn: AsyncConnection, tenant_id: str) -> None:
    await conn.execute("INSERT INTO dl_tenants (tenant_id, name) VALUES (%s, %s)"
                       " ON CONFLICT DO NOTHING", (tenant_id, tenant_id.upper()))


async def product(conn: AsyncConnection, product_id: str, vendor_id: str) -> None:
    """A service product of `vendor_id` (made, with the vendor, if new) on a published
    template."""
    await tenant(conn, vendor_id)
    await conn.execute(
        "INSERT INTO dl_templates (template_id, name, status, nodes, published_at)"
        " VALUES (%s, 'dashboard', 'published', '[]', cp_now()) ON CONFLICT DO NOTHING",
        (TEMPLATE,))
    await conn.execute(
        "INSERT INTO dl_products (product_id, product_no, vendor_id, name, template_id)"
        " VALUES (%s, %s, %s, %s, %s)",
        (product_id, f"NO-{product_id}", vendor_id, f"Product {product_id}", TEMPLATE))


async def provider(conn: AsyncConnection, product_id: str, provider_id: str,
                   max_load: int) -> None:
    await tenant(conn, provider_id)
    await conn.execute("INSERT INTO dl_product_providers (product_id, provider_id, weight,"
                       " max_load) VALUES (%s, %s, 10, %s)", (product_id, provider_id, max_load))


async def project(conn: AsyncConnection, project_id: str, product_id: str, *,
                  created_at: datetime, provider_id: str | None = None,
                  status: str = "in_progress", at: datetime | None = None,
                  count: int = 1) -> None:
    """`count` projects (ids `project_id`, `project_id-2`, …) of the product's vendor; `at` is
    the instant of the status (completed_at, paused_at or cancelled_at)."""
    if provider_id is not None:
        await tenant(conn, provider_id)
    ends = {s: at if status == s else None for s in ("completed", "paused", "cancelled")}
    await conn.execute(
        "INSERT INTO dl_projects (project_id, order_no, product_id, template_id, nodes,"
        " vendor_id, provider_id, customer_name, status, created_at, completed_at, paused_at,"
        " cancelled_at)"
        " SELECT CASE WHEN n = 1 THEN %(id)s ELSE %(id)s || '-' || n END,"
        "        'ORD-' || %(id)s || '-' || n, p.product_id, p.template_id, '[]', p.vendor_id,"
        "        %(provider)s, 'customer', %(status)s, %(created)s, %(completed)s, %(paused)s,"
        "        %(cancelled)s"
        " FROM dl_products p, generate_series(1, %(count)s) n WHERE p.product_id = %(product)s",
        {"id": project_id, "product": product_id, "provider": provider_id, "status": status,
         "created": created_at, "completed": ends["completed"], "paused": ends["paused"],
         "cancelled": ends["cancelled"], "count": count})


async def node_run(conn: AsyncConnection, project_id: str, *, entered_at: datetime,
                   timed_out_at: datetime | None = None, done_at: datetime | None = None
                   ) -> None:
    """A provider-side node run of the project: current (active) unless `done_at`."""
    await conn.execute(
        "INSERT INTO dl_node_runs (project_id, epoch, node_key, kind, name, side, state,"
        " entered_at, done_at, timed_out_at, timeout_side) VALUES (%s, 1, 'n1', 'general',"
        " 'work', 'provider', %s, %s, %s, %s, %s)",
        (project_id, "active" if done_at is None else "done", entered_at, done_at,
         timed_out_at, "provider" if timed_out_at is not None else None))


async def logged(conn: AsyncConnection, project_id: str, action: str, at: datetime) -> None:
    """A line of the project's flow log (I-50), e.g. 暂停项目 / 启动项目."""
    await conn.execute("INSERT INTO dl_project_log (project_id, epoch, action, actor_name, at)"
                       " VALUES (%s, 1, %s, '系统', %s)", (project_id, action, at))
