"""Reads of delivery projects for people (I-38, I-39, I-46, I-50, I-52, I-53, I-35/I-36 lists):
the project list by tab with filters and keyset pages, one project's detail, my projects,
purchased services and the queue lists. Every read is scoped by `domain.delivery.views.Scope`
in SQL, so a project outside the scope is simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row

from domain.delivery.views import Scope, Tab
from store.db import Conn
from store.errors import NotFound

MAX_PAGE = 500

# Who the current run waits for (I-52 待处理): its operator; with none, any user of the provider
# whose business roles hold the node's role (服务商管理员: its admins); the customer of a
# customer node.
_WAITS_FOR_ME = """
(r.state = 'active' AND p.status = 'in_progress' AND (
   r.operator_user_id = %(me)s
   OR (r.operator_user_id IS NULL AND r.side = 'provider' AND p.provider_id = %(tenant)s
       AND EXISTS (SELECT 1 FROM users me WHERE me.user_id = %(me)s
                   AND (r.role = ANY (me.business_roles)
                        OR (r.role = '服务商管理员'
                            AND me.role IN ('provider_admin', 'vendor_admin')))))
   OR (r.side = 'customer' AND p.customer_user_id = %(me)s)))
"""
# What staff see: projects they hold or held, acted on, claimed (or their department
# claimed), or that wait for them.
_STAFF = f"""
(EXISTS (SELECT 1 FROM dl_holds h WHERE h.project_id = p.project_id AND h.user_id = %(me)s)
 OR EXISTS (SELECT 1 FROM dl_project_log l WHERE l.project_id = p.project_id
            AND l.actor_id = %(me)s)
 OR EXISTS (SELECT 1 FROM dl_node_runs o WHERE o.project_id = p.project_id
            AND o.operator_user_id = %(me)s)
 OR p.claimed_by = %(me)s
 OR p.claimed_department = (SELECT department_id FROM users WHERE user_id = %(me)s)
 OR {_WAITS_FOR_ME})
"""  # noqa: S608 - constants only
_SCOPE = f"""
(%(kind)s = 'all'
 OR (%(kind)s IN ('vendor', 'vendor_provider') AND p.vendor_id = %(tenant)s)
 OR (%(kind)s IN ('vendor_provider', 'provider') AND p.provider_id = %(tenant)s)
 OR (%(kind)s = 'staff' AND p.provider_id = %(tenant)s AND {_STAFF})
 OR (%(kind)s = 'customer' AND p.customer_user_id = %(me)s))
"""
_ROW = """
SELECT p.project_id, p.order_no, p.business_no, p.product_id, pr.product_no,
       pr.name AS product_name, pr.version, pr.kind AS product_kind, p.channel, p.created_at,
       p.customer_name, p.customer_user_id, p.vendor_id, vt.name AS vendor_name,
       p.provider_id, pt.name AS provider_name, p.status, p.epoch, p.order_id,
       p.pause_remark, p.paused_at, p.completed_at, p.cancelled_at, p.evaluation,
       r.run_id, r.node_key, r.name AS node_name, r.kind AS node_kind, r.side AS node_side,
       r.role AS node_role, r.state AS node_state, r.entered_at AS node_entered_at,
       r.operator_user_id, coalesce(ou.display_name, ou.login) AS operator_name,
       r.deadline_at, r.timed_out_at, r.timeout_side
FROM dl_projects p
JOIN dl_products pr ON pr.product_id = p.product_id
JOIN dl_tenants vt ON vt.tenant_id = p.vendor_id
LEFT JOIN dl_tenants pt ON pt.tenant_id = p.provider_id
LEFT JOIN dl_node_runs r ON r.project_id = p.project_id AND r.state IN ('active', 'queued')
LEFT JOIN users ou ON ou.user_id = r.operator_user_id
"""
_FILTERS = """
  AND (%(order_no)s::text IS NULL OR p.order_no ILIKE '%%' || %(order_no)s || '%%')
  AND (%(provider)s::text IS NULL OR p.provider_id = %(provider)s
       OR pt.name ILIKE '%%' || %(provider)s || '%%')
  AND (%(product)s::text IS NULL OR pr.product_no = %(product)s
       OR pr.name ILIKE '%%' || %(product)s || '%%')
  AND (%(customer)s::text IS NULL OR p.customer_name ILIKE '%%' || %(customer)s || '%%')
  AND (%(after_at)s::timestamptz IS NULL
       OR (p.created_at, p.project_id) < (%(after_at)s, %(after_id)s))
