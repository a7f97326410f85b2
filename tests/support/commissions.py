"""Commission records in tests: the spec's agents and their people through the API, rules
stored as the rule module stores them, and records produced through the lifecycle itself
(`store.commissions.produce`) — the evaluation that normally produces them is not needed to
read, explain or decide them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from core.settings import Settings
from store import commissions
from store.commissions import NewRecord, Record
from tests.support.ledger import connect
from tests.support.pricing import Market, agent, market

# the terms each kind's rows need (rules.from_row reads them)
TERMS = {"one_time": {"recharge": {"mode": "first", "threshold_fen": 10000}}}
RULES = {"rA": ("A", "per_order", True), "rA2": ("A", "one_time", False),
         "rB": ("B", "one_time", True), "rN": ("A", "number_card_settlement", True)}


@asynccontextmanager
async def commission_market(settings: Settings, since: datetime) -> AsyncIterator[Market]:
    """Agents A and B, each agent's admin and A's viewer, platform finance and operator, and
    the rules of `RULES` (id: agent, kind, requires_approval) effective from `since`."""
    async with market(settings) as made:
        for name in ("A", "B"):
            await agent(made.admin, name)
        for name, role, of in (("a.admin", "agent_admin", "A"), ("a.viewer", "agent_viewer", "A"),
                               ("b.admin", "agent_admin", "B"), ("buyer", "end_user", "A")):
            await made.person(name, role, agent=of)
        await made.person("finance", "platform_finance")
        await made.person("operator", "platform_operator")
        async with connect(settings.require_database()) as conn:
            for rule_id, (owner, kind, approval) in RULES.items():
                await conn.execute(
                    "INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids,"
                    " amount_mode, amount_value, freeze_days, requires_approval, terms,"
                    " effective_from, status, created_by) VALUES (%s, 1, %s, %s, '{p90}',"
                    " 'percent', 500, 7, %s, %s, %s, 'active', 'admin')",
                    (rule_id, owner, kind, approval, Jsonb(TERMS.get(kind, {})),
                     since - timedelta(days=365)))
        yield made


def new(key: str, at: datetime, *, rule: str = "rA", amount: int = 300,
        state: Any = "frozen", part: Any = "one_time", explanation: dict[str, Any] | None = None,
        **extra: Any) -> NewRecord:
    owner, kind, approval = RULES[rule]
    return NewRecord(idem_key=key, part=part, rule_kind=kind, rule_id=rule, rule_version=1,
                     agent_id=owner, amount_fen=amount, state=state, freeze_days=7,
                     requires_approval=approval, explanation=explanation or {}, at=at,
                     timed=part in ("per_order", "one_time"), **extra)


async def produce(settings: Settings, *news: NewRecord) -> list[Record]:
    async with connect(settings.require_database()) as conn:
        return await commissions.produce(conn, news, settings.orders_topic)


async def unfreeze(settings: Settings, at: datetime) -> int:
    async with connect(settings.require_database()) as conn:
        return await commissions.unfreeze_due(conn, at, settings.orders_topic)
