"""Delivery projects as the engine leaves them, written straight into the tables, for the
tests of the reads, files, messages and notes (tests/integration/test_delivery_views.py,
the console matrix and the browser test): two tenants, their people signed in, a product
with a four-step template and projects in every tab.

Tenant `vend` is a vendor that provides its own product; `rival` another vendor. Projects:
- `P-RUN`: in progress at 方案确认 (provider side), held by the designer, timed out (I-39);
- `P-CUST`: in progress at 提交需求 (customer side), after one change of provider (epoch 2);
- `P-DONE` completed, `P-PAUSE` paused, `P-RIVAL` the rival's (in progress)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI
from psycopg.types.json import Jsonb

from core.clock import now
from store import users

NODES: list[dict[str, Any]] = [
    {"key": "assign_provider", "kind": "assign_provider", "name": "分配服务商"},
    {"key": "n1", "kind": "submit_requirement", "name": "提交需求", "form_id": "f_basic"},
    {"key": "n2", "kind": "confirm", "name": "方案确认", "role": "设计师", "side": "provider",
     "timeout_days": "1", "rejectable": True},
    {"key": "n3", "kind": "complete", "name": "项目验收"},
]
# login → (role, tenant, business roles, display name)
PEOPLE = {
    "vend.admin": ("vendor_admin", "vend", ["厂商管理员", "服务商管理员"], "王厂商"),
    "vend.pm": ("vendor_pm", "vend", ["项目经理"], "李经理"),
    "prov.admin": ("provider_admin", "vend", ["服务商管理员"], "赵管理"),
    "designer": ("provider_staff", "vend", ["设计师"], "张设计"),
    "engineer": ("provider_staff", "vend", ["工程师"], "钱工程"),
    "buyer": ("customer", None, [], "孙客户"),
    "rival.admin": ("vendor_admin", "rival", ["厂商管理员"], "周对手"),
    "operator": ("platform_operator", None, [], "小二"),
    "root": ("admin", None, [], "管理员"),
}


@dataclass
class Person:
    client: httpx.AsyncClient
    csrf: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


async def seed(db_url: str) -> None:
    """The tenants, people, product and projects described above."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await conn.execute("INSERT INTO dl_tenants (tenant_id, name) VALUES"
                           " ('vend', '北京服务商'), ('rival', '河北服务商')")
        for login, (role, tenant, roles, name) in PEOPLE.items():
            await conn.execute(
                "INSERT INTO users (user_id, login, password_hash, role, dl_tenant_id,"
                " business_roles, display_name, mobile, landline, must_change_password,"
                " max_load) VALUES (%s, %s, 'x', %s, %s, %s, %s, %s, %s, false, 5)",
                (f"u-{login}", login, role, tenant, roles, name, "13800000000",
                 "010-12345678"))
        await conn.execute("INSERT INTO dl_requirement_forms VALUES ('f_basic', '基础需求表',"
                           " '[]'::jsonb) ON CONFLICT DO NOTHING")
        for tenant in ("vend", "rival"):
            await conn.execute(
                "INSERT INTO dl_templates (template_id, vendor_id, name, status, nodes,"
                " published_at) VALUES (%s, %s, '标准交付', 'published', %s, cp_now())",
                (f"t-{tenant}", tenant, Jsonb(NODES)))
            await conn.execute(
                "INSERT INTO dl_products (product_id, product_no, vendor_id, name, version,"
                " template_id) VALUES (%s, %s, %s, %s, 'v1', %s)",
                (f"prod-{tenant}", f"PN-{tenant}", tenant, f"物联网接入-{tenant}",
                 f"t-{tenant}"))
        await _projects(conn)


async def _project(conn: psycopg.AsyncConnection[tuple[object, ...]], project_id: str,
                   tenant: str, status: str, age_h: int, epoch: int = 1) -> None:
    at = now() - timedelta(hours=age_h)
    stamps = {"paused": "paused_at", "completed": "completed_at", "cancelled": "cancelled_at"}
    column = stamps.get(status)
    await conn.execute(
        "INSERT INTO dl_projects (project_id, order_no, business_no, product_id, template_id,"
        " nodes, vendor_id, provider_id, customer_user_id, customer_name, channel, status,"
        " epoch, created_at, pause_remark, paused_at, completed_at, cancelled_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'online', %s, %s, %s, %s,"
        " %s, %s, %s)",
        (project_id, f"ORD-{project_id}", f"BIZ-{project_id}", f"prod-{tenant}",
         f"t-{tenant}", Jsonb(NODES), tenant, tenant,
         "u-buyer" if tenant == "vend" else None, "孙客户" if tenant == "vend" else "对手客户",
         status, epoch, at, "等待客户资料" if status == "paused" else None,
         *[at if column == c else None for c in ("paused_at", "completed_at",
                                                  "cancelled_at")]))
    await conn.execute("INSERT INTO dl_project_log (project_id, epoch, action, actor_name, at)"
                       " VALUES (%s, 1, '项目开始', '系统', %s)", (project_id, at))


