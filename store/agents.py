"""Agents (G1-19…G1-21): the tree (an ltree `path` of agent numbers, migrations/0022), its
people's view of it, status changes and moves, and notifications to an agent's people.

Every state change writes its audit event (`store.audit`, C-08) in the same transaction. A
move rewrites the paths of the moved subtree in one statement; orders keep the chain they
snapshotted (G1-13, G1-21). Call it through `store.pricing.move_agent`, which also re-checks
the moved agent's cost prices against its new upstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from domain.pricing.agents import check_lines, check_move
from store import audit
from store.db import Conn
from store.errors import AlreadyExists, NotFound

AgentStatus = Literal["active", "disabled"]


@dataclass(frozen=True)
class Actor:
    """Who makes a change, for the audit trail: the key or user, its role, the request."""

    who: str
    role: str
    request_id: str | None = None

    def transition(self, kind: str, subject: str, from_state: str | None, to_state: str,
                   reason: str | None = None, **data: Any) -> audit.Transition:
        return audit.Transition(kind, subject, from_state, to_state, self.who, self.role,
                                reason, self.request_id, data)


@dataclass(frozen=True)
class Agent:
    agent_id: str
    agent_no: int
    name: str
    parent_id: str | None
    path: str
    status: AgentStatus
    business_lines: list[str]
    created_at: datetime
    updated_at: datetime

    @property
    def labels(self) -> tuple[str, ...]:
        """The path as agent numbers, top-level first."""
        return tuple(self.path.split("."))


@dataclass(frozen=True)
class Notification:
    notification_id: int
    agent_id: str
    channel: Literal["in_app", "email"]
    template: str
    data: dict[str, Any]
    status: str
    created_at: datetime


_INSERT = """
WITH n AS (SELECT nextval('agent_numbers') AS no)
INSERT INTO agents (agent_id, agent_no, name, parent_id, path, business_lines)
SELECT %(id)s, n.no, %(name)s, %(parent)s,
       coalesce((SELECT path FROM agents WHERE agent_id = %(parent)s), ''::ltree)
           || n.no::text::ltree, %(lines)s
FROM n RETURNING *
"""
_GET = "SELECT * FROM agents WHERE agent_id = %s"
_LOCK = "SELECT * FROM agents WHERE agent_id = %s FOR UPDATE"
_LIST = """
SELECT * FROM agents WHERE %(under)s::ltree IS NULL OR path <@ %(under)s::ltree
ORDER BY path
"""
_MOVE = """
UPDATE agents SET
    path = coalesce(%(prefix)s::ltree, ''::ltree) || subpath(path, nlevel(%(old)s::ltree) - 1),
    parent_id = CASE WHEN agent_id = %(id)s THEN %(parent)s ELSE parent_id END,
    updated_at = cp_now()
WHERE path <@ %(old)s::ltree
"""
_STATUS = "UPDATE agents SET status = %s, updated_at = cp_now() WHERE agent_id = %s RETURNING *"
_NOTIFY = """
INSERT INTO notifications (agent_id, channel, template, data, status) VALUES (%s, %s, %s, %s, %s)
"""
_NOTIFICATIONS = """
SELECT * FROM notifications WHERE agent_id = %s AND channel = 'in_app'
ORDER BY notification_id DESC LIMIT %s
"""


async def _one(conn: Conn, query: str, params: Any) -> Agent | None:
    async with conn.cursor(row_factory=class_row(Agent)) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def get_agent(conn: Conn, agent_id: str, *, lock: bool = False) -> Agent:
    found = await _one(conn, _LOCK if lock else _GET, (agent_id,))
    if found is None:
        raise NotFound(f"agent {agent_id!r}")
    return found


async def create_agent(conn: Conn, agent_id: str, name: str, parent_id: str | None,
                       lines: Sequence[str], actor: Actor) -> Agent:
    """A new agent, top-level or below `parent_id` (with lines among its parent's)."""
    async with conn.transaction():
        if parent_id is not None:
            parent = await get_agent(conn, parent_id, lock=True)
            check_lines(lines, parent.business_lines)
        try:
            made = await _one(conn, _INSERT, {"id": agent_id, "name": name,
                                              "parent": parent_id, "lines": list(lines)})
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"agent {agent_id!r}") from None
        if made is None:  # INSERT … RETURNING returns the row
            raise NotFound(f"agent {agent_id!r}")
        await audit.record(conn, actor.transition("agent", agent_id, None, "active", "created",
                                                  parent_id=parent_id, lines=list(lines)))
    return made


async def list_agents(conn: Conn, under: Agent | None) -> list[Agent]:
    """Every agent (`under` None), or `under` and its downstream, in tree order."""
    async with conn.cursor(row_factory=class_row(Agent)) as cur:
        await cur.execute(_LIST, {"under": None if under is None else under.path})
        return await cur.fetchall()


async def move_agent(conn: Conn, agent_id: str, parent_id: str | None, actor: Actor) -> Agent:
    """Move the agent (with its downstream) below `parent_id`, or to the top level (G1-21)."""
    async with conn.transaction():
        agent = await get_agent(conn, agent_id, lock=True)
        parent = None if parent_id is None else await get_agent(conn, parent_id, lock=True)
        check_move(agent.labels, None if parent is None else parent.labels)
        if parent is not None:
            check_lines(agent.business_lines, parent.business_lines)
        await conn.execute(_MOVE, {"prefix": None if parent is None else parent.path,
                                   "old": agent.path, "id": agent_id, "parent": parent_id})
        await audit.record(conn, actor.transition(
            "agent", agent_id, agent.status, agent.status, "moved",
            from_parent=agent.parent_id, to_parent=parent_id))
    return await get_agent(conn, agent_id)


async def set_status(conn: Conn, agent_id: str, status: AgentStatus, actor: Actor) -> Agent:
    """Enable or disable an agent (G1-20: disabled stops new sales through it and its
    downstream; nothing else changes). Setting the status it has changes nothing."""
    async with conn.transaction():
        agent = await get_agent(conn, agent_id, lock=True)
        if agent.status == status:
            return agent
        changed = await _one(conn, _STATUS, (status, agent_id))
        await audit.record(conn, actor.transition("agent", agent_id, agent.status, status))
    return changed or agent


async def notify(conn: Conn, agent_id: str, template: str, data: dict[str, Any]) -> None:
    """Tell an agent's people: an in-app message, and an email queued in the outbox."""
    async with conn.cursor() as cur:
        await cur.executemany(_NOTIFY, [(agent_id, "in_app", template, Jsonb(data), "unread"),
                                        (agent_id, "email", template, Jsonb(data), "pending")])


async def notifications(conn: Conn, agent_id: str, limit: int = 100) -> list[Notification]:
    """An agent's in-app notifications, newest first."""
    async with conn.cursor(row_factory=class_row(Notification)) as cur:
        await cur.execute(_NOTIFICATIONS, (agent_id, limit))
        return await cur.fetchall()
