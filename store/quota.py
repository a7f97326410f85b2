"""Quota evaluation against PostgreSQL: lock, load, decide (pure), save — set-based.

`evaluate` is the one entry point for every trigger (usage, configuration, manual stop,
cycle rollover). It runs inside the caller's transaction, locks the cards and pools it
re-evaluates (so concurrent triggers serialise), and returns the desired-state changes and new
alerts for the caller to publish after commit. A pool running dry is one pool-row write; its
members' changes are read back in one query for the desired-state topic.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from store.controls import rearm_failed
from store.db import Conn
from streams.quota_rules import (
    CardQuota,
    Decision,
    PoolQuota,
    decide,
    desired_status,
    effective_reasons,
    next_check,
)

_LOAD_CARDS = """
SELECT c.iccid, c.package_bytes, c.pool_id, coalesce(u.bytes, 0), c.stop_reasons,
       c.warn_percents, c.enterprise_id, cp_cycle(cp_now(), e.timezone),
       c.reasons_cycle IS DISTINCT FROM cp_cycle(cp_now(), e.timezone)
FROM cards c
JOIN enterprises e ON e.enterprise_id = c.enterprise_id
LEFT JOIN card_cycle_usage u ON u.iccid = c.iccid AND u.cycle = cp_cycle(cp_now(), e.timezone)
WHERE c.iccid = ANY(%(iccids)s) OR c.pool_id = ANY(%(members_of)s)
ORDER BY c.iccid
FOR UPDATE OF c
"""

_LOAD_POOLS = """
SELECT p.pool_id, p.limit_bytes, p.per_card_limit_bytes, coalesce(u.bytes, 0), p.exhausted,
       p.warn_percents, p.enterprise_id, cp_cycle(cp_now(), e.timezone),
       p.state_cycle IS DISTINCT FROM cp_cycle(cp_now(), e.timezone)
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

_POOL_MEMBERS = """
SELECT c.iccid, c.stop_reasons, c.pool_id FROM cards c
WHERE c.pool_id = ANY(%s) ORDER BY c.iccid
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


@dataclass(frozen=True)
class DesiredChange:
    """A card's desired state changed (or was re-stated): what it is now and why."""

    iccid: str
    desired_status: str
    stop_reasons: list[str]
    cause: str


@dataclass(frozen=True)
class Alert:
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
    changes: list[DesiredChange]
    alerts: list[Alert]


@dataclass(frozen=True)
class _Loaded:
    cards: list[CardQuota]
    card_meta: dict[str, tuple[list[int], str, date, bool]]
    pools: dict[str, PoolQuota]
    exhausted: dict[str, bool]
    pool_meta: dict[str, tuple[list[int], str, date, bool]]


async def _load(conn: Conn, iccids: Collection[str], members_of: Collection[str],
                pool_ids: Collection[str]) -> _Loaded:
    cur = await conn.execute(_LOAD_CARDS, {"iccids": list(iccids),
                                           "members_of": list(members_of)})
    cards, card_meta = [], {}
    for iccid, package, pool_id, used, reasons, warn, ent, cycle, stale in await cur.fetchall():
        cards.append(CardQuota(iccid, package, pool_id, used, frozenset(reasons)))
        card_meta[iccid] = (warn, ent, cycle, stale)
    wanted = set(pool_ids) | {c.pool_id for c in cards if c.pool_id}
    cur = await conn.execute(_LOAD_POOLS, (sorted(wanted),))
    pools, exhausted, pool_meta = {}, {}, {}
    for pool_id, limit, cap, used, flag, warn, ent, cycle, stale in await cur.fetchall():
        pools[pool_id] = PoolQuota(pool_id, limit, cap, used)
        exhausted[pool_id] = flag
        pool_meta[pool_id] = (warn, ent, cycle, stale)
    return _Loaded(cards, card_meta, pools, exhausted, pool_meta)


