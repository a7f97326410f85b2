"""Number-card settlements (shared/specs/business.md §5.6, H-31 … H-36; migration 0106).

A factory's settlement statement (factory, period, total, lines of ICCID + amount) is imported
as ONE batch in ONE transaction, set-based whatever its size: one query matches every line to
its card's attributed agent (`card_attributions`) and that agent's `number_card_settlement`
rule in force at the import instant covering the card's product (`cards.product_id`; a rule
scoped by package, else by the product's business line — a package-scoped rule wins); the
commissions are computed in `domain.commission.number_cards`; the lines are written with one
statement, and the records are produced with ONE `commissions.produce` call (part
`number_card`, key `number_card:{batch}:{line}`, `frozen`, not timed: they wait for their
conditions, H-33).

The ledger (SM-H-COMM "factory:settlement → agent:commission_frozen; remainder →
platform:revenue"): the records' freeze moves `factory:{f}:settlement → agent:{a}:
commission_frozen` are made as ONE transfer per agent, `settlement:{batch}:freeze:{agent}`, for
the sum of that agent's commissions in the batch (each record names it in `funded_by`: one
transfer per line would update the agent's account row once per line in one transaction,
which PostgreSQL does in time quadratic in the lines); each record's later moves (release,
return) are its own. ONE batch transfer `settlement:{batch}:profit` moves the rest of the
statement's total (total − Σ commissions) from the factory to `platform:revenue` — or, when the
commissions exceed the total (negative margin over the batch), that excess from
`platform:revenue` to the factory. Either way the factory account is debited exactly the
statement's total and every transfer balances.

Retained profit (H-34), per batch and per line: total − the agent commissions that are not
closed (an invalid, rejected or reversed commission's money went back to platform revenue).
The batch row keeps the figures at import; `batch()` and `lines()` compute the live ones.

Conditions (H-35) are evaluated by `evaluate_number_cards` at import, on card events (the
commission consumer calls it) and by the daily sweep `sweep_number_cards` until the deadline.
A card's activation instant is its first operator `activated` card event, else — a card whose
network status is `active` — `cards.network_status_at` (the instant it was last seen turning
active): the only trace of activation the platform has for cards without such an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row

from core.money import Fen
from domain.commission import number_cards as nc
from domain.imports.kinds import MAX_ROWS, SettlementHeader, SettlementLine, check_rows, check_total
from domain.imports.sheet import read_sheet
from domain.imports.table import FailedRow, RowContext
from domain.ledger import accounts
from domain.ledger.transfers import FeeType, Transfer
from domain.refusals import Refusal
from store import commission_facts, commissions, ledger
from store.agents import Actor
from store.commissions import SYSTEM, NewRecord
from store.db import Conn
from store.errors import NotFound

CLOSED = ("invalid", "rejected", "reversed")
SWEEP_CHUNK = 2000


class SettlementExists(Refusal):
    """H-36: a (factory, period) is imported once (409)."""

    code = "settlement_exists"
    message_zh = "该厂家该周期的结算单已导入"
    message_en = "This factory's settlement for this period has already been imported"


@dataclass(frozen=True)
class Batch:
    batch_id: str
    factory_id: str
    period: str
    total_fen: int
    lines: int
    matched: int
    unmatched: int
    agent_commission_fen: int
    retained_profit_fen: int
    negative_margin_lines: int
    task_id: str | None
    imported_by: str
    imported_at: datetime


@dataclass(frozen=True)
class Line:
    batch_id: str
    line_no: int
    iccid: str
    amount_fen: int
    agent_id: str | None
    rule_id: str | None
    rule_version: int | None
    commission_fen: int | None
    record_id: str | None
    status: str
    negative_margin: bool
    record_state: str | None
    retained_profit_fen: int


@dataclass(frozen=True)
class Imported:
    """What an import did: the batch, and the rows refused (with 失败原因)."""

    batch: Batch
    failed: tuple[FailedRow, ...]
    header: tuple[str, ...]


_EXISTS = "SELECT 1 FROM settlement_batches WHERE factory_id = %s AND period = %s"
# each line's attributed agent and that agent's rule in force covering the card's product
_MATCH = """
SELECT l.line_no, a.agent_id, r.rule_id, r.version
FROM unnest(%(line_no)b::int[], %(iccid)b::text[]) AS l(line_no, iccid)
LEFT JOIN card_attributions a ON a.iccid = l.iccid
LEFT JOIN cards c ON c.iccid = l.iccid
LEFT JOIN packages p ON p.package_id = c.product_id
LEFT JOIN LATERAL (
    SELECT r.* FROM commission_rules r
    WHERE r.agent_id = a.agent_id AND r.kind = 'number_card_settlement'
      AND r.status <> 'draft' AND r.effective_from <= %(at)s
      AND (r.effective_to IS NULL OR %(at)s < r.effective_to)
      AND (r.retired_at IS NULL OR %(at)s < r.retired_at)
      AND (c.product_id = ANY(r.package_ids)
           OR r.business_line = coalesce(p.business_line, 'traffic_card'))
    ORDER BY cardinality(r.package_ids) > 0 DESC, r.effective_from DESC, r.version DESC
    LIMIT 1) r ON a.agent_id IS NOT NULL
