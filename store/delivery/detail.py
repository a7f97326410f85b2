"""One project's detail page (I-46, I-50): its steps with their states, its provider-side
operators with their contacts, the requirement forms submitted, and the flow log — the current
epoch's, and the earlier epochs' kept behind "查看变更前操作记录" (I-44)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.rows import class_row

from domain.delivery.nodes import nodes_from_json
from domain.delivery.views import RunFact, Scope, Step, step_states
from store.db import Conn
from store.delivery import views
from store.delivery.project_rows import LogLine
from store.delivery.views import ProjectRow

_NODES = "SELECT nodes FROM dl_projects WHERE project_id = %s"
_RUNS = """
SELECT node_key, state, side, entered_at, done_at FROM dl_node_runs
WHERE project_id = %s AND epoch = %s ORDER BY run_id
"""
# Provider-side people of the current epoch: holders (live — or, once the project is
# completed, everyone who held a step, so the delivered project still names its people), the
# current operator, the claimer, with their contacts (I-46).
_OPERATORS = """
SELECT u.user_id, coalesce(u.display_name, u.login) AS name, u.business_roles,
       coalesce(u.landline, '') AS landline, coalesce(u.mobile, '') AS mobile,
       array_agg(DISTINCT w.role) FILTER (WHERE w.role IS NOT NULL) AS holds
FROM (SELECT h.user_id, h.role FROM dl_holds h JOIN dl_projects p USING (project_id)
      WHERE h.project_id = %(p)s AND h.epoch = %(e)s
        AND (h.released_at IS NULL OR p.status = 'completed')
      UNION ALL
      SELECT r.operator_user_id, r.role FROM dl_node_runs r
      WHERE r.project_id = %(p)s AND r.state IN ('active', 'queued')
        AND r.operator_user_id IS NOT NULL AND r.side = 'provider'
      UNION ALL
      SELECT p.claimed_by, NULL FROM dl_projects p
      WHERE p.project_id = %(p)s AND p.claimed_by IS NOT NULL) w
JOIN users u ON u.user_id = w.user_id
GROUP BY u.user_id ORDER BY name
"""
_LOG = """
SELECT log_id, epoch, node_key, action, actor_id, actor_name, actor_role, remark, at
FROM dl_project_log WHERE project_id = %s ORDER BY log_id
"""
_REQUIREMENTS = """
SELECT q.node_key, q.form_id, f.name AS form_name, f.fields, q.answers, q.submitted_by,
       q.submitted_at
FROM dl_requirements q JOIN dl_requirement_forms f ON f.form_id = q.form_id
WHERE q.project_id = %s ORDER BY q.submitted_at
"""


@dataclass(frozen=True)
class Operator:
    user_id: str
    name: str
    business_roles: list[str]
    landline: str
    mobile: str
    holds: list[str] | None


@dataclass(frozen=True)
class Requirement:
    node_key: str
    form_id: str
    form_name: str
    fields: list[dict[str, Any]]  # the form's fields, for their labels (I-16)
    answers: dict[str, Any]
    submitted_by: str
    submitted_at: datetime


@dataclass(frozen=True)
class Detail:
    project: ProjectRow
    steps: list[Step]
    operators: list[Operator]
    requirements: list[Requirement]
    log: list[LogLine]  # the current epoch's
    earlier_log: list[LogLine] = field(default_factory=list)  # before provider changes


async def detail(conn: Conn, scope: Scope, project_id: str) -> Detail:
    """The project's detail, if it is in the scope (else NotFound)."""
    row = await views.project(conn, scope, project_id)
    nodes = (await (await conn.execute(_NODES, (project_id,))).fetchone() or ([],))[0]
    async with conn.cursor(row_factory=class_row(RunFact)) as cur:
        await cur.execute(_RUNS, (project_id, row.epoch))
        runs = await cur.fetchall()
    async with conn.cursor(row_factory=class_row(Operator)) as cur:
        await cur.execute(_OPERATORS, {"p": project_id, "e": row.epoch})
        operators = await cur.fetchall()
    async with conn.cursor(row_factory=class_row(Requirement)) as cur:
        await cur.execute(_REQUIREMENTS, (project_id,))
        requirements = await cur.fetchall()
    async with conn.cursor(row_factory=class_row(LogLine)) as cur:
        await cur.execute(_LOG, (project_id,))
        log = await cur.fetchall()
    return Detail(row, step_states(nodes_from_json(nodes), runs), operators, requirements,
                  [line for line in log if line.epoch == row.epoch],
                  [line for line in log if line.epoch != row.epoch])


async def project_nodes(conn: Conn, project_id: str) -> list[dict[str, Any]]:
    """The template nodes the project pinned (dl_projects.nodes)."""
    row = await (await conn.execute(_NODES, (project_id,))).fetchone()
    return list(row[0]) if row else []
