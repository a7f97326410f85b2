"""Quota evaluation against PostgreSQL: lock, load, decide (`domain.quota.evaluate`), save.

`evaluate` is the one entry point for every trigger (usage, configuration, manual stop,
cycle rollover). It runs inside the caller's transaction, locks the cards and pools it
re-evaluates (so concurrent triggers serialise), and returns the desired-state changes and new
alerts for the caller to publish after commit. A pool running dry is one pool-row write; its
members' changes are read back in one query (`cp_effective_reasons`, the SQL copy of the
rule, property-tested against it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg.rows import class_row, kwargs_row

from core.operators import CardStatus
from domain.quota import (
    AlertDue,
    CardInput,
    CardQuota,
    DesiredChange,
    Evaluation,
    PoolInput,
    PoolQuota,
)
from domain.quota import (
    evaluate as decide,
)
from store.controls import rearm_failed
from store.db import Conn

_LOAD_CARDS = """
SELECT c.iccid, c.package_bytes, c.pool_id, coalesce(u.bytes, 0) AS usage_bytes,
       c.stop_reasons, c.warn_percents, c.enterprise_id,
       cp_cycle(cp_now(), e.timezone) AS cycle,
       c.reasons_cycle IS DISTINCT FROM cp_cycle(cp_now(), e.timezone) AS stale
FROM cards c
JOIN enterprises e ON e.enterprise_id = c.enterprise_id
LEFT JOIN card_cycle_usage u ON u.iccid = c.iccid AND u.cycle = cp_cycle(cp_now(), e.timezone)
WHERE c.iccid = ANY(%(iccids)s) OR c.pool_id = ANY(%(members_of)s)
ORDER BY c.iccid
FOR UPDATE OF c
"""

_LOAD_POOLS = """
SELECT p.pool_id, p.limit_bytes, p.per_card_limit_bytes, coalesce(u.bytes, 0) AS used_bytes,
       p.exhausted, p.warn_percents, p.enterprise_id,
       cp_cycle(cp_now(), e.timezone) AS cycle,
       p.state_cycle IS DISTINCT FROM cp_cycle(cp_now(), e.timezone) AS stale
FROM pools p
JOIN enterprises e ON e.enterprise_id = p.enterprise_id
LEFT JOIN pool_cycle_usage u ON u.pool_id = p.pool_id
      AND u.cycle = cp_cycle(cp_now(), e.timezone)
WHERE p.pool_id = ANY(%s)
ORDER BY p.pool_id
FOR UPDATE OF p
"""

_SAVE_CARDS = """
UPDATE cards c
SET stop_reasons = CASE WHEN v.reasons_csv IS NULL THEN c.stop_reasons
                        ELSE string_to_array(v.reasons_csv, ',') END,
    reasons_cycle = v.cycle,
    desired_version = c.desired_version + (v.reasons_csv IS NOT NULL)::int,
    desired_at = CASE WHEN v.reasons_csv IS NULL THEN c.desired_at
                      ELSE coalesce(%s::timestamptz, now()) END
FROM unnest(%s::text[], %s::text[], %s::date[]) AS v(iccid, reasons_csv, cycle)
WHERE c.iccid = v.iccid
"""

_SAVE_POOLS = """
UPDATE pools p SET exhausted = v.exhausted, state_cycle = v.cycle,
    state_at = CASE WHEN p.exhausted = v.exhausted THEN p.state_at
                    ELSE coalesce(%s::timestamptz, now()) END
FROM unnest(%s::text[], %s::bool[], %s::date[]) AS v(pool_id, exhausted, cycle)
WHERE p.pool_id = v.pool_id
"""

# A card evaluated before its first usage of the cycle gets its row now (no usage, never
# "used" for the controls' ordering), so that first usage is not an evaluation of its own.
_SAVE_CHECKS = """
INSERT INTO card_cycle_usage AS u (iccid, cycle, bytes, records, updated_at, next_check)
SELECT v.iccid, v.cycle, 0, 0, '-infinity', v.next_check
FROM unnest(%s::text[], %s::date[], %s::int8[]) AS v(iccid, cycle, next_check)
ORDER BY v.iccid
ON CONFLICT (iccid, cycle) DO UPDATE SET next_check = excluded.next_check
"""

# The members of pools whose flag flipped, with their reasons as the API shows them now.
_FLIPPED_MEMBERS = """
SELECT c.iccid, cp_desired_status(c.stop_reasons, v.exhausted) AS desired_status,
       cp_effective_reasons(c.stop_reasons, v.exhausted) AS stop_reasons