"""
_RULES = """
SELECT rule_id, version, amount_mode, amount_value, freeze_days, requires_approval, terms
FROM commission_rules r JOIN unnest(%s::text[], %s::int[]) AS k(id, v)
  ON r.rule_id = k.id AND r.version = k.v
"""
_INSERT_BATCH = """
INSERT INTO settlement_batches (batch_id, factory_id, period, total_fen, lines, matched,
    unmatched, agent_commission_fen, retained_profit_fen, negative_margin_lines, task_id,
    imported_by, imported_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (factory_id, period) DO NOTHING
RETURNING *
"""
_INSERT_LINES = """
INSERT INTO settlement_lines (batch_id, line_no, iccid, amount_fen, agent_id, rule_id,
    rule_version, commission_fen, record_id, status, negative_margin)
SELECT %b, * FROM unnest(%b::int[], %b::text[], %b::bigint[], %b::text[], %b::text[],
    %b::int[], %b::bigint[], %b::text[], %b::text[], %b::bool[])
"""
_LIVE = """
SELECT coalesce(sum(l.commission_fen) FILTER (WHERE r.state NOT IN ('invalid', 'rejected',
                                                                    'reversed')), 0)
FROM settlement_lines l JOIN commission_records r ON r.record_id = l.record_id
WHERE l.batch_id = %s
"""
_BATCHES = "SELECT * FROM settlement_batches ORDER BY imported_at DESC, batch_id LIMIT %s"
_BATCH = "SELECT * FROM settlement_batches WHERE batch_id = %s"
_LINES = """
SELECT l.batch_id, l.line_no, l.iccid, l.amount_fen, l.agent_id, l.rule_id, l.rule_version,
       l.commission_fen, l.record_id, l.status, l.negative_margin, r.state AS record_state,
       l.amount_fen - CASE WHEN r.state IS NULL OR r.state IN ('invalid', 'rejected',
                                                               'reversed') THEN 0
                           ELSE l.commission_fen END AS retained_profit_fen
FROM settlement_lines l LEFT JOIN commission_records r ON r.record_id = l.record_id
WHERE l.batch_id = %s AND (%s::text IS NULL OR l.status = %s)
  AND (NOT %s OR l.negative_margin)
ORDER BY l.line_no LIMIT %s OFFSET %s
"""
# frozen number-card records of the cards (all of them: iccids NULL), with their batch and rule
_FROZEN = """
SELECT r.record_id, r.iccid, r.requires_approval, b.period, b.imported_at, cr.terms
FROM commission_records r
JOIN settlement_batches b ON b.batch_id = r.batch_id
JOIN commission_rules cr ON cr.rule_id = r.rule_id AND cr.version = r.rule_version
WHERE r.part = 'number_card' AND r.state = 'frozen'
  AND (%(ids)s::text[] IS NULL OR r.iccid = ANY(%(ids)s))
  AND (%(after)s::text IS NULL OR r.record_id > %(after)s)
ORDER BY r.record_id LIMIT %(limit)s
"""
_ACTIVATION = """
SELECT c.iccid, coalesce(e.at, CASE WHEN c.network_status = 'active'
                                    THEN c.network_status_at END),
       c.network_status = 'active'
FROM cards c
LEFT JOIN LATERAL (SELECT min(at) AS at FROM card_events
                   WHERE iccid = c.iccid AND type = 'activated'
                     AND outcome <> 'unknown_card') e ON true
WHERE c.iccid = ANY(%s)
"""


def batch_id_of(factory_id: str, period: str) -> str:
    """One batch per (factory, period): its id says which."""
    return f"stl-{factory_id}-{period}"


def freeze_id(batch_id: str, agent_id: str) -> str:
    """The transfer that freezes an agent's commissions of a batch (factory → frozen)."""
    return f"settlement:{batch_id}:freeze:{agent_id}"


def idem_key(batch_id: str, line_no: int) -> str:
    return f"number_card:{batch_id}:{line_no}"


async def _fetch_batches(conn: Conn, query: str, params: Any) -> list[Batch]:
    async with conn.cursor(row_factory=class_row(Batch)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def import_file(conn: Conn, content: bytes, header: SettlementHeader, *, actor: Actor,
                      at: datetime, topic: str, task_id: str | None = None) -> Imported:
    """The upload's steps in one call (tests, scripts; the API's upload goes through the
    import task list, which applies `import_batch`): read the sheet, refuse a statement whose
    (factory, period) exists (409) or whose lines do not add up to its total (422), validate
    the rows, import the valid lines as the batch."""
    if await (await conn.execute(_EXISTS, (header.factory_id, header.period))).fetchone():
        raise SettlementExists()
    sheet = read_sheet(content, MAX_ROWS["number_card_settlement"])
    checked = check_rows("number_card_settlement", sheet, RowContext(now=at))
    check_total(sheet, header)
    lines = [row for row in checked.valid if isinstance(row, SettlementLine)]
    batch = await import_batch(conn, header, lines, actor=actor, at=at, topic=topic,
                               task_id=task_id)
    return Imported(batch, checked.failed, checked.header)


async def import_batch(conn: Conn, header: SettlementHeader, lines: Sequence[SettlementLine],
                       *, actor: Actor, at: datetime, topic: str,
                       task_id: str | None = None) -> Batch:
    """H-31 … H-36: the batch, its lines, its records and its ledger moves in one transaction
    (see the module's docstring); then, committed, the conditions are evaluated once (H-35:
    in chunks, each its own transaction when the connection is in autocommit)."""
    batch_id = batch_id_of(header.factory_id, header.period)
    source = accounts.factory_settlement(header.factory_id)
    rows = await (await conn.execute(_MATCH, {
        "line_no": [line.row_no for line in lines], "iccid": [line.iccid for line in lines],
        "at": at})).fetchall()
    match = {row[0]: row for row in rows}
    keys = sorted({(row[2], row[3]) for row in rows if row[2] is not None})
    rules = {(r[0], r[1]): r[2:] for r in await (await conn.execute(_RULES, (
        [k[0] for k in keys], [k[1] for k in keys]))).fetchall()}
    news: list[NewRecord] = []
    per_agent: dict[str, int] = {}
    cols: list[list[Any]] = [[] for _ in range(10)]
    commission_total = negative = matched = 0
    for line in lines:
        _, agent, rule_id, version = match[line.row_no]
        record_id = commission = None
        flagged = False
        if rule_id is not None:
            mode, value, freeze_days, approval, terms = rules[(rule_id, version)]
            commission = nc.line_commission(mode, int(value), line.amount_fen)
            flagged = commission > line.amount_fen
            key = idem_key(batch_id, line.row_no)
            record_id = commissions.record_id_of(key)
            per_agent[agent] = per_agent.get(agent, 0) + commission
            news.append(NewRecord(
                idem_key=key, part="number_card", rule_kind="number_card_settlement",
                rule_id=rule_id, rule_version=version, agent_id=agent, amount_fen=commission,
                state="frozen", freeze_days=freeze_days, requires_approval=approval,
                explanation={
                    "base": {"source": "settlement_line", "batch_id": batch_id,
                             "factory_id": header.factory_id, "period": header.period,
                             "line_no": line.row_no, "amount_fen": line.amount_fen},
                    "rule": {"rule_id": rule_id, "version": version, "kind":
                             "number_card_settlement", "mode": mode, "value": int(value)},
                    "formula": nc.formula(mode, int(value), line.amount_fen),
                    "rounding": "half-up" if mode == "percent" else None,
                    "negative_margin": flagged, "terms": terms,
                    "funded_by": freeze_id(batch_id, agent)},
                at=at, timed=False, iccid=line.iccid, batch_id=batch_id, line_no=line.row_no,
                source_account=source, funded_by=freeze_id(batch_id, agent)))
            commission_total += commission
            negative += flagged
            matched += 1
        for column, value_ in zip(cols, (
                line.row_no, line.iccid, line.amount_fen, agent if rule_id else None, rule_id,
                version, commission, record_id, "matched" if rule_id else "unmatched",
                flagged), strict=True):
            column.append(value_)
    profit = header.total_fen - commission_total
    async with conn.transaction():
        created = await _fetch_batches(conn, _INSERT_BATCH, (
            batch_id, header.factory_id, header.period, header.total_fen, len(lines), matched,
            len(lines) - matched, commission_total, profit, negative, task_id, actor.who, at))
        if not created:
            raise SettlementExists()
        await conn.execute(_INSERT_LINES, (batch_id, *cols))
        await commissions.produce(conn, news, topic, actor)
        moves = [Transfer(freeze_id(batch_id, agent), source,
                          accounts.agent_commission_frozen(agent), Fen(amount),
                          FeeType.COMMISSION, metadata={"batch_id": batch_id, "agent": agent})
                 for agent, amount in sorted(per_agent.items()) if amount > 0]
        if profit != 0:
            debit, credit = (source, accounts.REVENUE) if profit > 0 else (accounts.REVENUE,
                                                                           source)
            moves.append(Transfer(
                f"settlement:{batch_id}:profit", debit, credit, Fen(abs(profit)),
                FeeType.FACTORY_COMMISSION,
                metadata={"batch_id": batch_id, "total_fen": header.total_fen,
                          "agent_commission_fen": commission_total}))
        if moves:  # last: the agents' accounts are held only to the commit
            await ledger.append_last(conn, *moves)
    # H-35 at import: after the commit, chunk by chunk (a chunk's transitions, one transaction)
    await evaluate_number_cards(conn, [n.iccid for n in news if n.iccid], at, topic)
    return created[0]


@dataclass
class Evaluated:
    unfrozen: int = 0
    invalidated: int = 0
    waiting: int = 0


async def _activations(conn: Conn, iccids: list[str]) -> dict[str, nc.Activation]:
    rows = await (await conn.execute(_ACTIVATION, (iccids,))).fetchall()
    return {iccid: nc.Activation(at, bool(active)) for iccid, at, active in rows}


async def _evaluate(conn: Conn, frozen: list[tuple[Any, ...]], now: datetime, topic: str,
                    done: Evaluated) -> None:
    iccids = sorted({row[1] for row in frozen})
    facts = await commission_facts.card_facts(conn, iccids)
    activation = await _activations(conn, iccids)
    periods: dict[str, list[str]] = {}
    for row in frozen:
        periods.setdefault(row[3], []).append(row[1])
    sanwu = {(period, iccid): verdict[1] == "是"
             for period, cards in periods.items()
             for iccid, verdict in (await commission_facts.advisory_verdicts(
                 conn, sorted(set(cards)), period)).items()}
    groups: dict[tuple[str, datetime, str | None], list[str]] = {}
    for record_id, iccid, approval, period, imported_at, terms in frozen:
        if iccid not in facts:
            continue
        decision, verdict = nc.decide(nc.Terms.of(terms), facts[iccid],
                                      activation.get(iccid, nc.Activation(None, False)),
                                      sanwu.get((period, iccid)), imported_at, now)
        if decision == "unfreeze":
            event = "unfreeze" if approval else "unfreeze_unapproved"
            groups.setdefault((event, verdict.at, None), []).append(record_id)
        elif decision == "invalidate":
            groups.setdefault(("invalidate", verdict.at, nc.UNMET_REASON), []).append(record_id)
        else:
            done.waiting += 1
    for (event, at, reason), ids in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
        moved = await commissions.transition(conn, ids, event, "system", SYSTEM, at, topic,
                                             reason=reason)
        if event == "invalidate":
            done.invalidated += len(moved.records)
        else:
            done.unfrozen += len(moved.records)


async def evaluate_number_cards(conn: Conn, iccids: Sequence[str], now: datetime, topic: str
                                ) -> Evaluated:
    """H-35 for the frozen number-card commissions of these cards: conditions met →
    `unfreezing` with an approval (or `available` without one); deadline reached unmet →
    `invalid` ("返佣条件未满足"), stamped with the deadline. Idempotent."""
    done = Evaluated()
    ids = sorted(set(iccids))
    for start in range(0, len(ids), SWEEP_CHUNK):
        chunk = ids[start:start + SWEEP_CHUNK]
        after: str | None = None
        while True:
            frozen = await (await conn.execute(_FROZEN, {
                "ids": chunk, "after": after, "limit": 10 * SWEEP_CHUNK})).fetchall()
            if not frozen:
                break
            async with conn.transaction():
                await _evaluate(conn, frozen, now, topic, done)
            after = frozen[-1][0]
    return done


async def sweep_number_cards(conn: Conn, now: datetime, topic: str) -> Evaluated:
    """The daily sweep (H-35): every frozen number-card commission, in chunks, each chunk in
    its own transaction. Idempotent: a record already moved is not frozen any more."""
    done = Evaluated()
    after: str | None = None
    while True:
        frozen = await (await conn.execute(_FROZEN, {"ids": None, "after": after,
                                                     "limit": SWEEP_CHUNK})).fetchall()
        if not frozen:
            return done
        async with conn.transaction():
            await _evaluate(conn, frozen, now, topic, done)
        after = frozen[-1][0]


# ---- reading ---------------------------------------------------------------------------------


async def _live(conn: Conn, batch: Batch) -> Batch:
    row = await (await conn.execute(_LIVE, (batch.batch_id,))).fetchone()
    kept = int(row[0]) if row else 0
    return Batch(**{**batch.__dict__, "retained_profit_fen": batch.total_fen - kept})


async def batches(conn: Conn, limit: int = 100) -> list[Batch]:
    """The batches, newest first, with their live retained profit (H-34)."""
    return [await _live(conn, b) for b in await _fetch_batches(conn, _BATCHES, (limit,))]


async def batch(conn: Conn, batch_id: str) -> Batch:
    found = await _fetch_batches(conn, _BATCH, (batch_id,))
    if not found:
        raise NotFound(f"settlement {batch_id}")
    return await _live(conn, found[0])


async def lines(conn: Conn, batch_id: str, *, status: str | None = None,
                negative_only: bool = False, limit: int = 1000, offset: int = 0
                ) -> list[Line]:
    """The batch's lines (filtered by status / negative margin) with each line's record state
    and live retained profit."""
    async with conn.cursor(row_factory=class_row(Line)) as cur:
        await cur.execute(_LINES, (batch_id, status, status, negative_only, limit, offset))
        return await cur.fetchall()
