"""A delivery project's rows as the engine reads them (I-38 … I-54): the project, its node
runs, the people acting on it and its flow log (I-50). The flow that writes them is
`store.delivery.projects`; the administrators' changes are `store.delivery.project_admin`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from psycopg.rows import class_row, tuple_row

from domain.delivery.nodes import Node, nodes_from_json, steps
from store.db import Conn
from store.errors import NotFound

T = TypeVar("T")

_PROJECT_COLUMNS = """project_id, order_no, business_no, product_id, template_id, nodes,
    vendor_id, provider_id, customer_user_id, customer_name, channel, order_id, status, epoch,
    claimed_by, claimed_department, pause_remark, evaluation, created_at, paused_at,
    completed_at, cancelled_at"""
_RUN_COLUMNS = """run_id, project_id, epoch, node_key, kind, name, side, role, state,
    operator_user_id, entered_at, done_at, done_by, timeout_tenths, worked_s, counting_since,
    deadline_at, deadline_unknown, timed_out_at, timeout_side, detail"""


@dataclass(frozen=True)
class Project:
    project_id: str
    order_no: str
    business_no: str
    product_id: str
    template_id: str
    nodes: list[dict[str, Any]]
    vendor_id: str
    provider_id: str | None
    customer_user_id: str | None
    customer_name: str
    channel: str
    order_id: str | None
    status: str
    epoch: int
    claimed_by: str | None
    claimed_department: str | None
    pause_remark: str | None
    evaluation: dict[str, Any] | None
    created_at: datetime
    paused_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None

    def step(self, key: str) -> Node:
        for node in steps(nodes_from_json(self.nodes)):
            if node.key == key:
                return node
        raise NotFound(f"node {key!r} of project {self.project_id!r}")

    @property
    def tree(self) -> list[Node]:
        return nodes_from_json(self.nodes)


@dataclass(frozen=True)
class Run:
    run_id: int
    project_id: str
    epoch: int
    node_key: str
    kind: str
    name: str
    side: str
    role: str | None
    state: str
    operator_user_id: str | None
    entered_at: datetime
    done_at: datetime | None
    done_by: str | None
    timeout_tenths: int
    worked_s: int
    counting_since: datetime | None
    deadline_at: datetime | None
    deadline_unknown: bool
    timed_out_at: datetime | None
    timeout_side: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class Person:
    user_id: str
    login: str
    role: str
    dl_tenant_id: str | None
    department_id: str | None
    display_name: str | None
    business_roles: list[str]
    max_load: int
    accepting: bool

    @property
    def name(self) -> str:
        return self.display_name or self.login


@dataclass(frozen=True)
class LogLine:
    log_id: int
    epoch: int
    node_key: str | None
    action: str
    actor_id: str | None
    actor_name: str
    actor_role: str
    remark: str
    at: datetime


_NOW = "SELECT cp_now()"
_EXISTING = "SELECT project_id FROM dl_projects WHERE order_no = %s"
# Column lists are constants of this module (S608: nothing from outside is formatted in).
_LOCK = f"SELECT {_PROJECT_COLUMNS} FROM dl_projects WHERE project_id = %s FOR UPDATE"  # noqa: S608
_GET = f"SELECT {_PROJECT_COLUMNS} FROM dl_projects WHERE project_id = %s"  # noqa: S608
_CURRENT = (f"SELECT {_RUN_COLUMNS} FROM dl_node_runs "  # noqa: S608
            "WHERE project_id = %s AND state IN ('active', 'queued') FOR UPDATE")
_RUNS = f"SELECT {_RUN_COLUMNS} FROM dl_node_runs WHERE project_id = %s ORDER BY run_id"  # noqa: S608
_RUN = f"SELECT {_RUN_COLUMNS} FROM dl_node_runs WHERE run_id = %s"  # noqa: S608
_LOG_LINES = """
SELECT log_id, epoch, node_key, action, actor_id, actor_name, actor_role, remark, at
FROM dl_project_log WHERE project_id = %s ORDER BY log_id
"""
_HELD = "SELECT count(*) FROM dl_holds WHERE user_id = %s AND released_at IS NULL"
_PERSON = """
SELECT user_id, login, role, dl_tenant_id, department_id, display_name, business_roles,
    max_load, accepting FROM users WHERE user_id = %s
"""


async def now(conn: Conn) -> datetime:
    """The platform clock as this transaction reads it (`cp_now()`)."""
    at: datetime = await scalar(conn, _NOW, ())
    return at


async def scalar(conn: Conn, query: str, params: tuple[Any, ...]) -> Any:
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(query, params)
        row = await cur.fetchone()
    return None if row is None else row[0]


async def _one(conn: Conn, cls: type[T], query: str, params: tuple[Any, ...],
               what: str) -> T:
    """The one row of `query` as a `cls`, or NotFound naming `what`."""
    async with conn.cursor(row_factory=class_row(cls)) as cur:
        await cur.execute(query, params)
        found = await cur.fetchone()
    if found is None:
        raise NotFound(what)
    return found


async def _all(conn: Conn, cls: type[T], query: str, params: tuple[Any, ...]) -> list[T]:
    async with conn.cursor(row_factory=class_row(cls)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def lock(conn: Conn, project_id: str) -> Project:
    """The project row, locked for the transaction (every action takes it first)."""
    return await _one(conn, Project, _LOCK, (project_id,), f"project {project_id!r}")


async def get_project(conn: Conn, project_id: str) -> Project:
    return await _one(conn, Project, _GET, (project_id,), f"project {project_id!r}")


async def project_by_order(conn: Conn, order_no: str) -> Project | None:
    project_id = await project_id_of(conn, order_no)
    return None if project_id is None else await get_project(conn, project_id)


async def project_id_of(conn: Conn, order_no: str) -> str | None:
    """The project of an order number (unique: one project per order)."""
    found = await scalar(conn, _EXISTING, (order_no,))
    return None if found is None else str(found)


async def current_run(conn: Conn, project_id: str) -> Run | None:
    """The project's current run (active or queued), locked."""
    found = await _all(conn, Run, _CURRENT, (project_id,))
    return found[0] if found else None


async def runs(conn: Conn, project_id: str) -> list[Run]:
    return await _all(conn, Run, _RUNS, (project_id,))


async def get_run(conn: Conn, run_id: int) -> Run:
    return await _one(conn, Run, _RUN, (run_id,), f"node run {run_id}")


async def log_lines(conn: Conn, project_id: str) -> list[LogLine]:
    """The flow log (I-50), every epoch, oldest first."""
    return await _all(conn, LogLine, _LOG_LINES, (project_id,))


async def person(conn: Conn, user_id: str) -> Person:
    return await _one(conn, Person, _PERSON, (user_id,), f"user {user_id!r}")


async def held(conn: Conn, user_id: str) -> int:
    """A staff member's current load: the live holds (I-34)."""
    count: int = await scalar(conn, _HELD, (user_id,))
    return count
