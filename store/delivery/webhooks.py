"""Delivery reminders on the webhook channel (X-04, I-20): the `dl_notifications` rows the
engine recorded with channel `webhook` go to the webhook of the receiver's tenant (the
project's vendor for a vendor admin, its provider for the provider admin and the operator; a
customer has none), leased so that two workers never send one at once, then marked
delivered, retried with backoff, or failed after the last attempt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from store.db import Conn
from store.errors import NotFound


@dataclass(frozen=True)
class DueReminder:
    notification_id: int
    project_id: str
    order_no: str
    run_id: int | None
    trigger: str
    template_name: str
    receiver: str
    user_id: str | None
    body_zh: str
    body_en: str
    created_at: datetime
    attempts: int
    tenant_id: str | None
    webhook_url: str | None
    webhook_secret: str | None


@dataclass(frozen=True)
class Attempt:
    notification_id: int
    error: str | None  # None: the receiver took it
    retry_in_s: float


_LEASE = """
WITH due AS (
    SELECT notification_id FROM dl_notifications
    WHERE channel = 'webhook' AND outcome IN ('recorded', 'retrying')
      AND (next_attempt IS NULL OR next_attempt <= cp_now())
    ORDER BY next_attempt NULLS FIRST, notification_id LIMIT %s FOR UPDATE SKIP LOCKED)
UPDATE dl_notifications n SET next_attempt = cp_now() + interval '60 seconds'
FROM due, dl_projects p
LEFT JOIN dl_tenants t ON t.tenant_id = p.provider_id
LEFT JOIN dl_tenants v ON v.tenant_id = p.vendor_id
WHERE n.notification_id = due.notification_id AND p.project_id = n.project_id
RETURNING n.notification_id, n.project_id, p.order_no, n.run_id, n.trigger, n.template_name,
    n.receiver, n.user_id, n.body_zh, n.body_en, n.created_at, n.attempts,
    CASE n.receiver WHEN 'customer' THEN NULL WHEN 'vendor_admin' THEN v.tenant_id
                    ELSE t.tenant_id END AS tenant_id,
    CASE n.receiver WHEN 'customer' THEN NULL WHEN 'vendor_admin' THEN v.webhook_url
                    ELSE t.webhook_url END AS webhook_url,
    CASE n.receiver WHEN 'customer' THEN NULL WHEN 'vendor_admin' THEN v.webhook_secret
                    ELSE t.webhook_secret END AS webhook_secret
"""
_DONE = """
UPDATE dl_notifications SET outcome = 'delivered', attempts = attempts + 1, last_error = NULL,
    next_attempt = NULL
WHERE notification_id = %s
"""
_NO_WEBHOOK = """
UPDATE dl_notifications SET outcome = 'no_webhook', next_attempt = NULL,
    last_error = 'the receiver has no webhook'
WHERE notification_id = %s
"""
_RETRY = """
UPDATE dl_notifications SET attempts = attempts + 1, last_error = %s,
    outcome = CASE WHEN attempts + 1 >= %s THEN 'failed' ELSE 'retrying' END,
    next_attempt = cp_now() + make_interval(secs => %s)
WHERE notification_id = %s
"""
_SET = "UPDATE dl_tenants SET webhook_url = %s, webhook_secret = %s WHERE tenant_id = %s"


async def lease_due(conn: Conn, limit: int) -> list[DueReminder]:
    """Take up to `limit` webhook reminders due for delivery, for the next minute."""
    async with conn.transaction(), conn.cursor(row_factory=class_row(DueReminder)) as cur:
        await cur.execute(_LEASE, (limit,))
        return await cur.fetchall()


async def record_attempts(conn: Conn, attempts: Sequence[Attempt], max_attempts: int) -> None:
    """Mark delivered reminders, and schedule (or give up on) the others."""
    async with conn.transaction():
        for attempt in attempts:
            if attempt.error is None:
                await conn.execute(_DONE, (attempt.notification_id,))
            else:
                await conn.execute(_RETRY, (attempt.error[:500], max_attempts,
                                            attempt.retry_in_s, attempt.notification_id))


async def no_webhook(conn: Conn, notification_id: int) -> None:
    """The receiver's tenant has no webhook: recorded as such, not retried."""
    await conn.execute(_NO_WEBHOOK, (notification_id,))


async def set_webhook(conn: Conn, tenant_id: str, url: str | None, secret: str | None) -> None:
    """A delivery tenant's webhook (None: none)."""
    async with conn.cursor() as cur:
        await cur.execute(_SET, (url, secret, tenant_id))
        if cur.rowcount == 0:
            raise NotFound(f"delivery tenant {tenant_id!r}")
