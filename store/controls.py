"""Queries of the reconciler and the status feed: mismatches to act on, answers to record,
and what the operator network reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row, kwargs_row

from core.operators import CardStatus
from domain.control.plan import ControlState, Work
from store.db import KEEP, Conn, Keep

# A card is wanted `stopped` when it has any own reason or its pool is exhausted
# (`cp_desired_status`, property-tested against domain.quota.desired_status); whether it needs
# a command, and which, is `cp_control_command` (domain.control.plan.command): a card whose
# network status is unknown is treated as active (operators treat unknown cards as active)
# unless it was never opened; a card never opened is opened (`activate`) once no reason holds,
# and is never stopped or resumed before.
# Only cards that can diverge are read: a stop reason, stopped on the network, a member of an
# exhausted pool (index cards_attention, then cards_pool_iccid), or never opened (index
# cards_unopened) — never the whole fleet. The query never joins back to `cards` and looks
# each found card's control row up by key (OFFSET 0), so a wrong estimate of how many cards
# need attention cannot make it hash every card (which it did at 1M cards: a parallel scan,
# about 1 s of CPU, every round; see migration 0011).
_ACTIONABLE = """
WITH attention AS (
    SELECT c.iccid, c.operator, c.msisdn, c.network_status, c.stop_reasons, c.pool_id,
           c.desired_at, c.opened
    FROM cards c
    WHERE (c.stop_reasons <> '{}' OR c.network_status = 'stopped')
      AND c.kafka_partition = ANY(%(partitions)s) AND c.operator = %(operator)s
    UNION
    SELECT m.* FROM pools p CROSS JOIN LATERAL (
        SELECT c.iccid, c.operator, c.msisdn, c.network_status, c.stop_reasons, c.pool_id,
               c.desired_at, c.opened
        FROM cards c  -- from the few exhausted pools to their members
        WHERE c.pool_id = p.pool_id
          AND c.kafka_partition = ANY(%(partitions)s) AND c.operator = %(operator)s
        OFFSET 0
    ) m
    WHERE p.exhausted
    UNION
    SELECT c.iccid, c.operator, c.msisdn, c.network_status, c.stop_reasons, c.pool_id,
           c.desired_at, c.opened  -- cards never opened (index cards_unopened)
    FROM cards c
    WHERE NOT c.opened
      AND c.kafka_partition = ANY(%(partitions)s) AND c.operator = %(operator)s
    UNION
    SELECT c.iccid, c.operator, c.msisdn, c.network_status, c.stop_reasons, c.pool_id,
           c.desired_at, c.opened  -- changes the operator accepted but has not confirmed yet
    FROM card_control k JOIN cards c ON c.iccid = k.iccid
    WHERE k.in_flight IS NOT NULL
      AND c.kafka_partition = ANY(%(partitions)s) AND c.operator = %(operator)s
), wanted AS (
    SELECT c.iccid, c.operator, c.msisdn, c.network_status, c.opened,
           cp_desired_status(c.stop_reasons, p.exhausted) AS target,
           greatest(c.desired_at, p.state_at) AS decided_at
    FROM attention c LEFT JOIN pools p ON p.pool_id = c.pool_id
)
SELECT w.iccid, w.operator, w.msisdn, w.target, w.opened,
       CASE WHEN k.target = w.target THEN k.attempts ELSE 0 END AS attempts,
       u.last_used, k.last_change_at AS last_change, w.decided_at,
       coalesce(k.in_flight = w.target, false) AS confirming,
       k.ticket, k.last_command_at AS submitted_at
FROM wanted w
LEFT JOIN LATERAL (SELECT * FROM card_control k WHERE k.iccid = w.iccid OFFSET 0) k ON true
-- '-infinity' marks a card evaluated but never used (store.quota._SAVE_CHECKS): no last use
LEFT JOIN LATERAL (SELECT nullif(max(updated_at), '-infinity') AS last_used
                   FROM card_cycle_usage cu WHERE cu.iccid = w.iccid) u ON true
WHERE CASE WHEN k.in_flight = w.target
    -- The change wanted is in flight: check it when due.
    THEN k.next_attempt <= now()
    -- Else compare with the change in flight, if any: the network status will not show it
    -- until the operator completes it.
    ELSE cp_control_command(w.target, coalesce(k.in_flight, w.network_status),
                            w.opened) IS NOT NULL
         AND (k.iccid IS NULL OR k.target <> w.target OR k.state IN ('done', 'confirming')
              OR (k.state = 'pending' AND k.next_attempt <= now()))
