"""What-if pricing of a rule change (issue 17, item 9): run a draft rule version over a past
period on the stored facts — each card as it stood at the period's end — and answer what it
would have paid per agent, beside what the rule in force actually produced for those sales.
Nothing is written: no record, no transfer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from psycopg.rows import dict_row

from domain.commission.evaluate import facts_until, plan_card
from domain.commission.facts import CardFacts
from domain.commission.rulebook import RuleBook
from domain.commission.rules import Rule, from_row
from store import commission_eval, commission_facts
from store.db import Conn
from store.errors import NotFound

# the cards that completed a package of the agent in the period
_CARDS = """
SELECT DISTINCT o.iccid FROM orders o
JOIN audit_events a ON a.subject_kind = 'order' AND a.subject_id = o.order_id
                   AND a.to_state = 'completed'
WHERE o.kind = 'package' AND o.agent_id = %s AND o.iccid IS NOT NULL
  AND a.at >= %s AND a.at < %s
"""
_PAID = """
SELECT agent_id, count(*), coalesce(sum(amount_fen), 0) FROM commission_records
WHERE rule_id = %s AND produced_at >= %s AND produced_at < %s
  AND state NOT IN ('invalid', 'rejected', 'reversed')
GROUP BY agent_id
"""


_VERSION = "SELECT * FROM commission_rules WHERE rule_id = %s AND version = %s"


async def rule_version(conn: Conn, rule_id: str, version: int) -> Rule:
    """One stored version of a rule, whatever its status."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_VERSION, (rule_id, version))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"commission rule {rule_id} version {version}")
    return from_row(row)


@dataclass
class AgentFigures:
    records: int = 0
    amount_fen: int = 0


@dataclass
class WhatIf:
    """Per agent: what the draft would have produced and what the stored rule did produce."""

    start: datetime
    end: datetime
    cards: int = 0
    would_pay: dict[str, AgentFigures] = field(default_factory=dict)
    did_pay: dict[str, AgentFigures] = field(default_factory=dict)
    by_state: dict[str, int] = field(default_factory=dict)


async def what_if(conn: Conn, draft: Rule, start: datetime, end: datetime) -> WhatIf:
    """Price `draft` (any status; taken as in force over [start, end)) on the sales of its
    agent completed in the period."""
    trial = replace(draft, status="active", effective_from=min(draft.effective_from, start),
                    effective_to=None, retired_at=None)
    book = RuleBook([trial])
    rows = await (await conn.execute(_CARDS, (draft.agent_id, start, end))).fetchall()
    iccids = [row[0] for row in rows]
    answer = WhatIf(start, end, cards=len(iccids))
    facts = await commission_facts.card_facts(conn, iccids)
    metrics = await commission_eval.metrics(conn, book)

    def metric(agent_id: str, name: str) -> int:
        return metrics.get((agent_id, name), 0)

    for card in facts.values():
        plan = plan_card(facts_until(card, end), book.find, metric, {}, end)
        for item in plan.produce:
            if item.order_id is not None and not _in(card, item.order_id, start, end):
                continue
            figures = answer.would_pay.setdefault(item.agent_id, AgentFigures())
            figures.records += 1
            figures.amount_fen += item.amount_fen
            answer.by_state[item.state] = answer.by_state.get(item.state, 0) + 1
    for agent_id, count, amount in await (
            await conn.execute(_PAID, (draft.rule_id, start, end))).fetchall():
        answer.did_pay[agent_id] = AgentFigures(int(count), int(amount))
    return answer


def _in(card: CardFacts, order_id: str, start: datetime, end: datetime) -> bool:
    """Whether the order the plan pays on completed in the period."""
    return any(o.order_id == order_id and start <= o.completed_at < end
               for o in card.package_orders)
