"""Commission under `cardpulse bench --orders` (issue 17 "Speed"): how fast the commission
engine evaluates completed package orders.

The bench agent gets two rule sets, each a `per_order` rule (5 % of the cost price, no freeze:
paid to the agent's wallet at once) and a `long_term` rule (a fixed 1 yuan, waiting for the
card's real name, so produced `awaiting_conditions`):

- **end to end** (`commission_lag_s`): the live set, in force from just before the batch
  phase; the worker's commission consumer evaluates the cards as their `order_completed`
  events arrive, and the clock runs from the moment the bench saw the last order completed
  until every expected record (two per order) exists;
- **in process** (`commission_evaluations_per_s`): the backdated set, stored once the orders
  are done, in force over the single-create phase only (it ends where the live set begins, so
  the two never overlap). No event will ever ask the consumer about it, so its records are
  still to be made: `store.commission_eval.evaluate_cards` runs over every card in batches
  of `EVAL_BATCH` (one transaction each, as the consumer's batches are) and produces them —
  every card has two completed orders (one per phase) to evaluate. A second pass over the same
  cards, where every record already exists, is the re-evaluation the consumer does on a
  card's later events (`commission_reevaluations_per_s`).

The backdating goes through the store, not the API (which refuses a rule in the past, H-06):
a bench's shortcut, never the platform's.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from cardpulse.tools.bench.run import Progress
from domain.commission.rules import Amount, LongTermRule, PerOrderRule, Scope
from store import bench_orders, commission_eval, commission_rules
from store.agents import Actor

EVAL_BATCH = 500  # cards per evaluation, as a consumer batch would bring them
PER_ORDER_BP = 500
LONG_TERM_FEN = 100
RECORDS_PER_ORDER = 2  # a per-order rebate and a long-term record
LAG_TIMEOUT_S = 900.0
BENCH = Actor("bench", "admin")


@dataclass(frozen=True)
class RuleSet:
    per_order: str
    long_term: str

    @property
    def ids(self) -> list[str]:
        return [self.per_order, self.long_term]


async def now(url: str) -> datetime:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await bench_orders.db_now(conn)


async def store_rules(url: str, agent: str, package: str, tag: str, start: datetime,
                      end: datetime | None = None) -> RuleSet:
    """A per-order and a long-term rule of `agent` on `package`, in force [start, end)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await create_rules(conn, agent, package, tag, start, end)


async def create_rules(conn: psycopg.AsyncConnection[Any], agent: str, package: str, tag: str,
                       start: datetime, end: datetime | None = None) -> RuleSet:
    """`store_rules` on `conn`, in its transaction if it has one."""
    rules = RuleSet(f"bench-{tag}-per-order", f"bench-{tag}-long-term")
    scope = Scope((package,))
    await commission_rules.create(conn, PerOrderRule(
        rule_id=rules.per_order, agent_id=agent, scope=scope,
        amount=Amount("percent", PER_ORDER_BP), effective_from=start, effective_to=end),
        BENCH)
    await commission_rules.create(conn, LongTermRule(
        rule_id=rules.long_term, agent_id=agent, scope=scope,
        amount=Amount("fixed", LONG_TERM_FEN), effective_from=start, effective_to=end),
        BENCH)
    return rules


async def lag(url: str, rules: RuleSet, expected: int, completed_at: float,
              progress: Progress) -> float:
    """Seconds from `completed_at` (perf_counter when the bench saw the last order completed)
    until the consumer has produced `expected` records of `rules`."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            made = await bench_orders.rule_records(conn, rules.ids)
            waited = time.perf_counter() - completed_at
            if made >= expected:
                progress.done(f"commission: the consumer made all {made:,} records "
                              f"{waited:.2f} s after the last order completed")
                return waited
            if waited > LAG_TIMEOUT_S:
                raise RuntimeError(f"commission: {made:,}/{expected:,} records after "
                                   f"{waited:.0f} s")
            progress.show(f"commission: {made:,}/{expected:,} records by the consumer")
            await asyncio.sleep(0.05)


async def evaluate(url: str, iccids: list[str], orders: int, topic: str, label: str,
                   progress: Progress) -> dict[str, float]:
    """`evaluate_cards` over `iccids` in batches of EVAL_BATCH (one transaction each):
    completed orders evaluated and records produced per second, median batch time."""
    times: list[float] = []
    produced = 0
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        at = await bench_orders.db_now(conn)
        started = time.perf_counter()
        for lo in range(0, len(iccids), EVAL_BATCH):
            began = time.perf_counter()
            outcome = await commission_eval.evaluate_cards(
                conn, iccids[lo:lo + EVAL_BATCH], at, topic)
            times.append(time.perf_counter() - began)
            produced += outcome.produced
            progress.show(f"commission ({label}): {min(lo + EVAL_BATCH, len(iccids)):,}/"
                          f"{len(iccids):,} cards, {produced:,} records")
        total = time.perf_counter() - started
    progress.done(f"commission ({label}): {len(iccids):,} cards, {orders:,} completed orders, "
                  f"{produced:,} records in {total:.2f} s")
    return {"seconds": total, "orders_per_s": orders / total, "records": float(produced),
            "records_per_s": produced / total,
            "median_batch_ms": statistics.median(times) * 1000}


def report(fresh: dict[str, float], again: dict[str, float], lag_s: float | None
           ) -> dict[str, Any]:
    """The JSON keys the bench adds."""
    return {
        "commission_evaluations_per_s": round(fresh["orders_per_s"], 1),
        "commission_records_per_s": round(fresh["records_per_s"], 1),
        "commission_records": int(fresh["records"]),
        "commission_batch_cards": EVAL_BATCH,
        "commission_median_batch_ms": round(fresh["median_batch_ms"], 1),
        "commission_reevaluations_per_s": round(again["orders_per_s"], 1),
        "commission_reevaluation_median_batch_ms": round(again["median_batch_ms"], 1),
        "commission_lag_s": None if lag_s is None else round(lag_s, 2)}