async def _run(conn: psycopg.AsyncConnection[tuple[object, ...]], project_id: str, key: str,
               state: str, *, epoch: int = 1, operator: str | None = None,
               timed_out: bool = False) -> None:
    node = next(n for n in NODES if n["key"] == key)
    side = {"assign_provider": "system", "submit_requirement": "customer",
            "complete": "customer"}.get(str(node["kind"]), "provider")
    at = now() - timedelta(hours=30)
    await conn.execute(
        "INSERT INTO dl_node_runs (project_id, epoch, node_key, kind, name, side, role, state,"
        " operator_user_id, entered_at, done_at, deadline_at, timed_out_at, timeout_side)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (project_id, epoch, key, node["kind"], node["name"], side, node.get("role"), state,
         operator, at, at if state in ("done", "rejected") else None,
         at + timedelta(hours=24) if timed_out else None,
         at + timedelta(hours=24) if timed_out else None, side if timed_out else None))


async def _projects(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    for project_id, tenant, status, age in (("P-RUN", "vend", "in_progress", 5),
                                            ("P-CUST", "vend", "in_progress", 4),
                                            ("P-DONE", "vend", "completed", 3),
                                            ("P-PAUSE", "vend", "paused", 2),
                                            ("P-RIVAL", "rival", "in_progress", 1)):
        await _project(conn, project_id, tenant, status, age)
    for project_id in ("P-RUN", "P-DONE", "P-PAUSE", "P-RIVAL"):
        await _run(conn, project_id, "assign_provider", "done")
        await _run(conn, project_id, "n1", "done")
    await _run(conn, "P-RUN", "n2", "active", operator="u-designer", timed_out=True)
    await _run(conn, "P-PAUSE", "n2", "active", operator="u-designer")
    await _run(conn, "P-RIVAL", "n2", "active")
    await _run(conn, "P-DONE", "n2", "done")
    await _run(conn, "P-DONE", "n3", "done")
    await conn.execute("INSERT INTO dl_holds (project_id, epoch, user_id, role, node_key)"
                       " VALUES ('P-RUN', 1, 'u-designer', '设计师', 'n2')")
    await conn.execute(
        "INSERT INTO dl_requirements (project_id, node_key, form_id, answers, submitted_by)"
        " VALUES ('P-RUN', 'n1', 'f_basic', %s, 'u-buyer')",
        (Jsonb({"规模": "1000张", "contact": "王五"}),))
    for action, actor, name in (("进入提交需求", None, "系统"),
                                ("提交需求已完成", "u-buyer", "孙客户"),
                                ("进入方案确认", None, "系统")):
        await conn.execute("INSERT INTO dl_project_log (project_id, epoch, node_key, action,"
                           " actor_id, actor_name) VALUES ('P-RUN', 1, 'n1', %s, %s, %s)",
                           (action, actor, name))
    # P-CUST: the provider changed once (epoch 2); the epoch-1 log stays behind the link.
    await conn.execute("UPDATE dl_projects SET epoch = 2 WHERE project_id = 'P-CUST'")
    await _run(conn, "P-CUST", "assign_provider", "done", epoch=1)
    await _run(conn, "P-CUST", "n1", "abandoned", epoch=1)
    await conn.execute("INSERT INTO dl_project_log (project_id, epoch, action, actor_id,"
                       " actor_name, actor_role, remark) VALUES ('P-CUST', 2,"
                       " '服务商由北京服务商更换为北京服务商', 'u-vend.admin', '王厂商',"
                       " '厂商管理员', '测试')")
    await _run(conn, "P-CUST", "assign_provider", "done", epoch=2)
    await _run(conn, "P-CUST", "n1", "active", epoch=2)
    await conn.execute("INSERT INTO dl_project_log (project_id, epoch, node_key, action,"
                       " actor_id, actor_name, actor_role) VALUES ('P-DONE', 1, 'n2',"
                       " '方案确认已完成', 'u-designer', '张设计', '设计师')")


async def signed_in(app: FastAPI, db_url: str, login: str) -> Person:
    """A client of the app with `login`'s session (pages in English)."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        token, csrf = await users.start_session(conn, f"u-{login}", 3600)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    client.cookies.set("cardpulse_session", token)
    client.cookies.set("cardpulse_lang", "en")
    return Person(client, csrf, f"u-{login}")


async def queued(db_url: str) -> None:
    """`P-WAIT`: `vend`'s project waiting at the assign-provider node in the provider queue
    (I-35: no provider configured)."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await _project(conn, "P-WAIT", "vend", "in_progress", 6)
        await conn.execute("UPDATE dl_projects SET provider_id = NULL"
                           " WHERE project_id = 'P-WAIT'")
        await _run(conn, "P-WAIT", "assign_provider", "queued")
        await conn.execute("INSERT INTO dl_queue (project_id, kind, node_key, reason) VALUES"
                           " ('P-WAIT', 'provider', 'assign_provider', '产品未配置服务商')")
