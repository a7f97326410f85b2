"""Evaluation of cards' commissions (H): reads the cards' facts, their agents' rules and the
records they already have in a few set-based queries, asks `domain.commission.evaluate` what
is missing, and applies it through the lifecycle (store/commissions.py) in the caller's
transaction. Called by the commission consumer for the cards an event touched, and by tests
and the what-if with the same code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from domain.commission.evaluate import Existing, Plan, Produce, plan_card
from domain.commission.rulebook import RuleBook
from domain.commission.rules import Rule, from_row
from store import commission_facts, commissions
from store.commissions import SYSTEM, NewRecord
from store.db import Conn

_EXISTING = """
SELECT record_id, idem_key, state, order_id, unit, iccid,
       coalesce(ARRAY(SELECT jsonb_array_elements_text(explanation->'depends_on'->'recharges')),
                '{}') AS depends_on
FROM commission_records WHERE iccid = ANY(%s)
"""


_RULES = """
SELECT * FROM commission_rules WHERE agent_id = ANY(%s) AND status <> 'draft'
ORDER BY agent_id, kind, rule_id, version
"""


@dataclass
class Outcome:
    produced: int = 0
    promoted: int = 0
    reversed: int = 0


async def rules_of_agents(conn: Conn, agent_ids: Sequence[str]) -> list[Rule]:
    """Every version of the agents' rules but drafts (a retired one still covers its
    period)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_RULES, (list(agent_ids),))
        return [from_row(row) for row in await cur.fetchall()]


async def _existing(conn: Conn, iccids: Sequence[str]) -> dict[str, dict[str, Existing]]:
    found: dict[str, dict[str, Existing]] = {iccid: {} for iccid in iccids}
    for rid, key, state, order_id, unit, iccid, depends in await (
            await conn.execute(_EXISTING, (list(iccids),))).fetchall():
        found.setdefault(iccid, {})[key] = Existing(rid, key, state, order_id, unit,
                                                    tuple(depends))
    return found


async def metrics(conn: Conn, book: RuleBook) -> dict[tuple[str, str], int]:
    """The tier metrics (H-27: current state) of the agents whose rules have tiers."""
    values: dict[tuple[str, str], int] = {}
    for agent_id, metric in book.tier_metrics():
        if metric == "activation_count":
            values[(agent_id, metric)] = await commission_facts.activation_count(conn, agent_id)
        elif metric == "pickup_volume":
            values[(agent_id, metric)] = await commission_facts.pickup_volume(conn, agent_id)
    return values


def _record(iccid: str, item: Produce, at: datetime) -> NewRecord:
    rule = item.rule
    return NewRecord(idem_key=item.idem_key, part=item.part, rule_kind=rule.kind,
                     rule_id=rule.rule_id, rule_version=rule.version, agent_id=item.agent_id,
                     amount_fen=item.amount_fen, state=item.state,
                     freeze_days=rule.freeze_days, requires_approval=rule.requires_approval,
                     explanation=item.explanation, at=at, timed=item.timed, iccid=iccid,
                     order_id=item.order_id, unit=item.unit)


async def plan_cards(conn: Conn, iccids: Sequence[str], now: datetime,
                     book: RuleBook | None = None) -> dict[str, Plan]:
    """Each card's plan (nothing applied): `book` replaces the stored rules (what-if)."""
    facts = await commission_facts.card_facts(conn, list(iccids))
    if book is None:
        agents = sorted({o.agent_id for f in facts.values() for o in f.package_orders})
        book = RuleBook(await rules_of_agents(conn, agents))
    values = await metrics(conn, book)
    existing = await _existing(conn, list(facts))

    def metric(agent_id: str, name: str) -> int:
        return values.get((agent_id, name), 0)

    return {iccid: plan_card(card, book.find, metric, existing.get(iccid, {}), now)
            for iccid, card in facts.items()}


async def evaluate_cards(conn: Conn, iccids: Sequence[str], now: datetime, topic: str
                         ) -> Outcome:
    """Produce, promote and reverse what the cards' facts call for (H-37: idempotent)."""
    done = Outcome()
    plans = await plan_cards(conn, iccids, now)
    news = [_record(iccid, item, now) for iccid, plan in plans.items() for item in plan.produce]
    promote = [rid for plan in plans.values() for rid in plan.promote]
    reverse = [rid for plan in plans.values() for rid in plan.reverse]
    async with conn.transaction():
        done.produced = len(await commissions.produce(conn, news, topic))
        if promote:
            moved = await commissions.transition(conn, promote, "conditions_met", "system",
                                                 SYSTEM, now, topic)
            done.promoted = len(moved.records)
        if reverse:
            moved = await commissions.transition(conn, reverse, "reverse", "system", SYSTEM,
                                                 now, topic, reason="refunded")
            done.reversed = len(moved.records)
    return done


def summary(plans: dict[str, Plan]) -> dict[str, Any]:
    """Per agent: what the plans would pay (the what-if's answer)."""
    per_agent: dict[str, dict[str, int]] = {}
    for plan in plans.values():
        for item in plan.produce:
            row = per_agent.setdefault(item.agent_id, {"records": 0, "amount_fen": 0})
            row["records"] += 1
            row["amount_fen"] += item.amount_fen
    return per_agent
