"""Delivering quota alerts to enterprise webhooks: signed, retried with backoff, at least once.

Alerts are leased (their next attempt pushed a minute out) before the HTTP calls, so no row
lock is held while waiting on a customer's server and two workers never send the same alert
at the same time. Receivers deduplicate on `X-Cardpulse-Alert-Id`.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import httpx
import orjson

from cardpulse.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from store.db import Conn, Reconnecting

_LEASE = """
UPDATE alerts a SET next_attempt = now() + interval '60 seconds'
FROM enterprises e
WHERE e.enterprise_id = a.enterprise_id AND a.alert_id IN (
    SELECT alert_id FROM alerts WHERE webhook_state = 'pending' AND next_attempt <= now()
    ORDER BY next_attempt LIMIT %s FOR UPDATE SKIP LOCKED)
RETURNING a.alert_id, a.enterprise_id, a.kind, a.subject, to_char(a.cycle, 'YYYY-MM'),
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


@dataclass(frozen=True)
class Delivery:
    alert_id: int
    url: str | None
    secret: str | None
    attempts: int
    body: bytes


def backoff_s(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: up to 2^attempts seconds, at most 10 minutes."""
    ceiling = min(2.0 ** attempts, 600.0)
    return (rng or random.Random()).uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter only


def _delivery(row: tuple[object, ...]) -> Delivery:
    alert_id, ent, kind, subject, cycle, pct, used, limit, attempts, url, secret = row
    body = orjson.dumps({"alert_id": alert_id, "enterprise_id": ent, "kind": kind,
                         "subject": subject, "cycle": cycle, "percent": pct,
                         "used_bytes": used, "limit_bytes": limit})
    return Delivery(int(str(alert_id)), str(url) if url else None,
                    str(secret) if secret else None, int(str(attempts)), body)


async def _post(client: httpx.AsyncClient, item: Delivery) -> str | None:
    """None when the receiver took it, else what went wrong."""
    if item.url is None:
        return "the enterprise has no webhook_url any more"
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Cardpulse-Alert-Id": str(item.alert_id),
               TIMESTAMP_HEADER: stamp}
    if item.secret:
        headers[SIGNATURE_HEADER] = sign(item.secret, stamp, item.body)
    try:
        answer = await client.post(item.url, content=item.body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None if answer.is_success else f"HTTP {answer.status_code}"


async def _lease(conn: Conn, limit: int) -> list[Delivery]:
    cur = await conn.execute(_LEASE, (limit,))
    return [_delivery(row) for row in await cur.fetchall()]


async def _record(conn: Conn, results: list[tuple[Delivery, str | None]], max_attempts: int
                  ) -> None:
    async with conn.transaction():
        for item, error in results:
            if error is None:
                await conn.execute(_DONE, (item.alert_id,))
            else:
                await conn.execute(_RETRY, (error, max_attempts, backoff_s(item.attempts + 1),
                                            item.alert_id))


async def deliver_due(db: Reconnecting, client: httpx.AsyncClient, max_attempts: int,
                      limit: int = 50) -> int:
    """Send due alerts once; returns how many were attempted."""
    due = await db.run(lambda conn: _lease(conn, limit))
    if not due:
        return 0
    errors = await asyncio.gather(*(_post(client, item) for item in due))
    results = list(zip(due, errors, strict=True))
    await db.run(lambda conn: _record(conn, results, max_attempts))
    return len(due)
