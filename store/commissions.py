"""Commission records and their unfreeze approvals (migrations/0100_commission.sql; SM-H-COMM,
SM-H-APPROVAL). The only way commission money moves: each transition is one compare-and-set
on the record's state, the ledger transfer the table names (`commission:{record}:{move}`, fee
type `commission`), an audit row (C-08; the explanation's history) and an outbox event
`commission_{state}` on the orders topic — all in the caller's transaction.

A record exists once per idempotency key (H-37): `produce` with a known key does nothing, so
evaluations, replays and re-imports never make a second record or a second transfer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.money import Fen
from domain.commission import machines as sm
from domain.ledger import accounts
from domain.ledger.transfers import FeeType, Transfer
from store import audit, ledger, outbox
from store.agents import Actor
from store.db import Conn
from store.errors import NotFound
from store.outbox import NewEvent

Part = Literal["per_order", "one_time", "long_term", "number_card"]
SYSTEM = Actor("system:commission", "system")

_TYPES = {"record_id": "text", "idem_key": "text", "part": "text", "rule_kind": "text",
          "rule_id": "text", "rule_version": "int", "agent_id": "text", "iccid": "text",
          "order_id": "text", "unit": "int", "batch_id": "text", "line_no": "int",
          "amount_fen": "bigint", "state": "text", "freeze_days": "int",
          "requires_approval": "bool", "source_account": "text", "explanation": "jsonb",
          "produced_at": "timestamptz", "frozen_at": "timestamptz",
          "unfreeze_due_at": "timestamptz", "unfreezing_at": "timestamptz",
          "available_at": "timestamptz"}
_COLUMNS = tuple(_TYPES)
_INSERT = """
INSERT INTO commission_records (record_id, idem_key, part, rule_kind, rule_id, rule_version,
    agent_id, iccid, order_id, unit, batch_id, line_no, amount_fen, state, freeze_days,
    requires_approval, source_account, explanation, produced_at, frozen_at, unfreeze_due_at,
    unfreezing_at, available_at)
SELECT * FROM unnest(%(record_id)b::text[], %(idem_key)b::text[], %(part)b::text[],
    %(rule_kind)b::text[], %(rule_id)b::text[], %(rule_version)b::int[], %(agent_id)b::text[],
    %(iccid)b::text[], %(order_id)b::text[], %(unit)b::int[], %(batch_id)b::text[],
    %(line_no)b::int[], %(amount_fen)b::bigint[], %(state)b::text[], %(freeze_days)b::int[],
    %(requires_approval)b::bool[], %(source_account)b::text[], %(explanation)b::jsonb[],
    %(produced_at)b::timestamptz[], %(frozen_at)b::timestamptz[],
    %(unfreeze_due_at)b::timestamptz[], %(unfreezing_at)b::timestamptz[],
    %(available_at)b::timestamptz[])
ON CONFLICT (idem_key) DO NOTHING
RETURNING *
"""
_GET = "SELECT * FROM commission_records WHERE record_id = %s"
_BY_KEYS = "SELECT * FROM commission_records WHERE idem_key = ANY(%s)"
_LOCK = "SELECT * FROM commission_records WHERE record_id = ANY(%s) ORDER BY record_id FOR UPDATE"
_MOVE = """
UPDATE commission_records r SET state = v.state, frozen_at = coalesce(v.frozen_at, r.frozen_at),
    unfreeze_due_at = coalesce(v.due, r.unfreeze_due_at),
    unfreezing_at = coalesce(v.unfreezing_at, r.unfreezing_at),
    available_at = coalesce(v.available_at, r.available_at),
    closed_at = coalesce(v.closed_at, r.closed_at), reason = coalesce(v.reason, r.reason)
FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[],
            %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::text[])
     AS v(record_id, from_state, state, frozen_at, due, unfreezing_at, available_at,
          closed_at, reason)