"""
_LIST = _ROW + f"WHERE p.status = %(tab)s AND {_SCOPE} {_FILTERS}" + """
ORDER BY p.created_at DESC, p.project_id DESC LIMIT %(limit)s
"""
_MINE = _ROW + f"""
WHERE p.provider_id = %(tenant)s AND CASE WHEN %(tab)s = 'pending' THEN {_WAITS_FOR_ME}
  ELSE EXISTS (SELECT 1 FROM dl_project_log l WHERE l.project_id = p.project_id
               AND l.actor_id = %(me)s) END
{_FILTERS}
ORDER BY p.created_at DESC, p.project_id DESC LIMIT %(limit)s
"""  # noqa: S608 - constants only
_PURCHASED = _ROW + f"""
WHERE p.customer_user_id = %(me)s {_FILTERS}
ORDER BY p.created_at DESC, p.project_id DESC LIMIT %(limit)s
"""
_ONE = _ROW + f"WHERE p.project_id = %(project)s AND {_SCOPE}"
_WAITS = f"""
SELECT EXISTS (SELECT 1 FROM dl_projects p JOIN dl_node_runs r ON r.project_id = p.project_id
               WHERE p.project_id = %(project)s AND {_WAITS_FOR_ME})
"""  # noqa: S608 - constants only


@dataclass(frozen=True)
class Filters:
    """The list filters of I-38 / I-52 (substring matches; None = any) and the keyset."""

    order_no: str | None = None
    provider: str | None = None  # a provider id, or part of its name
    product: str | None = None  # a product number, or part of its name
    customer: str | None = None  # part of the customer's name
    after: tuple[datetime, str] | None = None  # (created_at, project_id) of the last row seen

    def params(self) -> dict[str, Any]:
        return {"order_no": self.order_no or None, "provider": self.provider or None,
                "product": self.product or None, "customer": self.customer or None,
                "after_at": self.after[0] if self.after else None,
                "after_id": self.after[1] if self.after else None}


@dataclass(frozen=True)
class ProjectRow:
    """A project as its list shows it (I-38), with its current node and timeout (I-39)."""

    project_id: str
    order_no: str
    business_no: str
    product_id: str
    product_no: str
    product_name: str
    version: str
    product_kind: str
    channel: str
    created_at: datetime
    customer_name: str
    customer_user_id: str | None
    vendor_id: str
    vendor_name: str
    provider_id: str | None
    provider_name: str | None
    status: str
    epoch: int
    order_id: str | None
    pause_remark: str | None
    paused_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    evaluation: dict[str, Any] | None
    run_id: int | None
    node_key: str | None
    node_name: str | None
    node_kind: str | None
    node_side: str | None
    node_role: str | None
    node_state: str | None
    node_entered_at: datetime | None
    operator_user_id: str | None
    operator_name: str | None
    deadline_at: datetime | None
    timed_out_at: datetime | None
    timeout_side: str | None


def _scope(scope: Scope) -> dict[str, Any]:
    return {"kind": scope.kind, "tenant": scope.tenant_id, "me": scope.user_id}


async def _rows(conn: Conn, query: str, params: dict[str, Any]) -> list[ProjectRow]:
    async with conn.cursor(row_factory=class_row(ProjectRow)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def projects(conn: Conn, scope: Scope, tab: Tab, where: Filters, limit: int
                   ) -> list[ProjectRow]:
    """One page of the tab's projects in the scope, newest first (I-38)."""
    return await _rows(conn, _LIST, {**_scope(scope), **where.params(), "tab": tab,
                                     "limit": limit})


async def my_projects(conn: Conn, user_id: str, tenant_id: str, tab: str, where: Filters,
                      limit: int) -> list[ProjectRow]:
    """I-52: the projects of my provider whose current node waits for me (pending), or on
    which I have acted (done)."""
    return await _rows(conn, _MINE, {"me": user_id, "tenant": tenant_id, "tab": tab,
                                     **where.params(), "limit": limit})


async def purchased(conn: Conn, user_id: str, where: Filters, limit: int) -> list[ProjectRow]:
    """I-53: the projects this account bought."""
    return await _rows(conn, _PURCHASED, {"me": user_id, **where.params(), "limit": limit})


async def project(conn: Conn, scope: Scope, project_id: str) -> ProjectRow:
    """One project in the scope (outside it: not found, X-03)."""
    found = await _rows(conn, _ONE, {**_scope(scope), "project": project_id})
    if not found:
        raise NotFound(f"project {project_id!r}")
    return found[0]


