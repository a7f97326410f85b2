"""Delivering the delivery workflow's webhook reminders (X-04, I-20): signed like the quota
alerts (`X-Cardpulse-Timestamp`, `X-Cardpulse-Signature` with the tenant's secret), retried with
backoff, at least once; receivers deduplicate on `X-Cardpulse-Notification-Id`."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from store.db import Conn, Reconnecting
from store.delivery.webhooks import Attempt, DueReminder, lease_due, no_webhook, record_attempts
from streams.webhooks import backoff_s, post_signed

EVENT = "delivery_reminder"


def body_of(due: DueReminder) -> bytes:
    """The JSON document POSTed for a reminder."""
    return orjson.dumps({
        "event": EVENT, "notification_id": due.notification_id, "project_id": due.project_id,
        "order_no": due.order_no, "run_id": due.run_id, "trigger": due.trigger,
        "template": due.template_name, "receiver": due.receiver, "user_id": due.user_id,
        "text_zh": due.body_zh, "text_en": due.body_en,
        "created_at": due.created_at.isoformat()})


async def _post(client: httpx.AsyncClient, due: DueReminder) -> str | None:
    """None when the receiver took it, else what went wrong."""
    assert due.webhook_url is not None  # noqa: S101 - the caller sorted those without one
    return await post_signed(client, due.webhook_url, due.webhook_secret, body_of(due), {
        "X-Cardpulse-Notification-Id": str(due.notification_id), "X-Cardpulse-Event": EVENT})


async def _no_webhook(conn: Conn, notification_ids: list[int]) -> None:
    for notification_id in notification_ids:
        await no_webhook(conn, notification_id)


async def deliver_reminders(db: Reconnecting, client: httpx.AsyncClient, max_attempts: int,
                            limit: int = 50) -> int:
    """Send due webhook reminders once; returns how many were looked at."""
    due = await db.run(lambda conn: lease_due(conn, limit))
    if not due:
        return 0
    unsent = [item.notification_id for item in due if item.webhook_url is None]
    if unsent:
        await db.run(lambda conn: _no_webhook(conn, unsent))
    sent = [item for item in due if item.webhook_url is not None]
    errors = await asyncio.gather(*(_post(client, item) for item in sent))
    attempts = [Attempt(item.notification_id, error, backoff_s(item.attempts + 1))
                for item, error in zip(sent, errors, strict=True)]
    if attempts:
        await db.run(lambda conn: record_attempts(conn, attempts, max_attempts))
    return len(due)
