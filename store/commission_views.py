"""Commission records and approvals as people read them (H-39, H-40, H-34, H-09): lists with
filters and a keyset cursor (newest first), totals by state and kind over a month, the
platform's totals per agent and per settlement batch, the approval queue, the agent's price
differences read from the ledger (never frozen, not produced by rules), and the idempotency
keys of approval decisions (C-05). Read-only except `decide_once`, which decides through
`store.commissions.decide` — the one way commission money moves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row

from domain.ledger import accounts
from domain.orders.errors import IdempotencyConflict
from store import commissions
from store.agents import Actor
from store.commissions import Approval, Record
from store.db import Conn
from store.orders import request_hash

MAX_PAGE = 500

_PAGE = """
SELECT * FROM commission_records
WHERE (%(agent)s::text IS NULL OR agent_id = %(agent)s)
  AND (%(state)s::text IS NULL OR state = %(state)s)
  AND (%(kind)s::text IS NULL OR part = %(kind)s OR rule_kind = %(kind)s)
  AND (%(start)s::timestamptz IS NULL OR produced_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR produced_at < %(end)s)
  AND (%(iccid)s::text IS NULL OR iccid = %(iccid)s)
  AND (%(order)s::text IS NULL OR order_id = %(order)s)
  AND (%(batch)s::text IS NULL OR batch_id = %(batch)s)
  AND (%(after_at)s::timestamptz IS NULL
       OR (produced_at, record_id) < (%(after_at)s, %(after_id)s::text))
ORDER BY produced_at DESC, record_id DESC
LIMIT %(limit)s
"""
_TOTALS = """
SELECT {group} AS key, state, count(*)::int AS records,
       coalesce(sum(amount_fen), 0)::bigint AS amount_fen
FROM commission_records
WHERE (%(agent)s::text IS NULL OR agent_id = %(agent)s)
  AND (%(start)s::timestamptz IS NULL OR produced_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR produced_at < %(end)s)
  AND {where}
GROUP BY 1, 2 ORDER BY 1, 2
"""
_GROUPS = {"kind": ("part", "true"), "agent": ("agent_id", "true"),
           "batch": ("batch_id", "batch_id IS NOT NULL")}
_DIFFERENCES = """
SELECT t.transfer_id, t.order_id, t.amount::bigint AS amount_fen, t.created_at,
       coalesce((SELECT sum(r.amount) FROM ledger_transfers r
                 WHERE r.reverses = t.transfer_id AND r.state = 'posted'), 0)::bigint
           AS reversed_fen
FROM ledger_transfers t
WHERE t.fee_type = 'price_difference' AND t.credit_account = %(account)s
  AND t.state = 'posted' AND t.reverses IS NULL
  AND (%(start)s::timestamptz IS NULL OR t.created_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR t.created_at < %(end)s)
ORDER BY t.created_at DESC, t.transfer_id DESC
LIMIT %(limit)s
"""
_QUEUE = """
SELECT a.approval_id, a.record_id, a.state, a.created_at, a.decided_at, a.decided_by, a.reason,
       r.agent_id, r.amount_fen, r.part, r.rule_kind, r.iccid, r.order_id, r.batch_id
FROM commission_approvals a JOIN commission_records r USING (record_id)
WHERE (%(state)s::text IS NULL OR a.state = %(state)s)
  AND (%(agent)s::text IS NULL OR r.agent_id = %(agent)s)
ORDER BY a.state <> 'pending', a.created_at, a.approval_id
LIMIT %(limit)s
"""
_LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 105))"
_KEY = """SELECT request_hash, approval_ids FROM commission_decision_keys
WHERE actor = %s AND idempotency_key = %s"""
_SAVE_KEY = """INSERT INTO commission_decision_keys (actor, idempotency_key, request_hash,
approval_ids) VALUES (%s, %s, %s, %s)"""
_APPROVALS = "SELECT * FROM commission_approvals WHERE approval_id = ANY(%s) ORDER BY approval_id"


@dataclass(frozen=True)
class RecordFilter:
    """What a list shows; None: any. `kind` matches the record's part or its rule's kind."""

    agent_id: str | None = None
    state: str | None = None
    kind: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    iccid: str | None = None
    order_id: str | None = None
    batch_id: str | None = None


@dataclass(frozen=True)
class Total:
    """Records of one group (a kind, an agent or a batch) in one state."""

    key: str
    state: str
    records: int
    amount_fen: int


@dataclass(frozen=True)
class PriceDifference:
    """A price difference the agent was paid (H-09): a ledger transfer, reversed in part or
    whole by the refund's own reversal."""

    transfer_id: str
    order_id: str | None
    amount_fen: int
    created_at: datetime
    reversed_fen: int