async def waits_for(conn: Conn, project_id: str, user_id: str, tenant_id: str | None) -> bool:
    """Whether the project's current node waits for this person (I-47, I-51, I-52)."""
    cur = await conn.execute(_WAITS, {"project": project_id, "me": user_id,
                                      "tenant": tenant_id})
    row = await cur.fetchone()
    return bool(row and row[0])


_QUEUE = """
SELECT q.project_id, p.order_no, p.product_id, pr.name AS product_name, pr.product_no,
       p.customer_name,
       coalesce(q.provider_id, p.provider_id) AS provider_id, pt.name AS provider_name,
       q.kind, q.node_key, q.reason, q.queued_at, q.last_attempt_at
FROM dl_queue q
JOIN dl_projects p ON p.project_id = q.project_id
JOIN dl_products pr ON pr.product_id = p.product_id
LEFT JOIN dl_tenants pt ON pt.tenant_id = coalesce(q.provider_id, p.provider_id)
WHERE q.kind = %(queue)s
  AND (%(kind)s = 'all' OR (%(kind)s = 'vendor' AND p.vendor_id = %(tenant)s)
       OR (%(kind)s = 'provider' AND coalesce(q.provider_id, p.provider_id) = %(tenant)s))
  AND (%(order_no)s::text IS NULL OR p.order_no ILIKE '%%' || %(order_no)s || '%%')
  AND (%(provider)s::text IS NULL OR pt.name ILIKE '%%' || %(provider)s || '%%'
       OR pt.tenant_id = %(provider)s)
ORDER BY q.queued_at, q.project_id LIMIT %(limit)s
"""


@dataclass(frozen=True)
class QueueRow:
    """A queued project as the 排队情况 list shows it (I-35, I-36)."""

    project_id: str
    order_no: str
    product_id: str
    product_name: str
    product_no: str
    customer_name: str
    provider_id: str | None
    provider_name: str | None
    kind: str
    node_key: str
    reason: str
    queued_at: datetime
    last_attempt_at: datetime


async def queue(conn: Conn, scope: Scope, kind: str, order_no: str | None,
                provider: str | None, limit: int = MAX_PAGE) -> list[QueueRow]:
    """The queue of `kind` in the scope, oldest first (the order it is served, I-37)."""
    async with conn.cursor(row_factory=class_row(QueueRow)) as cur:
        await cur.execute(_QUEUE, {**_scope(scope), "queue": kind, "order_no": order_no or None,
                                   "provider": provider or None, "limit": limit})
        return await cur.fetchall()


_STAFF_CHOICES = """
SELECT u.user_id, coalesce(u.display_name, u.login) AS name
FROM users u JOIN dl_projects p ON p.provider_id = u.dl_tenant_id
WHERE p.project_id = %(project)s AND %(role)s = ANY (u.business_roles)
  AND u.role IN ('provider_admin', 'provider_staff', 'vendor_admin')
  AND u.user_id IS DISTINCT FROM %(current)s
ORDER BY name
"""
_PROVIDER_CHOICES = """
SELECT t.tenant_id AS user_id, t.name
FROM dl_projects p JOIN dl_product_providers pp ON pp.product_id = p.product_id
JOIN dl_tenants t ON t.tenant_id = pp.provider_id
WHERE p.project_id = %(project)s AND pp.provider_id IS DISTINCT FROM p.provider_id
ORDER BY t.name
"""
_FORM = "SELECT fields FROM dl_requirement_forms WHERE form_id = %s"


@dataclass(frozen=True)
class Choice:
    """Someone (or some provider) a change may pick: its id and name."""

    user_id: str
    name: str


async def operator_choices(conn: Conn, project_id: str, role: str,
                           current: str | None) -> list[Choice]:
    """I-45: the provider's people with the current node's role (the engine judges loads)."""
    async with conn.cursor(row_factory=class_row(Choice)) as cur:
        await cur.execute(_STAFF_CHOICES, {"project": project_id, "role": role,
                                           "current": current})
        return await cur.fetchall()


async def provider_choices(conn: Conn, project_id: str) -> list[Choice]:
    """I-44: the product's other configured providers (the engine judges capacity)."""
    async with conn.cursor(row_factory=class_row(Choice)) as cur:
        await cur.execute(_PROVIDER_CHOICES, {"project": project_id})
        return await cur.fetchall()


async def form_fields(conn: Conn, form_id: str) -> list[dict[str, Any]]:
    """The requirement form's fields (I-16), as dl_requirement_forms keeps them."""
    row = await (await conn.execute(_FORM, (form_id,))).fetchone()
    return list(row[0]) if row else []
