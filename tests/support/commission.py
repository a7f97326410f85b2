"""Commission rules and events in tests: rules stored as the rules API stores them, outbox
events handed to the commission consumer's `apply` (the same code the worker's agent runs,
without the broker), and records read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.settings import Settings
from store.db import Conn
from streams.commission import Handled, apply
from streams.events import BusinessEvent

SINCE = datetime(2000, 1, 1, tzinfo=UTC)


async def rule_row(db_url: str, rule_id: str, agent_id: str, kind: str, *,
                   package_ids: tuple[str, ...] = (), business_line: str | None = None,
                   amount_mode: str = "fixed", amount_value: int = 0, freeze_days: int = 7,
                   requires_approval: bool = True, terms: dict[str, Any] | None = None,
                   tiers: dict[str, Any] | None = None, version: int = 1,
                   effective_from: datetime = SINCE, effective_to: datetime | None = None,
                   status: str = "active") -> None:
    """Store a rule version directly (the rules API's validation is tested on its own)."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids,"
            " business_line, amount_mode, amount_value, freeze_days, requires_approval, terms,"
            " tiers, effective_from, effective_to, status, created_by) VALUES (%s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'test')",
            (rule_id, version, agent_id, kind, list(package_ids), business_line, amount_mode,
             amount_value, freeze_days, requires_approval, Jsonb(terms or {}),
             None if tiers is None else Jsonb(tiers), effective_from, effective_to, status))


async def one_time_rule(db_url: str, agent_id: str, package_id: str, *,
                        threshold_fen: int = 10000, amount_fen: int = 1000,
                        mode: str = "first", rule_id: str = "ot") -> None:
    """H-15's rule: first recharge ≥ 100 yuan → 10 yuan, frozen 7 days."""
    await rule_row(db_url, rule_id, agent_id, "one_time", package_ids=(package_id,),
                   amount_value=amount_fen,
                   terms={"recharge": {"mode": mode, "threshold_fen": threshold_fen}})


async def records(conn: Conn, **where: Any) -> list[dict[str, Any]]:
    """The commission records matching `where` (column = value), oldest first."""
    clauses = " AND ".join(f"{column} = %({column})s" for column in where) or "true"
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    await cur.execute(f"SELECT * FROM commission_records WHERE {clauses}"  # noqa: S608
                      " ORDER BY produced_at, record_id", where)
    return await cur.fetchall()


_OUTBOX = "SELECT event_id, kind, key, created_at, data FROM outbox_events ORDER BY enqueued_seq"


async def outbox_events(conn: Conn) -> list[BusinessEvent]:
    """Every business event enqueued so far, as the relay sends them to the orders topic."""
    rows = await (await conn.execute(_OUTBOX)).fetchall()
    return [BusinessEvent(event_id, kind, key, at.isoformat(), data)
            for event_id, kind, key, at, data in rows]


async def deliver(conn: Conn, settings: Settings,
                  events: list[BusinessEvent] | None = None) -> Handled:
    """Hand the events (default: the whole outbox, from the start) to the commission
    consumer's `apply`, as one batch."""
    done = Handled()
    await apply(conn, events if events is not None else await outbox_events(conn),
                settings.orders_topic, done)
    return done
