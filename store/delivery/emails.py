"""Delivery reminders on the email channel (X-04, I-20): the `dl_notifications` rows the
engine recorded with channel `email` (one per person with an address), leased with the
person's current address so that two workers never send one at once. They are then marked
delivered, retried with backoff, or failed after the last attempt, exactly like the webhook
rows (`store.delivery.webhooks.record_attempts`). A row whose person has no address any more,
or that finds no mail relay configured, ends with that outcome and is not retried."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from psycopg.rows import class_row

from store.db import Conn


@dataclass(frozen=True)
class DueEmail:
    notification_id: int
    project_id: str
    order_no: str
    trigger: str
    template_name: str
    body_zh: str
    body_en: str
    created_at: datetime
    attempts: int
    email: str | None
    name: str


Skipped = Literal["no_smtp", "no_email"]

_LEASE = """
WITH due AS (
    SELECT notification_id FROM dl_notifications
    WHERE channel = 'email' AND outcome IN ('recorded', 'retrying')
      AND (next_attempt IS NULL OR next_attempt <= cp_now())
    ORDER BY next_attempt NULLS FIRST, notification_id LIMIT %s FOR UPDATE SKIP LOCKED)
UPDATE dl_notifications n SET next_attempt = cp_now() + interval '60 seconds'
FROM due, dl_projects p, users u
WHERE n.notification_id = due.notification_id AND p.project_id = n.project_id
  AND u.user_id = n.user_id
RETURNING n.notification_id, n.project_id, p.order_no, n.trigger, n.template_name, n.body_zh,
    n.body_en, n.created_at, n.attempts, u.email, coalesce(u.display_name, u.login) AS name
"""
_SKIP = """
UPDATE dl_notifications SET outcome = %s, next_attempt = NULL, last_error = %s
WHERE notification_id = ANY(%s)
"""
_WHY: dict[Skipped, str] = {
    "no_smtp": "no mail relay is configured (CARDPULSE_SMTP_URL)",
    "no_email": "the person has no email address any more",
}
_SET_EMAIL = "UPDATE users SET email = %s WHERE user_id = %s"
_EMAIL = "SELECT email FROM users WHERE user_id = %s"


async def lease_due(conn: Conn, limit: int) -> list[DueEmail]:
    """Take up to `limit` email reminders due for delivery, for the next minute."""
    async with conn.transaction(), conn.cursor(row_factory=class_row(DueEmail)) as cur:
        await cur.execute(_LEASE, (limit,))
        return await cur.fetchall()


async def skip(conn: Conn, notification_ids: Sequence[int], outcome: Skipped) -> None:
    """Rows that cannot be sent: recorded with the reason, not retried."""
    if notification_ids:
        await conn.execute(_SKIP, (outcome, _WHY[outcome], list(notification_ids)))


async def set_email(conn: Conn, user_id: str, email: str | None) -> None:
    """A person's address for reminder emails (None: none)."""
    await conn.execute(_SET_EMAIL, (email, user_id))


async def email_of(conn: Conn, user_id: str) -> str | None:
    row = await (await conn.execute(_EMAIL, (user_id,))).fetchone()
    return None if row is None or row[0] is None else str(row[0])
