"""The audit trail (C-08): one immutable row per business state transition, written in the same
transaction as the transition it records, read back per subject in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from store.db import Conn


@dataclass(frozen=True)
class Transition:
    """What to record: the subject (`order`, `price`, `withdrawal` …), its states, who and why."""

    subject_kind: str
    subject_id: str
    from_state: str | None
    to_state: str
    actor: str
    actor_role: str
    reason: str | None = None
    request_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEvent:
    event_id: int
    at: datetime
    actor: str
    actor_role: str
    subject_kind: str
    subject_id: str
    from_state: str | None
    to_state: str
    reason: str | None
    request_id: str | None
    data: dict[str, Any]


_INSERT = """
INSERT INTO audit_events (actor, actor_role, subject_kind, subject_id, from_state, to_state,
                          reason, request_id, data)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_HISTORY = """
SELECT * FROM audit_events WHERE subject_kind = %s AND subject_id = %s ORDER BY event_id
"""


async def record(conn: Conn, *transitions: Transition) -> None:
    """Write the transitions (call inside the transaction that makes them)."""
    async with conn.cursor() as cur:
        await cur.executemany(_INSERT, [
            (t.actor, t.actor_role, t.subject_kind, t.subject_id, t.from_state, t.to_state,
             t.reason, t.request_id, Jsonb(t.data)) for t in transitions])


async def history(conn: Conn, subject_kind: str, subject_id: str) -> list[AuditEvent]:
    """Every recorded transition of the subject, oldest first."""
    async with conn.cursor(row_factory=class_row(AuditEvent)) as cur:
        await cur.execute(_HISTORY, (subject_kind, subject_id))
        return await cur.fetchall()
