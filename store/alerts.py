"""Quota alerts: the enterprise's list, and the webhook deliveries (lease, then record).

Alerts are leased (their next attempt pushed a minute out) before the HTTP calls, so no row
lock is held while waiting on a customer's server and two workers never send the same alert
at the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg.rows import class_row

from store.db import Conn


@dataclass(frozen=True)
class AlertRow:
    """An alert as the enterprise's list shows it."""

    alert_id: int
    kind: str
    subject: str
    cycle: str
    percent: int
    used_bytes: int
    limit_bytes: int
    created_at: str
    webhook_state: str


@dataclass(frozen=True)
class Due:
    """An alert leased for delivery, with where and how to send it."""

    alert_id: int
    enterprise_id: str
    kind: str
    subject: str
    cycle: str
    percent: int
    used_bytes: int
    limit_bytes: int
    attempts: int
    webhook_url: str | None
    webhook_secret: str | None


@dataclass(frozen=True)
class Attempt:
    """The outcome of one delivery: None when the receiver took it, else what went wrong."""

    alert_id: int
    error: str | None
    retry_in_s: float


_LIST = """
SELECT alert_id, kind, subject, to_char(cycle, 'YYYY-MM') AS cycle, percent, used_bytes,
       limit_bytes, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
       AS created_at, webhook_state
FROM alerts WHERE enterprise_id = %s ORDER BY alert_id DESC LIMIT %s
"""
_LEASE = """
UPDATE alerts a SET next_attempt = now() + interval '60 seconds'
FROM enterprises e
WHERE e.enterprise_id = a.enterprise_id AND a.alert_id IN (
    SELECT alert_id FROM alerts WHERE webhook_state = 'pending' AND next_attempt <= now()
    ORDER BY next_attempt LIMIT %s FOR UPDATE SKIP LOCKED)
RETURNING a.alert_id, a.enterprise_id, a.kind, a.subject, to_char(a.cycle, 'YYYY-MM') AS cycle,
          a.percent, a.used_bytes, a.limit_bytes, a.attempts, e.webhook_url, e.webhook_secret
"""
_DONE = """
UPDATE alerts SET webhook_state = 'delivered', attempts = attempts + 1, last_error = NULL
WHERE alert_id = %s
"""
_RETRY = """
UPDATE alerts SET attempts = attempts + 1, last_error = %s,
    webhook_state = CASE WHEN attempts + 1 >= %s THEN 'failed' ELSE 'pending' END,
    next_attempt = now() + make_interval(secs => %s)
WHERE alert_id = %s
"""


async def list_alerts(conn: Conn, enterprise_id: str, limit: int) -> list[AlertRow]:
    """The enterprise's alerts, newest first."""
    async with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        await cur.execute(_LIST, (enterprise_id, limit))
        return await cur.fetchall()


async def lease_due(conn: Conn, limit: int) -> list[Due]:
    """Take up to `limit` alerts due for delivery for the next minute."""
    async with conn.cursor(row_factory=class_row(Due)) as cur:
        await cur.execute(_LEASE, (limit,))
        return await cur.fetchall()


async def record_attempts(conn: Conn, attempts: Sequence[Attempt], max_attempts: int) -> None:
    """Mark delivered alerts, and schedule (or give up on) the others."""
    async with conn.transaction():
        for attempt in attempts:
            if attempt.error is None:
                await conn.execute(_DONE, (attempt.alert_id,))
            else:
                await conn.execute(_RETRY, (attempt.error, max_attempts, attempt.retry_in_s,
                                            attempt.alert_id))
