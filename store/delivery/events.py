"""Delivery-workflow events on the delivery topic (`Settings.delivery_topic`), written to the
transactional outbox (store/outbox.py) in the transaction of the change they announce, so an
event exists exactly when its change commits; the worker's relay sends them keyed by project
(in order per project). The engine calls `publish_event` at its flow-log points.

Events (`kind` of the business event): `project_started`, `node_entered`, `node_completed`,
`node_rejected`, `node_timed_out`, `project_completed`, `project_cancelled`. The data: the
project's id, order no., product, provider, status and epoch as they are after the change,
`at` (platform clock), plus the caller's `detail` (node key, run id, actor …).

The topic is set once per process (`install`, by the API and worker composition roots); a
process that never installs it publishes no delivery events. Listeners (`listen`) run in the
same transaction for an event (card orders record the customer's receipt on
`project_completed`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from core.clock import now
from store.db import Conn
from store.outbox import NewEvent, enqueue

EVENTS: Final[frozenset[str]] = frozenset({
    "project_started", "node_entered", "node_completed", "node_rejected", "node_timed_out",
    "project_completed", "project_cancelled"})

Listener = Callable[[Conn, str, Mapping[str, Any]], Awaitable[None]]

_TOPIC: dict[str, str] = {}
_LISTENERS: dict[str, list[Listener]] = {}

_PROJECT = """
SELECT order_no, product_id, provider_id, status, epoch, nextval('dl_event_seq')
FROM dl_projects WHERE project_id = %s
"""


def install(topic: str | None) -> None:
    """Publish delivery events to `topic` from now on (the process's delivery topic; None:
    publish none)."""
    if topic is None:
        _TOPIC.pop("delivery", None)
    else:
        _TOPIC["delivery"] = topic


def topic() -> str | None:
    """The installed delivery topic, if any."""
    return _TOPIC.get("delivery")


def listen(event: str, listener: Listener) -> None:
    """Run `listener(conn, project_id, detail)` whenever `event` is published (in the same
    transaction); registering the same listener twice keeps one."""
    if event not in EVENTS:
        raise ValueError(f"unknown delivery event {event!r}")
    found = _LISTENERS.setdefault(event, [])
    if listener not in found:
        found.append(listener)


async def publish_event(conn: Conn, project_id: str, event: str,
                        detail: Mapping[str, Any] | None = None) -> None:
    """Announce `event` of the project (call in the transaction of the change); its
    listeners run first. Unknown events are a programming error (ValueError)."""
    if event not in EVENTS:
        raise ValueError(f"unknown delivery event {event!r}")
    detail = dict(detail or {})
    for listener in _LISTENERS.get(event, ()):
        await listener(conn, project_id, detail)
    name = topic()
    if name is None:
        return
    row = await (await conn.execute(_PROJECT, (project_id,))).fetchone()
    if row is None:
        raise ValueError(f"no project {project_id!r}")
    order_no, product_id, provider_id, status, epoch, seq = row
    data: dict[str, Any] = {
        "project_id": project_id, "event": event, "order_no": order_no,
        "product_id": product_id, "provider_id": provider_id, "status": status,
        "epoch": epoch, "at": now().isoformat(), **_plain(detail)}
    await enqueue(conn, NewEvent(f"delivery:{seq}", name, project_id, event, data))


def _plain(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The detail as JSON values (dates as ISO text, other objects as text)."""
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if value is None or isinstance(value, (str, int, float, bool, list, dict)):
            out[key] = value
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        else:
            out[key] = str(value)
    return out
