"""Dead letters: keeping input the streams cannot use, listing it, and replaying usage kept
aside for cards registered since."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from psycopg.rows import class_row

from domain.usage.records import UsageRecord
from store.db import Conn


@dataclass(frozen=True)
class Letter:
    """One piece of input kept aside, with the reason."""

    id: int
    source: str
    reason: str
    operator: str | None
    iccid: str | None
    payload: Any
    created_at: datetime
    replayed_at: datetime | None


_INSERT = """
INSERT INTO dead_letters (source, reason, operator, iccid, payload)
VALUES (%s, %s, %s, %s, %s::jsonb)
"""

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
  AND (%(ids)s::bigint[] IS NULL OR d.id = ANY(%(ids)s))
ORDER BY d.id LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""
# Which of the letters shown could be replayed now (the same rule, without locking).
_CAN_REPLAY = """
SELECT d.id FROM dead_letters d
WHERE d.id = ANY(%s) AND d.reason = 'unknown_card' AND d.replayed_at IS NULL
  AND EXISTS (SELECT 1 FROM cards c WHERE c.iccid = d.iccid)
"""
_KINDS = "SELECT DISTINCT source, reason FROM dead_letters ORDER BY source, reason"


@dataclass(frozen=True)
class Kept:
    """Input to keep aside, with the reason it cannot be used."""

    reason: str
    payload: object
    operator: str | None = None
    iccid: str | None = None


async def keep(conn: Conn, source: str, items: Sequence[Kept]) -> None:
    """Keep every item, in one transaction."""
    async with conn.transaction():
        for item in items:
            await dead_letter(conn, source, item.reason, item.payload, operator=item.operator,
                              iccid=item.iccid)


async def dead_letter(
    conn: Conn, source: str, reason: str, payload: object,
    *, operator: str | None = None, iccid: str | None = None,
) -> None:
    """Keep input the streams cannot use, with the reason, instead of dropping it.

    PostgreSQL text cannot hold NUL, which bad input may carry: it is replaced by U+FFFD here
    so that keeping the evidence can never fail.
    """
    document = orjson.dumps(payload).decode().replace("\\u0000", "\\ufffd")
    await conn.execute(_INSERT, (source, _text(reason), _text(operator), _text(iccid), document))


def _text(value: str | None) -> str | None:
    return value.replace("\x00", "\ufffd") if value is not None else None


async def list_letters(conn: Conn, source: str | None, reason: str | None, replayed: bool,
                       limit: int) -> list[Letter]:
    """Newest first; letters already replayed only when `replayed`."""
    async with conn.cursor(row_factory=class_row(Letter)) as cur:
        await cur.execute(_LIST, {"source": source, "reason": reason, "replayed": replayed,
                                  "limit": limit})
        return await cur.fetchall()


def _record(payload: dict[str, object]) -> UsageRecord:
    start = datetime.fromisoformat(str(payload["start"]))
    end = datetime.fromisoformat(str(payload["end"]))
    return UsageRecord(str(payload["record_id"]), str(payload["iccid"]),
                       int(str(payload["bytes"])), int(start.timestamp() * 1000),
                       int(end.timestamp() * 1000))


async def replayable(conn: Conn, limit: int, only: Sequence[int] | None = None
                     ) -> tuple[list[int], dict[str, list[UsageRecord]]]:
    """Lock up to `limit` replayable letters (only those of `only` when given; call inside a
    transaction); their ids, and their records by operator."""
    cur = await conn.execute(_REPLAYABLE, {"limit": limit,
                                           "ids": None if only is None else list(only)})
    ids: list[int] = []
    by_operator: dict[str, list[UsageRecord]] = {}
    for letter_id, operator, payload in await cur.fetchall():
        ids.append(int(letter_id))
        by_operator.setdefault(str(operator), []).append(_record(payload))
    return ids, by_operator


async def mark_replayed(conn: Conn, ids: list[int]) -> None:
    await conn.execute("UPDATE dead_letters SET replayed_at = now() WHERE id = ANY(%s)", (ids,))


async def can_replay(conn: Conn, ids: Sequence[int]) -> set[int]:
    """Those of `ids` that a replay would send now."""
    cur = await conn.execute(_CAN_REPLAY, (list(ids),))
    return {int(row[0]) for row in await cur.fetchall()}


async def kinds(conn: Conn) -> list[tuple[str, str]]:
    """The (source, reason) pairs of the letters kept, for filters."""
    cur = await conn.execute(_KINDS)
    return [(str(source), str(reason)) for source, reason in await cur.fetchall()]
