"""Delivery workflow fixtures (§6 I): tenants, staff and customers, a published template, a
product with weighted providers, message templates and requirement forms — written straight
into the test's database, so that engine tests need none of the other delivery APIs — and a
session for a delivery user on the in-process API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from psycopg.types.json import Jsonb

from api.sessions import SESSION_COOKIE
from store import users
from store.db import Conn

FORM = "f_test"
ASSIGN_PROVIDER: dict[str, Any] = {"key": "assign_provider", "kind": "assign_provider",
                                   "name": "分配服务商"}


def flow(*middle: dict[str, Any], complete: dict[str, Any] | None = None
         ) -> list[dict[str, Any]]:
    """A template's nodes: assign provider, `middle`, the complete-project node."""
    last = {"key": "done", "kind": "complete", "name": "项目验收", "rejectable": True,
            **(complete or {})}
    return [ASSIGN_PROVIDER, *middle, last]


# The usual flow: the customer's requirement, a designer assigned, a container of the design
# and the customer's confirmation, then the acceptance.
STANDARD: list[dict[str, Any]] = flow(
    {"key": "req", "kind": "submit_requirement", "name": "提交需求", "form_id": FORM},
    {"key": "pick", "kind": "assign", "name": "分配设计师", "role": "设计师"},
    {"key": "box", "kind": "container", "name": "设计", "children": [
        {"key": "draft", "kind": "general", "name": "设计稿", "role": "设计师", "upload": True,
         "timeout_days": "1"},
        {"key": "check", "kind": "confirm", "name": "方案确认", "side": "customer",
         "rejectable": True, "timeout_days": "0.5", "auto_advance": True}]})


async def tenant(conn: Conn, tenant_id: str, name: str | None = None) -> str:
    await conn.execute("INSERT INTO dl_tenants (tenant_id, name) VALUES (%s, %s) "
                       "ON CONFLICT DO NOTHING", (tenant_id, name or tenant_id.title()))
    return tenant_id


async def department(conn: Conn, provider_id: str, name: str) -> str:
    department_id = f"dep-{uuid.uuid4().hex[:8]}"
    await conn.execute("INSERT INTO dl_departments (department_id, provider_id, name) "
                       "VALUES (%s, %s, %s)", (department_id, provider_id, name))
    return department_id


async def staff(conn: Conn, login: str, tenant_id: str, roles: Sequence[str] = ("设计师",),
                *, max_load: int = 5, role: str = "provider_staff", accepting: bool = True,
                department_id: str | None = None) -> str:
    """A delivery user of `tenant_id` with business roles, max load and status."""
    user_id = f"u-{login}"
    await conn.execute(
        "INSERT INTO users (user_id, login, password_hash, role, dl_tenant_id, department_id, "
        "display_name, business_roles, max_load, accepting, must_change_password) "
        "VALUES (%s, %s, 'x', %s, %s, %s, %s, %s, %s, %s, false)",
        (user_id, f"{login}@{tenant_id}", role, tenant_id, department_id, login, list(roles),
         max_load,
         accepting))
    return user_id


async def customer(conn: Conn, login: str) -> str:
    user_id = f"u-{login}"
    await conn.execute("INSERT INTO users (user_id, login, password_hash, role, display_name, "
                       "must_change_password) VALUES (%s, %s, 'x', 'customer', %s, false)",
                       (user_id, f"{login}@customer", login))
    return user_id


async def set_staff(conn: Conn, user_id: str, *, max_load: int | None = None,
                    accepting: bool | None = None) -> None:
    await conn.execute("UPDATE users SET max_load = coalesce(%s, max_load), "
                       "accepting = coalesce(%s, accepting) WHERE user_id = %s",
                       (max_load, accepting, user_id))


async def template(conn: Conn, nodes: list[dict[str, Any]], vendor_id: str | None = None
                   ) -> str:
    """A published template of `nodes`."""
    template_id = f"tpl-{uuid.uuid4().hex[:8]}"
    await conn.execute(
        "INSERT INTO dl_templates (template_id, vendor_id, name, status, nodes, published_at) "
        "VALUES (%s, %s, %s, 'published', %s, cp_now())",
        (template_id, vendor_id, template_id, Jsonb(nodes)))
    return template_id


async def product(conn: Conn, template_id: str, vendor_id: str = "platform",
                  providers: Sequence[tuple[str, int, int]] = ()) -> str:
    """A product bound to the template with (provider, weight, max load) rows."""
    product_id = f"prd-{uuid.uuid4().hex[:8]}"
    await conn.execute("INSERT INTO dl_products (product_id, product_no, vendor_id, name, "
                       "template_id) VALUES (%s, %s, %s, %s, %s)",
                       (product_id, product_id, vendor_id, "服务 " + product_id, template_id))
    await set_providers(conn, product_id, providers)
    return product_id


async def set_providers(conn: Conn, product_id: str,
                        providers: Sequence[tuple[str, int, int]]) -> None:
    await conn.execute("DELETE FROM dl_product_providers WHERE product_id = %s", (product_id,))
    for provider_id, weight, max_load in providers:
        await conn.execute("INSERT INTO dl_product_providers VALUES (%s, %s, %s, %s)",
                           (product_id, provider_id, weight, max_load))


async def forms_and_messages(conn: Conn) -> None:
    """A requirement form and message templates (until migration 0202 seeds the real ones)."""
    await conn.execute("INSERT INTO dl_requirement_forms VALUES (%s, %s, %s) "
                       "ON CONFLICT DO NOTHING", (FORM, "测试需求表", Jsonb([{"name": "需求"}])))
    for name, receiver in (("测试-通知客户", "customer"), ("测试-通知操作人", "operator"),
                           ("测试-通知服务商", "provider_admin")):
        await conn.execute(
            "INSERT INTO dl_message_templates (name, node_kind, receiver, body_zh, body_en) "
            "VALUES (%s, 'any', %s, %s, %s) ON CONFLICT DO NOTHING",
            (name, receiver, "项目{project}（订单{order_no}，{customer}）：{node}",
             "Project {project} (order {order_no}, {customer}): {node}"))


async def log_in(client: httpx.AsyncClient, conn: Conn, user_id: str) -> dict[str, str]:
    """A console session for `user_id` on `client`; returns its CSRF header."""
    token, csrf = await users.start_session(conn, user_id, 3600.0)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return {"X-CSRF-Token": csrf}
