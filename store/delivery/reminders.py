"""Node reminders (I-20, I-42, X-04): on a trigger, each matching reminder row of the node is
rendered from its message template (`dl_message_templates`, placeholders {project} {node}
{order_no} {customer}) into `dl_notifications` — one 'inbox' row per resolved user, one
'email' row per resolved user who has an address (sent by `streams.delivery_email`), and one
'webhook' row announced as an outbox event `delivery_reminder`. The table's unique key makes
a repeated trigger (a retried timer, a replayed action) a no-op.

The outbox topic is chosen by the composition roots (`publish_to`); without one, the webhook
row is recorded only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row, tuple_row

from domain.delivery.nodes import Node, nodes_from_json, steps
from store import outbox
from store.db import Conn

_TOPIC: dict[str, str] = {}
_CONTEXT = """
SELECT p.project_id, p.order_no, p.customer_name, p.customer_user_id, p.provider_id,
       p.vendor_id, p.nodes, r.node_key, r.name, r.operator_user_id, r.role
FROM dl_node_runs r JOIN dl_projects p USING (project_id) WHERE r.run_id = %s
"""
_TEMPLATE = "SELECT body_zh, body_en FROM dl_message_templates WHERE name = %s"
_ELIGIBLE = """
SELECT user_id FROM users WHERE dl_tenant_id = %s AND %s = ANY(business_roles) ORDER BY user_id
"""
_ADMINS = """
SELECT user_id FROM users WHERE dl_tenant_id = %s AND role = ANY(%s) ORDER BY user_id
"""
_INSERT = """
INSERT INTO dl_notifications (project_id, run_id, trigger, template_name, receiver, user_id,
    channel, body_zh, body_en)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING RETURNING notification_id
"""
# The email copy of a person's reminder, if the person has an address.
_INSERT_EMAIL = """
INSERT INTO dl_notifications (project_id, run_id, trigger, template_name, receiver, user_id,
    channel, body_zh, body_en)
SELECT %s, %s, %s, %s, %s, user_id, 'email', %s, %s FROM users
WHERE user_id = %s AND email IS NOT NULL
ON CONFLICT DO NOTHING RETURNING notification_id
"""
_OF_PROJECT = """
SELECT notification_id, run_id, trigger, template_name, receiver, user_id, channel, body_zh,
    body_en, created_at FROM dl_notifications WHERE project_id = %s ORDER BY notification_id
"""


@dataclass(frozen=True)
class Notification:
    notification_id: int
    run_id: int | None
    trigger: str
    template_name: str
    receiver: str
    user_id: str | None
    channel: str
    body_zh: str
    body_en: str
    created_at: datetime


async def notifications(conn: Conn, project_id: str) -> list[Notification]:
    """Every reminder recorded for a project, oldest first."""
    async with conn.cursor(row_factory=class_row(Notification)) as cur:
        await cur.execute(_OF_PROJECT, (project_id,))
        return await cur.fetchall()


def publish_to(topic: str | None) -> None:
    """Announce webhook reminders on `topic` (called once by each process's root); None:
    record them only."""
    if topic is None:
        _TOPIC.clear()
    else:
        _TOPIC["topic"] = topic


def render(body: str, values: dict[str, str]) -> str:
    out = body
    for name, value in values.items():
        out = out.replace("{" + name + "}", value)
    return out


async def _rows(conn: Conn, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _receivers(conn: Conn, receiver: str, ctx: tuple[Any, ...]) -> list[str]:
    _pid, _no, _cust, customer, provider, vendor, _n, _k, _name, operator, role = ctx
    if receiver == "customer":
        return [customer] if customer else []
    if receiver == "operator" and operator:
        return [operator]
    if receiver == "operator" and provider and role:  # nobody holds it: whoever may act
        return [r[0] for r in await _rows(conn, _ELIGIBLE, (provider, role))]
    if receiver == "provider_admin" and provider:
        return [r[0] for r in await _rows(conn, _ADMINS, (provider, ["provider_admin",
                                                                     "vendor_admin"]))]
    if receiver == "vendor_admin":
        return [r[0] for r in await _rows(conn, _ADMINS, (vendor, ["vendor_admin"]))]
    return []


def _node(nodes: list[dict[str, Any]], key: str) -> Node | None:
    return next((n for n in steps(nodes_from_json(nodes)) if n.key == key), None)


async def fire(conn: Conn, project_id: str, run_id: int, trigger: str) -> int:
    """Record the node's reminders for `trigger`; returns how many rows were new. The
    operator of a node nobody holds (a claim node, I-14) is everyone who may act on it."""
    found = await _rows(conn, _CONTEXT, (run_id,))
    if not found:
        return 0
    ctx = found[0]
    node = _node(ctx[6], ctx[7])
    if node is None:
        return 0
    values = {"project": ctx[0], "node": ctx[8], "order_no": ctx[1], "customer": ctx[2]}
    made = 0
    for reminder in (r for r in node.reminders if r.trigger == trigger):
        template = await _rows(conn, _TEMPLATE, (reminder.template,))
        if not template:
            continue
        zh, en = render(template[0][0], values), render(template[0][1], values)
        for user_id in await _receivers(conn, reminder.receiver, ctx):
            made += len(await _rows(conn, _INSERT, (project_id, run_id, trigger,
                                                    reminder.template, reminder.receiver,
                                                    user_id, "inbox", zh, en)))
            made += len(await _rows(conn, _INSERT_EMAIL, (project_id, run_id, trigger,
                                                          reminder.template,
                                                          reminder.receiver, zh, en,
                                                          user_id)))
        hook = await _rows(conn, _INSERT, (project_id, run_id, trigger, reminder.template,
                                           reminder.receiver, None, "webhook", zh, en))
        if hook and "topic" in _TOPIC:
            await outbox.enqueue(conn, outbox.NewEvent(
                f"delivery-reminder:{hook[0][0]}", _TOPIC["topic"], project_id,
                "delivery_reminder", {"project_id": project_id, "order_no": ctx[1],
                                      "node": ctx[8], "trigger": trigger,
                                      "receiver": reminder.receiver,
                                      "template": reminder.template,
                                      "body_zh": zh, "body_en": en}))
        made += len(hook)
    return made