END
ORDER BY u.last_used DESC NULLS LAST, w.iccid
LIMIT %(limit)s
"""

_RECORD = """
INSERT INTO card_control AS k (iccid, target, state, attempts, next_attempt, last_command,
                               last_outcome, last_error, last_command_at, last_change_at,
                               ticket)
SELECT v.iccid, v.target, v.state, v.attempts, now() + make_interval(secs => v.retry),
       v.command, v.outcome, v.error,
       CASE WHEN v.command IS NOT NULL THEN now() END, CASE WHEN v.changed THEN now() END,
       v.ticket
FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::float8[], %s::text[],
            %s::text[], %s::text[], %s::bool[], %s::text[])
     AS v(iccid, target, state, attempts, retry, command, outcome, error, changed, ticket)
ORDER BY v.iccid
ON CONFLICT (iccid) DO UPDATE SET
    target = excluded.target, state = excluded.state, attempts = excluded.attempts,
    next_attempt = excluded.next_attempt,
    last_command = coalesce(excluded.last_command, k.last_command),
    last_outcome = coalesce(excluded.last_outcome, k.last_outcome),
    last_error = excluded.last_error,
    last_command_at = coalesce(excluded.last_command_at, k.last_command_at),
    last_change_at = coalesce(excluded.last_change_at, k.last_change_at),
    ticket = excluded.ticket
"""

_CONFIRM = """
UPDATE cards c SET network_status = v.status, network_status_at = now(),
                   opened = c.opened OR v.status = 'active'
FROM unnest(%s::text[], %s::text[]) AS v(iccid, status)
WHERE c.iccid = v.iccid
"""

_OBSERVE = """
WITH events AS (
    SELECT DISTINCT ON (iccid) iccid, status, at
    FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) AS v(iccid, status, at)
    ORDER BY iccid, at DESC
), applied AS (
    UPDATE cards c SET network_status = e.status, network_status_at = e.at,
                       opened = c.opened OR e.status = 'active'
    FROM events e
    WHERE c.iccid = e.iccid AND c.operator = %s
      AND (c.network_status_at IS NULL OR c.network_status_at < e.at)
    RETURNING c.iccid
)
SELECT (SELECT count(*) FROM applied) AS applied,
       (SELECT count(*) FROM events e WHERE NOT EXISTS (
            SELECT 1 FROM cards c WHERE c.iccid = e.iccid AND c.operator = %s)) AS unknown_cards
"""


# A status the operator reports confirms a submitted change that asked for it.
_SETTLE = """
UPDATE card_control k
SET state = CASE WHEN k.target = v.status AND k.state = 'confirming' THEN 'done' ELSE k.state END,
    last_outcome = CASE WHEN k.target = v.status AND k.state = 'confirming' THEN 'accepted'
                        ELSE k.last_outcome END,
    ticket = NULL, in_flight = NULL
