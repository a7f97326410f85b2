"""Dead letters: listing, and replaying usage kept aside for cards registered since."""

from __future__ import annotations

from datetime import datetime

from store.db import Conn
from streams.events import UsageRecord

_LIST = """
SELECT id, source, reason, operator, iccid, payload, created_at, replayed_at FROM dead_letters
WHERE (%(source)s::text IS NULL OR source = %(source)s)
  AND (%(reason)s::text IS NULL OR reason = %(reason)s)
  AND (%(replayed)s OR replayed_at IS NULL)
ORDER BY id DESC LIMIT %(limit)s
"""
# Usage for cards unknown when it arrived, whose card exists now.
_REPLAYABLE = """
SELECT d.id, d.operator, d.payload FROM dead_letters d
WHERE d.reason = 'unknown_card' AND d.replayed_at IS NULL
  AND EXISTS (SELECT 1 FROM cards c WHERE c.iccid = d.iccid)
ORDER BY d.id LIMIT %s
FOR UPDATE SKIP LOCKED
"""


async def list_letters(conn: Conn, source: str | None, reason: str | None, replayed: bool,
                       limit: int) -> list[tuple[object, ...]]:
    cur = await conn.execute(_LIST, {"source": source, "reason": reason, "replayed": replayed,
                                     "limit": limit})
    return list(await cur.fetchall())


def _record(payload: dict[str, object]) -> UsageRecord:
    start = datetime.fromisoformat(str(payload["start"]))
    end = datetime.fromisoformat(str(payload["end"]))
    return UsageRecord(str(payload["record_id"]), str(payload["iccid"]),
                       int(str(payload["bytes"])), int(start.timestamp() * 1000),
                       int(end.timestamp() * 1000))


async def replayable(conn: Conn, limit: int) -> tuple[list[int], dict[str, list[UsageRecord]]]:
    """Lock up to `limit` replayable letters (call inside a transaction); their records by
    operator."""
    cur = await conn.execute(_REPLAYABLE, (limit,))
    ids: list[int] = []
    by_operator: dict[str, list[UsageRecord]] = {}
    for letter_id, operator, payload in await cur.fetchall():
        ids.append(int(letter_id))
        by_operator.setdefault(str(operator), []).append(_record(payload))
    return ids, by_operator


async def mark_replayed(conn: Conn, ids: list[int]) -> None:
    await conn.execute("UPDATE dead_letters SET replayed_at = now() WHERE id = ANY(%s)", (ids,))