FROM unnest(%s::text[], %s::bool[]) AS v(pool_id, exhausted)
JOIN cards c ON c.pool_id = v.pool_id
ORDER BY c.iccid
"""

_ALERT = """
INSERT INTO alerts (enterprise_id, kind, subject, cycle, percent, used_bytes, limit_bytes,
                    webhook_state, next_attempt)
SELECT v.enterprise_id, v.kind, v.subject, v.cycle, v.percent, v.used, v.lim,
       CASE WHEN e.webhook_url IS NULL THEN 'none' ELSE 'pending' END, now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::date[], %s::int[], %s::int8[], %s::int8[])
     AS v(enterprise_id, kind, subject, cycle, percent, used, lim)
JOIN enterprises e ON e.enterprise_id = v.enterprise_id
ON CONFLICT (kind, subject, cycle, percent) DO NOTHING
RETURNING alert_id, enterprise_id, kind, subject, cycle, percent, used_bytes, limit_bytes
"""

# Cards and pools whose reasons belong to a cycle that has ended (the rollover's work).
_STALE_CARDS = """
SELECT c.iccid FROM cards c JOIN enterprises e ON e.enterprise_id = c.enterprise_id
WHERE c.stop_reasons <> '{}'  -- implies the partial index cards_attention: no fleet scan
  AND c.stop_reasons && cp_card_rules()
  AND c.reasons_cycle IS DISTINCT FROM cp_cycle(cp_now(), e.timezone)