@dataclass(frozen=True)
class QueuedApproval:
    """An unfreeze approval with what finance needs to decide it."""

    approval_id: str
    record_id: str
    state: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    agent_id: str
    amount_fen: int
    part: str
    rule_kind: str
    iccid: str | None
    order_id: str | None
    batch_id: str | None


async def page(conn: Conn, where: RecordFilter, limit: int,
               after: tuple[datetime, str] | None = None) -> list[Record]:
    """Up to `limit` records, newest first, after the (produced_at, record_id) `after`."""
    params: dict[str, Any] = {
        "agent": where.agent_id, "state": where.state, "kind": where.kind,
        "start": where.start, "end": where.end, "iccid": where.iccid,
        "order": where.order_id, "batch": where.batch_id, "limit": min(limit, MAX_PAGE),
        "after_at": after[0] if after else None, "after_id": after[1] if after else None}
    async with conn.cursor(row_factory=class_row(Record)) as cur:
        await cur.execute(_PAGE, params)
        return await cur.fetchall()


async def totals(conn: Conn, by: str, agent_id: str | None, start: datetime | None,
                 end: datetime | None) -> list[Total]:
    """Records and fen per (`by` = kind | agent | batch, state) produced in [start, end)."""
    group, where = _GROUPS[by]
    query = _TOTALS.format(group=group, where=where)
    async with conn.cursor(row_factory=class_row(Total)) as cur:
        await cur.execute(query, {"agent": agent_id, "start": start, "end": end})
        return await cur.fetchall()


async def price_differences(conn: Conn, agent_id: str, start: datetime | None,
                            end: datetime | None, limit: int = MAX_PAGE
                            ) -> list[PriceDifference]:
    """The agent's price differences paid in [start, end), newest first (H-09)."""
    async with conn.cursor(row_factory=class_row(PriceDifference)) as cur:
        await cur.execute(_DIFFERENCES, {"account": accounts.agent_available(agent_id),
                                         "start": start, "end": end, "limit": limit})
        return await cur.fetchall()


async def approval_queue(conn: Conn, state: str | None, agent_id: str | None = None,
                         limit: int = MAX_PAGE) -> list[QueuedApproval]:
    """Approvals (pending first, oldest first) with their records' agent, amount and part."""
    async with conn.cursor(row_factory=class_row(QueuedApproval)) as cur:
        await cur.execute(_QUEUE, {"state": state, "agent": agent_id, "limit": limit})
        return await cur.fetchall()


async def approvals(conn: Conn, approval_ids: Sequence[str]) -> list[Approval]:
    async with conn.cursor(row_factory=class_row(Approval)) as cur:
        await cur.execute(_APPROVALS, (list(approval_ids),))
        return await cur.fetchall()


async def decide_once(conn: Conn, approval_ids: Sequence[str], approve: bool, actor: Actor,
                      at: datetime, topic: str, reason: str | None, key: str | None
                      ) -> list[Approval]:
    """`commissions.decide`, once per `Idempotency-Key` of the caller (C-05): a repeat with
    the same key and request answers the approvals as they are now; the key with another
    request is refused (409 `idempotency_conflict`)."""
    ids = sorted(set(approval_ids))
    if key is None:
        return await commissions.decide(conn, ids, approve, actor, at, topic, reason)
    digest = request_hash({"ids": ids, "approve": approve, "reason": reason})
    async with conn.transaction():
        await conn.execute(_LOCK_KEY, (f"{actor.who} {key}",))
        found = await (await conn.execute(_KEY, (actor.who, key))).fetchone()
        if found is not None:
            if found[0] != digest:
                raise IdempotencyConflict()
            return await approvals(conn, list(found[1]))
        decided = await commissions.decide(conn, ids, approve, actor, at, topic, reason)
        await conn.execute(_SAVE_KEY, (actor.who, key, digest, ids))
        return decided
