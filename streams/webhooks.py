"""Delivering quota alerts to enterprise webhooks: signed, retried with backoff, at least once.

The store leases due alerts (`store.alerts.lease_due`), so two workers never send the same
alert at the same time; receivers deduplicate on `X-Cardpulse-Alert-Id`.
"""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import orjson

from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from store.alerts import Attempt, Due, lease_due, record_attempts
from store.db import Reconnecting


def backoff_s(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: up to 2^attempts seconds, at most 10 minutes."""
    ceiling = min(2.0 ** attempts, 600.0)
    return (rng or random.Random()).uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter only


async def post_signed(client: httpx.AsyncClient, url: str, secret: str | None, body: bytes,
                      headers: dict[str, str]) -> str | None:
    """POST `body` signed with `secret` (if any); None when the receiver took it (2xx), else
    what went wrong, short enough to record."""
    stamp = str(int(time.time()))  # the receiver checks it against its own clock
    headers = {"Content-Type": "application/json", **headers, TIMESTAMP_HEADER: stamp}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, stamp, body)
    try:
        answer = await client.post(url, content=body, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
        return f"{type(exc).__name__}: {exc}"[:500]
    return None if answer.is_success else f"HTTP {answer.status_code}"


def body_of(due: Due) -> bytes:
    """The JSON document POSTed for an alert."""
    return orjson.dumps({"alert_id": due.alert_id, "enterprise_id": due.enterprise_id,
                         "kind": due.kind, "subject": due.subject, "cycle": due.cycle,
                         "percent": due.percent, "used_bytes": due.used_bytes,
                         "limit_bytes": due.limit_bytes})


async def _post(client: httpx.AsyncClient, due: Due) -> str | None:
    """None when the receiver took it, else what went wrong."""
    if due.webhook_url is None:
        return "the enterprise has no webhook_url any more"
    return await post_signed(client, due.webhook_url, due.webhook_secret, body_of(due),
                             {"X-Cardpulse-Alert-Id": str(due.alert_id)})


async def deliver_due(db: Reconnecting, client: httpx.AsyncClient, max_attempts: int,
                      limit: int = 50) -> int:
    """Send due alerts once; returns how many were attempted."""
    due = await db.run(lambda conn: lease_due(conn, limit))
    if not due:
        return 0
    errors = await asyncio.gather(*(_post(client, item) for item in due))
    attempts = [Attempt(item.alert_id, error, backoff_s(item.attempts + 1))
                for item, error in zip(due, errors, strict=True)]
    await db.run(lambda conn: record_attempts(conn, attempts, max_attempts))
    return len(due)