ORDER BY c.iccid LIMIT %s
"""
_STALE_POOLS = """
SELECT p.pool_id FROM pools p JOIN enterprises e ON e.enterprise_id = p.enterprise_id
WHERE p.exhausted AND p.state_cycle IS DISTINCT FROM cp_cycle(cp_now(), e.timezone)
ORDER BY p.pool_id LIMIT %s
"""


@dataclass(frozen=True)
class Alert:
    """A warning raised (first time for its subject, cycle and threshold)."""

    alert_id: int
    enterprise_id: str
    kind: str
    subject: str
    cycle: date
    percent: int
    used_bytes: int
    limit_bytes: int


@dataclass(frozen=True)
class Outcome:
    """What a committed evaluation asks the caller to publish."""

    changes: list[DesiredChange]
    alerts: list[Alert]


NOTHING = Outcome([], [])


def _card_input(*, iccid: str, package_bytes: int | None, pool_id: str | None,
                usage_bytes: int, stop_reasons: list[str], warn_percents: list[int],
                enterprise_id: str, cycle: date, stale: bool) -> CardInput:
    quota = CardQuota(iccid, package_bytes, pool_id, usage_bytes, frozenset(stop_reasons))
    return CardInput(quota, warn_percents, enterprise_id, cycle, stale)


def _pool_input(*, pool_id: str, limit_bytes: int, per_card_limit_bytes: int | None,
                used_bytes: int, exhausted: bool, warn_percents: list[int], enterprise_id: str,
                cycle: date, stale: bool) -> PoolInput:
    quota = PoolQuota(pool_id, limit_bytes, per_card_limit_bytes, used_bytes)
    return PoolInput(quota, exhausted, warn_percents, enterprise_id, cycle, stale)


async def _load(conn: Conn, iccids: Collection[str], members_of: Collection[str],
                pool_ids: Collection[str]) -> tuple[list[CardInput], dict[str, PoolInput]]:
    async with conn.cursor(row_factory=kwargs_row(_card_input)) as cur:
        await cur.execute(_LOAD_CARDS, {"iccids": list(iccids), "members_of": list(members_of)})
        cards = await cur.fetchall()
    wanted = set(pool_ids) | {c.quota.pool_id for c in cards if c.quota.pool_id}
    async with conn.cursor(row_factory=kwargs_row(_pool_input)) as cur:
        await cur.execute(_LOAD_POOLS, (sorted(wanted),))
        pools = {p.quota.pool_id: p for p in await cur.fetchall()}
    return cards, pools


def _columns(rows: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    """Rows as one list per column, for `unnest` parameters."""
    return tuple(list(column) for column in zip(*rows, strict=True))


async def _save(conn: Conn, evaluation: Evaluation, since: datetime | None) -> None:
    """Write changed reason sets and pool flags, stale cycle marks and next checks."""
    if evaluation.cards:
        reasons = [",".join(sorted(w.reasons)) if w.reasons is not None else None
                   for w in evaluation.cards]
        await conn.execute(_SAVE_CARDS, (since, [w.iccid for w in evaluation.cards], reasons,
                                         [w.cycle for w in evaluation.cards]))
    if evaluation.checks:
        await conn.execute(_SAVE_CHECKS, _columns(
            [(c.iccid, c.cycle, c.next_check) for c in evaluation.checks]))
    if evaluation.pools:
        await conn.execute(_SAVE_POOLS, (since, *_columns(
            [(p.pool_id, p.exhausted, p.cycle) for p in evaluation.pools])))


async def _raise_alerts(conn: Conn, due: Sequence[AlertDue]) -> list[Alert]:
    if not due:
        return []
    rows = [(a.enterprise_id, a.kind, a.subject, a.cycle, a.percent, a.used_bytes,
             a.limit_bytes) for a in due]
    async with conn.cursor(row_factory=class_row(Alert)) as cur:
        await cur.execute(_ALERT, _columns(rows))
        return await cur.fetchall()


def _member_change(cause: str) -> Callable[..., DesiredChange]:
    def make(*, iccid: str, desired_status: CardStatus, stop_reasons: list[str]
             ) -> DesiredChange:
        return DesiredChange(iccid, desired_status, stop_reasons, cause)

    return make


async def _flipped_members(conn: Conn, evaluation: Evaluation, cause: str
                           ) -> list[DesiredChange]:
    """Desired states of the members of pools that ran dry or recovered (after the save)."""
    flipped = evaluation.flipped_pools
    if not flipped:
        return []
    decided = {c.iccid for c in evaluation.changes}
    async with conn.cursor(row_factory=kwargs_row(_member_change(cause))) as cur:
        await cur.execute(_FLIPPED_MEMBERS, (list(flipped), list(flipped.values())))
        return [c for c in await cur.fetchall() if c.iccid not in decided]


async def evaluate(
    conn: Conn, *, iccids: Collection[str] = (), pool_ids: Collection[str] = (),
    members_of: Collection[str] = (), cause: str, since: datetime | None = None,
) -> Outcome:
    """Re-run the rules for these cards, pools, and all members of `members_of` pools.

    `since` is when the deciding input was accepted (usage), for latency measurement."""
    if not iccids and not pool_ids and not members_of:
        return NOTHING
    cards, pools = await _load(conn, iccids, members_of, pool_ids)
    evaluation = decide(cards, pools, cause)
    await _save(conn, evaluation, since)
    changes = evaluation.changes + await _flipped_members(conn, evaluation, cause)
    await rearm_failed(conn, [c.iccid for c in changes])
    return Outcome(changes, await _raise_alerts(conn, evaluation.alerts))


async def evaluate_stale(conn: Conn, chunk: int) -> tuple[Outcome, bool]:
    """Re-evaluate up to `chunk` cards and pools whose reasons belong to an ended cycle (the
    cycle rollover), in one transaction; True when more may be left."""
    async with conn.transaction():
        cards = [r[0] for r in await (await conn.execute(_STALE_CARDS, (chunk,))).fetchall()]
        pools = [r[0] for r in await (await conn.execute(_STALE_POOLS, (chunk,))).fetchall()]
        outcome = await evaluate(conn, iccids=cards, pool_ids=pools, cause="cycle_rollover")
    return outcome, len(cards) == chunk or len(pools) == chunk