WHERE r.record_id = v.record_id AND r.state = v.from_state
RETURNING r.*
"""
_DUE = """
SELECT record_id FROM commission_records
WHERE state = 'frozen' AND unfreeze_due_at <= %s
ORDER BY unfreeze_due_at, record_id LIMIT %s FOR UPDATE SKIP LOCKED
"""
_OPEN_APPROVALS = """
INSERT INTO commission_approvals (approval_id, record_id, state, created_at)
SELECT 'ap-' || v.record_id, v.record_id, 'pending', v.at
FROM unnest(%s::text[], %s::timestamptz[]) AS v(record_id, at)
ON CONFLICT (record_id) DO NOTHING
"""
_APPROVALS_LOCK = """
SELECT * FROM commission_approvals WHERE approval_id = ANY(%s) ORDER BY approval_id FOR UPDATE
"""
_APPROVAL_OF = "SELECT * FROM commission_approvals WHERE record_id = ANY(%s) FOR UPDATE"
_DECIDE = """
UPDATE commission_approvals a SET state = v.state, decided_at = %s, decided_by = %s,
                                  reason = %s
FROM unnest(%s::text[], %s::text[]) AS v(approval_id, state)
WHERE a.approval_id = v.approval_id AND a.state = 'pending'
RETURNING a.*
"""
_GET_APPROVAL = "SELECT * FROM commission_approvals WHERE approval_id = %s"


@dataclass(frozen=True)
class Record:
    record_id: str
    idem_key: str
    part: str
    rule_kind: str
    rule_id: str
    rule_version: int
    agent_id: str
    iccid: str | None
    order_id: str | None
    unit: int | None
    batch_id: str | None
    line_no: int | None
    amount_fen: int
    state: str
    freeze_days: int
    requires_approval: bool
    source_account: str
    explanation: dict[str, Any]
    produced_at: datetime
    frozen_at: datetime | None
    unfreeze_due_at: datetime | None
    unfreezing_at: datetime | None
    available_at: datetime | None
    closed_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class Approval:
    approval_id: str
    record_id: str
    state: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None


@dataclass(frozen=True)
class NewRecord:
    """A commission line to produce (once per `idem_key`, H-37) in `state`: `available` (a
    per-order rebate without freeze), `frozen` or `awaiting_conditions`.

    `timed`: its freeze ends by the clock (`frozen_at + freeze_days × 24 h`, H-13) — per-order
    and one-time parts; long-term parts wait for the import (H-19), number cards for their
    conditions (H-35)."""

    idem_key: str
    part: Part
    rule_kind: str
    rule_id: str
    rule_version: int
    agent_id: str
    amount_fen: int
    state: Literal["available", "frozen", "awaiting_conditions"]
    freeze_days: int
    requires_approval: bool
    explanation: dict[str, Any]
    at: datetime
    timed: bool
    iccid: str | None = None
    order_id: str | None = None
    unit: int | None = None
    batch_id: str | None = None
    line_no: int | None = None
    source_account: str = accounts.REVENUE
    funded_by: str | None = None
    """The caller's transfer that already moved this record's produce money (a settlement
    batch moves each agent's frozen commissions in one transfer, H-31: one transfer per record
    would update the agent's account row once per line in one transaction): `produce` makes
    none for it. Its later moves (release, return, clawback) are its own as always."""

    @property
    def record_id(self) -> str:
        return record_id_of(self.idem_key)


@dataclass
class Moved:
    """What a transition did: the records moved and those skipped (already elsewhere)."""

    records: list[Record] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def record_id_of(idem_key: str) -> str:
    """The record id of an idempotency key: stable, short, the same on every replay."""
    return "cm-" + hashlib.sha256(idem_key.encode()).hexdigest()[:24]


def transfer_id(record_id: str, move: sm.Move) -> str:
    return f"commission:{record_id}:{move}"


def _due(new: NewRecord) -> datetime | None:
    if new.state != "frozen" or not new.timed:
        return None
    return new.at + timedelta(days=new.freeze_days)


def _row(new: NewRecord) -> dict[str, Any]:
    return {"record_id": new.record_id, "idem_key": new.idem_key, "part": new.part,
            "rule_kind": new.rule_kind, "rule_id": new.rule_id,
            "rule_version": new.rule_version, "agent_id": new.agent_id, "iccid": new.iccid,
            "order_id": new.order_id, "unit": new.unit, "batch_id": new.batch_id,
            "line_no": new.line_no, "amount_fen": new.amount_fen, "state": new.state,
            "freeze_days": new.freeze_days, "requires_approval": new.requires_approval,
            "source_account": new.source_account, "explanation": Jsonb(new.explanation),
            "produced_at": new.at,
            "frozen_at": new.at if new.state == "frozen" else None,
            "unfreeze_due_at": _due(new), "unfreezing_at": None,
            "available_at": new.at if new.state == "available" else None}


def _money(record: Record, move: sm.Move) -> Transfer | None:
    """The ledger transfer of `move` on `record` (None: nothing moves)."""
    if move == "none" or record.amount_fen == 0:
        return None
    frozen = accounts.agent_commission_frozen(record.agent_id)
    available = accounts.agent_available(record.agent_id)
    debit, credit = {
        "freeze": (record.source_account, frozen),
        "pay": (record.source_account, available),
        "release": (frozen, available),
        "return": (frozen, accounts.REVENUE),
        "clawback": (available, accounts.REVENUE),
    }[move]
    return Transfer(transfer_id(record.record_id, move), debit, credit, Fen(record.amount_fen),
                    FeeType.COMMISSION, order_id=record.order_id,
                    order_line="1" if record.order_id else None,
                    allow_negative=move == "clawback",
                    metadata={"commission": record.record_id, "move": move})


def _event(record: Record, topic: str, at: datetime) -> NewEvent:
    data: dict[str, Any] = {"record_id": record.record_id, "agent_id": record.agent_id,
                            "part": record.part, "rule_id": record.rule_id,
                            "rule_version": record.rule_version, "state": record.state,
                            "amount": record.amount_fen, "at": at.isoformat()}
    for key in ("iccid", "order_id", "batch_id"):
        if getattr(record, key) is not None:
            data[key] = getattr(record, key)
    return NewEvent(f"commission:{record.record_id}:{record.state}", topic, record.agent_id,
                    f"commission_{record.state}", data)


async def _fetch(conn: Conn, query: str, params: Any) -> list[Record]:
    async with conn.cursor(row_factory=class_row(Record)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def produce(conn: Conn, news: Sequence[NewRecord], topic: str,
                  actor: Actor = SYSTEM) -> list[Record]:
    """Create the records whose keys are new (the others are left as they are) with their
    transfers, audit rows and events; returns the records created. Set-based: one statement
    for the rows, one for the transfers, so a settlement of 100,000 lines is a few round
    trips."""
    if not news:
        return []
    for new in news:
        sm.step(sm.NEW, f"produce_{new.state}", "operator" if actor.role != "system"
                else "system")
    rows = [_row(new) for new in {n.idem_key: n for n in news}.values()]
    funded = {n.idem_key for n in news if n.funded_by is not None}
    async with conn.transaction():
        created = await _fetch(conn, _INSERT, {c: [r[c] for r in rows] for c in _COLUMNS})
        await _announce(conn, [(None, r, r.produced_at) for r in created], actor, topic)
        moves = [move for r in created if r.idem_key not in funded
                 and (move := _money(r, sm.RECORD[(sm.NEW, f"produce_{r.state}")].move))]
        if moves:  # last: the agents' accounts are held only to the commit
            await ledger.append_last(conn, *moves)
    return created


async def _announce(conn: Conn, moved: Iterable[tuple[str | None, Record, datetime]],
                    actor: Actor, topic: str, reason: str | None = None) -> None:
    items = list(moved)
    if not items:
        return
    await audit.record(conn, *(actor.transition("commission", r.record_id, before, r.state,
                                                reason, amount=r.amount_fen,
                                                at=at.isoformat())
                               for before, r, at in items))
    await outbox.enqueue(conn, *(_event(r, topic, at) for _, r, at in items))


def _stamps(record: Record, to: str, at: datetime, reason: str | None) -> list[Any]:
    frozen_at = at if to == "frozen" else None
    due = (at + timedelta(days=record.freeze_days)
           if to == "frozen" and record.part in ("per_order", "one_time") else None)
    return [record.record_id, record.state, to, frozen_at, due,
            at if to == "unfreezing" else None, at if to == "available" else None,
            at if to in sm.FINAL else None, reason]


async def transition(conn: Conn, record_ids: Sequence[str], event: str, by: sm.Actor,
                     actor: Actor, at: datetime, topic: str, *, reason: str | None = None,
                     strict: bool = False) -> Moved:
    """Apply `event` to the records (locked in id order). A record whose state has no such
    row is skipped — or, `strict`, refused (CommissionTransitionRefused) — so a repeated or
    raced transition changes nothing. `at`: the instant stamped (a timer passes the due
    instant, C-09)."""
    async with conn.transaction():
        return await _transition(conn, record_ids, event, by, actor, at, topic, reason, strict)


async def _transition(conn: Conn, record_ids: Sequence[str], event: str, by: sm.Actor,
                      actor: Actor, at: datetime, topic: str, reason: str | None,
                      strict: bool) -> Moved:
    done = Moved()
    records = await _fetch(conn, _LOCK, (sorted(set(record_ids)),))
    found = {r.record_id for r in records}
    missing = [rid for rid in record_ids if rid not in found]
    if missing and strict:
        raise NotFound(f"commission {missing[0]}")
    done.skipped.extend(missing)
    plans: list[tuple[Record, sm.Step]] = []
    for record in records:
        try:
            plans.append((record, sm.step(record.state, event, by)))
        except sm.CommissionTransitionRefused:
            if strict:
                raise
            done.skipped.append(record.record_id)
    if not plans:
        return done
    stamps = [_stamps(r, s.to, at, reason) for r, s in plans]
    moved = await _fetch(conn, _MOVE, [list(col) for col in zip(*stamps, strict=True)])
    before = {r.record_id: r.state for r, _ in plans}
    step_of = {r.record_id: s for r, s in plans}
    transfers = [t for r in moved if (t := _money(r, step_of[r.record_id].move)) is not None]
    if transfers:
        await ledger.transfer(conn, *transfers)
    await _announce(conn, [(before[r.record_id], r, at) for r in moved], actor, topic, reason)
    await _follow_approvals(conn, moved, before, actor, at, topic)
    done.records.extend(moved)
    return done


async def _follow_approvals(conn: Conn, moved: list[Record], before: dict[str, str],
                            actor: Actor, at: datetime, topic: str) -> None:
    """An approval opens with `unfreezing` and closes when its record is reversed."""
    opened = [r for r in moved if r.state == "unfreezing"]
    if opened:
        await conn.execute(_OPEN_APPROVALS, ([r.record_id for r in opened],
                                             [at for _ in opened]))
        await audit.record(conn, *(actor.transition("commission_approval",
                                                    approval_id_of(r.record_id), None,
                                                    "pending", record_id=r.record_id)
                                   for r in opened))
    closing = [r.record_id for r in moved
               if r.state == "reversed" and before[r.record_id] == "unfreezing"]
    if closing:
        approvals = [a.approval_id for a in await _approvals(conn, _APPROVAL_OF, (closing,))]
        await _decide(conn, approvals, "closed", actor, at, None)


def approval_id_of(record_id: str) -> str:
    return f"ap-{record_id}"


async def _approvals(conn: Conn, query: str, params: Any) -> list[Approval]:
    async with conn.cursor(row_factory=class_row(Approval)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _decide(conn: Conn, approval_ids: list[str], state: str, actor: Actor, at: datetime,
                  reason: str | None) -> list[Approval]:
    decided = await _approvals(conn, _DECIDE, (at, actor.who, reason, approval_ids,
                                               [state for _ in approval_ids]))
    await audit.record(conn, *(actor.transition("commission_approval", a.approval_id,
                                                "pending", a.state, reason,
                                                record_id=a.record_id) for a in decided))
    return decided


async def decide(conn: Conn, approval_ids: Sequence[str], approve: bool, actor: Actor,
                 at: datetime, topic: str, reason: str | None = None) -> list[Approval]:
    """Platform finance approves or rejects unfreeze approvals, singly or in a batch (all or
    none): approved → the commission becomes available (frozen → available); rejected (a
    reason required) → `rejected`, its money back to platform revenue. A decided or closed
    approval refuses the whole batch (409 `approval_closed`); an unknown one is NotFound."""
    text = None if approve else sm.rejection_reason(reason)
    async with conn.transaction():
        return await _decide_all(conn, sorted(set(approval_ids)), approve, actor, at, topic,
                                 text)


async def _decide_all(conn: Conn, ids: list[str], approve: bool, actor: Actor, at: datetime,
                      topic: str, text: str | None) -> list[Approval]:
    found = await _approvals(conn, _APPROVALS_LOCK, (ids,))
    if len(found) != len(ids):
        known = {a.approval_id for a in found}
        raise NotFound(f"approval {next(i for i in ids if i not in known)}")
    event = "approve" if approve else "reject"
    for approval in found:
        sm.approval_step(approval.state, event)
    decided = await _decide(conn, ids, sm.approval_step("pending", event), actor, at, text)
    await transition(conn, [a.record_id for a in found], event, "finance", actor, at, topic,
                     reason=text, strict=True)
    return decided


async def unfreeze_due(conn: Conn, now: datetime, topic: str, limit: int = 500) -> int:
    """The H-13 timer: frozen records whose `unfreeze_due_at` has come become `unfreezing`
    with a pending approval — or `available` when their rule needs no approval — each stamped
    with its due instant. Rows other sweepers hold are skipped. Returns how many moved."""
    async with conn.transaction():
        return await _unfreeze_due(conn, now, topic, limit)


async def _unfreeze_due(conn: Conn, now: datetime, topic: str, limit: int) -> int:
    rows = await (await conn.execute(_DUE, (now, limit))).fetchall()
    ids = [row[0] for row in rows]
    if not ids:
        return 0
    records = await _fetch(conn, _LOCK, (ids,))
    count = 0
    for record in records:
        if record.unfreeze_due_at is None:  # not a timed record: the query never picks one
            continue
        event = "unfreeze" if record.requires_approval else "unfreeze_unapproved"
        moved = await transition(conn, [record.record_id], event, "system", SYSTEM,
                                 record.unfreeze_due_at, topic)
        count += len(moved.records)
    return count


async def get(conn: Conn, record_id: str) -> Record:
    found = await _fetch(conn, _GET, (record_id,))
    if not found:
        raise NotFound(f"commission {record_id}")
    return found[0]


async def by_keys(conn: Conn, idem_keys: Sequence[str]) -> dict[str, Record]:
    """The records of these idempotency keys that exist."""
    return {r.idem_key: r for r in await _fetch(conn, _BY_KEYS, (list(idem_keys),))}


async def get_approval(conn: Conn, approval_id: str) -> Approval:
    found = await _approvals(conn, _GET_APPROVAL, (approval_id,))
    if not found:
        raise NotFound(f"approval {approval_id}")
    return found[0]


async def history(conn: Conn, record_id: str) -> list[audit.AuditEvent]:
    """Every state change of the record and of its approval, in order (who, role, when)."""
    events = await audit.history(conn, "commission", record_id)
    events += await audit.history(conn, "commission_approval", approval_id_of(record_id))
    return sorted(events, key=lambda e: e.event_id)