async def _save(conn: Conn, loaded: _Loaded, decision: Decision, since: datetime | None
                ) -> None:
    """Write changed reason sets and pool flags, and refresh stale cycle marks."""
    rows = [(c.iccid, ",".join(sorted(decision.cards[c.iccid])), loaded.card_meta[c.iccid][2])
            if c.iccid in decision.cards else (c.iccid, None, loaded.card_meta[c.iccid][2])
            for c in loaded.cards
            if c.iccid in decision.cards or loaded.card_meta[c.iccid][3]]
    if rows:
        await conn.execute(_SAVE_CARDS, (since, [r[0] for r in rows], [r[1] for r in rows],
                                         [r[2] for r in rows]))
    await _save_checks(conn, loaded)
    pools = [(p, decision.pools.get(p, loaded.exhausted[p]), loaded.pool_meta[p][2])
             for p in loaded.pools if p in decision.pools or loaded.pool_meta[p][3]]
    if pools:
        await conn.execute(_SAVE_POOLS, (since, [p[0] for p in pools], [p[1] for p in pools],
                                         [p[2] for p in pools]))


async def _save_checks(conn: Conn, loaded: _Loaded) -> None:
    """Where each evaluated card must next be evaluated (see migration 0010)."""
    if not loaded.cards:
        return
    checks = [(c.iccid, loaded.card_meta[c.iccid][2],
               next_check(c, loaded.pools.get(c.pool_id or ""), loaded.card_meta[c.iccid][0]))
              for c in loaded.cards]
    await conn.execute(_SAVE_CHECKS, tuple(list(col) for col in zip(*checks, strict=True)))


def _alert_rows(loaded: _Loaded) -> list[tuple[str, str, str, date, int, int, int]]:
    rows: list[tuple[str, str, str, date, int, int, int]] = []
    for card in loaded.cards:
        warn, ent, cycle, _ = loaded.card_meta[card.iccid]
        if card.package_bytes:
            rows.extend((ent, "card_package", card.iccid, cycle, pct, card.usage_bytes,
                         card.package_bytes)
                        for pct in reached(card.usage_bytes, card.package_bytes, warn))
    for pool in loaded.pools.values():
        warn, ent, cycle, _ = loaded.pool_meta[pool.pool_id]
        if pool.limit_bytes:
            rows.extend((ent, "pool", pool.pool_id, cycle, pct, pool.used_bytes, pool.limit_bytes)
                        for pct in reached(pool.used_bytes, pool.limit_bytes, warn))
    return rows


def reached(used: int, limit: int, percents: Iterable[int]) -> list[int]:
    """Warning thresholds (percent of `limit`) that `used` has reached."""
    return sorted(p for p in set(percents) if used * 100 >= p * limit)


async def _raise_alerts(conn: Conn, loaded: _Loaded) -> list[Alert]:
    rows = _alert_rows(loaded)
    if not rows:
        return []
    cur = await conn.execute(_ALERT, tuple(list(col) for col in zip(*rows, strict=True)))
    return [Alert(*row) for row in await cur.fetchall()]


async def _changes(conn: Conn, loaded: _Loaded, decision: Decision, cause: str
                   ) -> list[DesiredChange]:
    exhausted = {**loaded.exhausted, **decision.pools}
    out: dict[str, DesiredChange] = {}
    for card in loaded.cards:
        if card.iccid in decision.cards:
            reasons = effective_reasons(decision.cards[card.iccid],
                                        exhausted.get(card.pool_id or "", False))
            out[card.iccid] = DesiredChange(card.iccid, desired_status(reasons), reasons, cause)
    if decision.pools:
        cur = await conn.execute(_POOL_MEMBERS, (sorted(decision.pools),))
        for iccid, own, pool_id in await cur.fetchall():
            if iccid not in out:
                reasons = effective_reasons(own, exhausted[pool_id])
                out[iccid] = DesiredChange(iccid, desired_status(reasons), reasons, cause)
    return list(out.values())


async def evaluate(
    conn: Conn, *, iccids: Collection[str] = (), pool_ids: Collection[str] = (),
    members_of: Collection[str] = (), cause: str, since: datetime | None = None,
) -> Outcome:
    """Re-run the rules for these cards, pools, and all members of `members_of` pools.

    `since` is when the deciding input was accepted (usage), for latency measurement."""
    if not iccids and not pool_ids and not members_of:
        return Outcome([], [])
    loaded = await _load(conn, iccids, members_of, pool_ids)
    decision = decide(loaded.cards, loaded.pools, loaded.exhausted)
    await _save(conn, loaded, decision, since)
    changes = await _changes(conn, loaded, decision, cause)
    await rearm_failed(conn, [c.iccid for c in changes])
    return Outcome(changes, await _raise_alerts(conn, loaded))