FROM unnest(%s::text[], %s::text[]) AS v(iccid, status), cards c
WHERE k.iccid = v.iccid AND c.iccid = v.iccid AND c.operator = %s AND k.in_flight = v.status
"""
# What an answer says of the change in flight (set, cleared, or left as it was).
_FLIGHT = """
UPDATE card_control k SET in_flight = v.flight
FROM unnest(%s::text[], %s::text[]) AS v(iccid, flight)
WHERE k.iccid = v.iccid
"""


@dataclass(frozen=True)
class Actionable:
    """A card to act on, when it last changed on the network and when its state was decided."""

    work: Work
    last_change: datetime | None
    decided_at: datetime | None = None
    confirming: bool = False  # a submitted change to check, not to send
    ticket: str | None = None
    submitted_at: datetime | None = None


def _actionable(*, iccid: str, operator: str, msisdn: str | None, target: CardStatus,
                opened: bool, attempts: int, last_used: datetime | None,
                last_change: datetime | None, decided_at: datetime | None, confirming: bool,
                ticket: str | None, submitted_at: datetime | None) -> Actionable:
    return Actionable(Work(iccid, operator, target, attempts, last_used, msisdn, opened),
                      last_change, decided_at, confirming, ticket, submitted_at)


@dataclass(frozen=True)
class Observed:
    """What a status push did: events applied, and events for cards CardPulse does not know."""

    applied: int
    unknown_cards: int


@dataclass(frozen=True)
class StatusReport:
    """One status the operator reported for a card."""

    iccid: str
    status: CardStatus
    at: datetime


@dataclass(frozen=True)
class Answer:
    """What to record for one card: its next state, and the command sent (if any)."""

    iccid: str
    target: CardStatus
    state: ControlState
    attempts: int
    retry_in_s: float
    command: str | None = None
    outcome: str | None = None
    error: str | None = None
    changed: bool = False
    ticket: str | None = None
    flight: CardStatus | None | Keep = KEEP  # the change in flight after this answer


async def actionable(conn: Conn, operator: str, partitions: Sequence[int], limit: int
                     ) -> list[Actionable]:
    """Cards of `operator` in `partitions` whose network status must change, most recently
    used first."""
    async with conn.cursor(row_factory=kwargs_row(_actionable)) as cur:
        await cur.execute(_ACTIONABLE, {"partitions": list(partitions), "operator": operator,
                                        "limit": limit})
        return await cur.fetchall()


async def record(conn: Conn, answers: Sequence[Answer]) -> None:
    """Store the answers; cards whose change the operator accepted are confirmed."""
    if not answers:
        return
    cols = list(zip(*[(a.iccid, a.target, a.state, a.attempts, float(a.retry_in_s), a.command,
                       a.outcome, a.error, a.changed, a.ticket) for a in answers], strict=True))
    done = [(a.iccid, a.target) for a in answers if a.state == "done"]
    flights = [(a.iccid, a.flight) for a in answers if not isinstance(a.flight, Keep)]
    async with conn.transaction():
        await conn.execute(_RECORD, tuple(list(c) for c in cols))
        if flights:
            await conn.execute(_FLIGHT, ([f[0] for f in flights], [f[1] for f in flights]))
        if done:
            await conn.execute(_CONFIRM, ([d[0] for d in done], [d[1] for d in done]))


async def rearm_failed(conn: Conn, iccids: Sequence[str]) -> int:
    """A new desired change (or a person, after a fix) gives a card that failed for good a
    fresh set of attempts; returns how many cards were re-armed."""
    if not iccids:
        return 0
    cur = await conn.execute(
        "UPDATE card_control SET state = 'pending', attempts = 0, next_attempt = now()"
        " WHERE state = 'failed' AND iccid = ANY(%s)", (list(iccids),))
    return cur.rowcount


@dataclass(frozen=True)
class FailedControl:
    """A card whose operator command failed for good: what was wanted and what went wrong."""

    iccid: str
    enterprise_id: str
    operator: str
    target: CardStatus
    attempts: int
    last_outcome: str | None
    last_error: str | None
    last_command_at: datetime | None


# From the partial index card_control_failed (migration 0011) to each card by key.
_FAILED = """
SELECT k.iccid, c.enterprise_id, c.operator, k.target, k.attempts, k.last_outcome,
       k.last_error, k.last_command_at
FROM card_control k JOIN cards c ON c.iccid = k.iccid
WHERE k.state = 'failed'
  AND (%(operator)s::text IS NULL OR c.operator = %(operator)s)
  AND (%(enterprise)s::text IS NULL OR c.enterprise_id = %(enterprise)s)
ORDER BY k.last_command_at DESC NULLS LAST, k.iccid
LIMIT %(limit)s
"""


async def failed_controls(conn: Conn, limit: int, *, operator: str | None = None,
                          enterprise_id: str | None = None) -> list[FailedControl]:
    """Cards whose change failed for good, the most recent command first."""
    async with conn.cursor(row_factory=class_row(FailedControl)) as cur:
        await cur.execute(_FAILED, {"operator": operator, "enterprise": enterprise_id,
                                    "limit": limit})
        return await cur.fetchall()


async def observe(conn: Conn, operator: str, events: Sequence[StatusReport]) -> Observed:
    """Apply reported statuses newer than what is known; a reported status confirms a
    submitted change toward it."""
    if not events:
        return Observed(0, 0)
    iccids, statuses = [e.iccid for e in events], [e.status for e in events]
    async with conn.cursor(row_factory=class_row(Observed)) as cur:
        await cur.execute(_OBSERVE, (iccids, statuses, [e.at for e in events], operator,
                                     operator))
        observed = await cur.fetchone() or Observed(0, 0)
        await cur.execute(_SETTLE, (iccids, statuses, operator))
    return observed


# Index-only on the partial index card_control_failed (migration 0011), not a scan of every
# control row.
FAILED_COUNT = """
SELECT count(*), count(*) FILTER (WHERE last_outcome = 'operator_held')
FROM card_control WHERE state = 'failed'
"""


async def count_failed(conn: Conn) -> tuple[int, int]:
    """Cards whose change failed for good, and of those the ones the operator holds (the
    controls' failed-cards and held-cards gauges)."""
    row = await (await conn.execute(FAILED_COUNT)).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)
