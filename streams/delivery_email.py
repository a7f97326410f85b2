"""Delivering the delivery workflow's email reminders (X-04, I-20) over SMTP: the leader leases
the due `email` rows, sends them through one connection to the relay (`CARDPULSE_SMTP_URL`,
from `CARDPULSE_SMTP_FROM`), and records each one delivered or retried with backoff (failed
after `CARDPULSE_WEBHOOK_MAX_ATTEMPTS`). At least once: a receiving mail system deduplicates on
the Message-ID, which is the notification's."""

from __future__ import annotations

import aiosmtplib

from domain.delivery.mail import SmtpTarget, message
from store.db import Conn, Reconnecting
from store.delivery.emails import DueEmail, lease_due, skip
from store.delivery.webhooks import Attempt, record_attempts
from streams.webhooks import backoff_s


async def deliver_emails(db: Reconnecting, relay: SmtpTarget | None, sender: str,
                         max_attempts: int, *, timeout_s: float = 10.0, limit: int = 50) -> int:
    """Send due email reminders once; returns how many were looked at."""
    due = await db.run(lambda conn: lease_due(conn, limit))
    if not due:
        return 0
    sendable = [item for item in due if item.email is not None]
    no_address = [item.notification_id for item in due if item.email is None]
    if relay is None:
        await db.run(lambda conn: _skip(conn, no_address, [i.notification_id for i in sendable]))
        return len(due)
    errors = await _send(relay, sender, sendable, timeout_s)
    attempts = [Attempt(item.notification_id, error, backoff_s(item.attempts + 1))
                for item, error in zip(sendable, errors, strict=True)]
    await db.run(lambda conn: _record(conn, no_address, attempts, max_attempts))
    return len(due)


async def _skip(conn: Conn, no_address: list[int], no_relay: list[int]) -> None:
    await skip(conn, no_address, "no_email")
    await skip(conn, no_relay, "no_smtp")


async def _record(conn: Conn, no_address: list[int], attempts: list[Attempt],
                  max_attempts: int) -> None:
    await skip(conn, no_address, "no_email")
    await record_attempts(conn, attempts, max_attempts)


async def _send(relay: SmtpTarget, sender: str, due: list[DueEmail],
                timeout_s: float) -> list[str | None]:
    """One connection for the batch; per message None (the relay took it) or what went
    wrong. A relay that cannot be reached fails the whole batch (each retried)."""
    if not due:
        return []
    client = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, use_tls=relay.use_tls,
                             start_tls=relay.start_tls, username=relay.username,
                             password=relay.password, timeout=timeout_s)
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as exc:
        return [f"{type(exc).__name__}: {exc}"[:500]] * len(due)
    try:
        return [await _one(client, sender, item) for item in due]
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


async def _one(client: aiosmtplib.SMTP, sender: str, item: DueEmail) -> str | None:
    assert item.email is not None  # noqa: S101 - the caller sorted those without one
    mail = message(notification_id=item.notification_id, to=item.email, name=item.name,
                   sender=sender, order_no=item.order_no, body_zh=item.body_zh,
                   body_en=item.body_en, created_at=item.created_at)
    try:
        await client.send_message(mail)
    except (aiosmtplib.SMTPException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None
