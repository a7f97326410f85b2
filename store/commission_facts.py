"""The per-card facts of the commission engine (shared/specs/business.md §5, §8), read in a few
set-based queries whatever the number of cards; card attribution to agents (H-29), real-name
results (H-41), activation counts (H-26, H-27), pickup volume (H-29), the advisory in-network /
三无 verdicts of the import template (H-21) and the monthly activation snapshots (H-30).

Tables: `card_real_name`, `card_attributions`, `activation_snapshots` (migration 0102). The
functions run in their caller's transaction (none opens its own except `attribute`'s savepoint).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from core.clock import now
from domain.commission.facts import (
    CardFacts,
    PackageOrder,
    Recharge,
    RechargeCondition,
    is_activation,
    sort_package_orders,
    sort_recharges,
)
from domain.commission.months import month_bounds, snapshot_due
from store import audit
from store.agents import Actor
from store.db import Conn
from store.errors import NotFound

RealNameSource = Literal["event", "import"]
AttributionSource = Literal["order", "promotion", "platform"]
SYSTEM = Actor("system", "system")
CHUNK = 5000  # cards per round of card_facts when counting many

_CARDS = """
SELECT c.iccid, c.network_status, c.network_status_at, c.opened,
       CASE WHEN r.verified THEN r.at END, CASE WHEN r.verified THEN r.source_ref END,
       a.agent_id
FROM cards c
LEFT JOIN card_real_name r ON r.iccid = c.iccid
LEFT JOIN card_attributions a ON a.iccid = c.iccid
WHERE c.iccid = ANY(%s)
"""
# credited recharge orders of the card's wallet (refunded ones flagged), and the operators'
# recharge notifications (stored once per (operator, event_id), G2-09)
_RECHARGES = """
SELECT iccid, order_id, amount_fen, paid_at, state = 'refunded', 'order'
FROM orders
WHERE kind = 'recharge' AND iccid = ANY(%(ids)s) AND state IN ('credited', 'refunded')
  AND paid_at IS NOT NULL
UNION ALL
SELECT iccid, operator || ':' || event_id, amount_fen, at, false, 'operator'
FROM card_events
WHERE type = 'recharged' AND iccid = ANY(%(ids)s) AND outcome <> 'unknown_card'
"""
# package orders that completed (their completion is in the audit trail: a refund later moves
# `finished_at`, never that row); units refunded: all of a refunded order, else the whole
# units the refunds paid so far cover
_PACKAGES = """
SELECT o.iccid, o.order_id, o.agent_id, o.package_id,
       coalesce(o.price_chain ->> 'business_line', 'traffic_card'),
       coalesce(o.quantity, 1),
       CASE WHEN o.state = 'refunded' THEN coalesce(o.quantity, 1)
            ELSE (o.refunded_fen * coalesce(o.quantity, 1)) / o.amount_fen END,
       o.state, c.at,
       coalesce((o.price_chain -> 'levels' -> -1 ->> 'cost_price_fen')::bigint, 0),
       coalesce((o.price_chain ->> 'retail_price_fen')::bigint, 0)
FROM orders o
JOIN LATERAL (SELECT min(a.at) AS at FROM audit_events a
              WHERE a.subject_kind = 'order' AND a.subject_id = o.order_id
                AND a.to_state = 'completed') c ON c.at IS NOT NULL
WHERE o.kind = 'package' AND o.iccid = ANY(%s) AND o.agent_id IS NOT NULL
"""


async def card_facts(conn: Conn, iccids: Sequence[str]) -> dict[str, CardFacts]:
    """The facts of each known card of `iccids` (unknown ones are left out), in three
    queries."""
    ids = list(dict.fromkeys(iccids))
    if not ids:
        return {}
    cards = await (await conn.execute(_CARDS, (ids,))).fetchall()
    recharges: dict[str, list[Recharge]] = defaultdict(list)
    for iccid, ref, amount, at, refunded, source in await (
            await conn.execute(_RECHARGES, {"ids": ids})).fetchall():
        recharges[iccid].append(Recharge(ref, int(amount), at, bool(refunded), source))
    packages: dict[str, list[PackageOrder]] = defaultdict(list)
    for row in await (await conn.execute(_PACKAGES, (ids,))).fetchall():
        (iccid, order_id, agent_id, package_id, line, quantity, units_refunded, state,
         completed_at, cost, retail) = row
        packages[iccid].append(PackageOrder(
            order_id, agent_id, package_id, line, int(quantity), int(units_refunded), state,
            completed_at, int(cost), int(retail)))
    return {
        iccid: CardFacts(
            iccid=iccid, real_name_at=real_name_at, real_name_ref=real_name_ref,
            recharges=sort_recharges(recharges.get(iccid, [])),
            package_orders=sort_package_orders(packages.get(iccid, [])),
            network_status=status, network_status_at=status_at, opened=bool(opened),
            attributed_agent=agent)
        for iccid, status, status_at, opened, real_name_at, real_name_ref, agent in cards}


# ---- real name (H-41) ------------------------------------------------------------------------

_REAL_NAME = "SELECT cp_record_real_name(%s, %s, %s, %s, %s)"
_CARD_EXISTS = "SELECT 1 FROM cards WHERE iccid = %s"


async def record_real_name(conn: Conn, iccid: str, verified: bool, at: datetime,
                           source: RealNameSource, ref: str) -> bool:
    """Record a real-name result of card `iccid` (an operator event or an import row):
    the earliest verified instant is kept; `verified = False` is kept only while the card was
    never verified (a verification is not undone). Whether it changed anything; NotFound for
    an unknown card."""
    if await (await conn.execute(_CARD_EXISTS, (iccid,))).fetchone() is None:
        raise NotFound(f"card {iccid}")
    row = await (await conn.execute(_REAL_NAME, (iccid, verified, at, source, ref))).fetchone()
    return bool(row and row[0])


# ---- attribution (H-29) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    iccid: str
    agent_id: str
    source: AttributionSource
    source_ref: str
    at: datetime


_ATTRIBUTION = ("SELECT iccid, agent_id, source, source_ref, at FROM card_attributions "
                "WHERE iccid = %s")
_LOCK_CARD = "SELECT 1 FROM cards WHERE iccid = %s FOR UPDATE"
_AGENT_EXISTS = "SELECT 1 FROM agents WHERE agent_id = %s"
_PUT = """
INSERT INTO card_attributions (iccid, agent_id, source, source_ref, at)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (iccid) DO UPDATE SET agent_id = EXCLUDED.agent_id, source = EXCLUDED.source,
    source_ref = EXCLUDED.source_ref, at = EXCLUDED.at
"""


async def attribution(conn: Conn, iccid: str) -> Attribution | None:
    row = await (await conn.execute(_ATTRIBUTION, (iccid,))).fetchone()
    return Attribution(*row) if row else None


async def attribute(conn: Conn, iccid: str, agent_id: str, source: AttributionSource,
                    ref: str, at: datetime | None = None, actor: Actor = SYSTEM
                    ) -> Attribution:
    """Attribute card `iccid` to `agent_id`: the first attribution wins, except one by the
    platform (`source` `platform`), which overrides. A change is audited
    (`card_attribution`, from the former agent to the new one). The attribution in force
    afterwards; NotFound for an unknown card or agent."""
    async with conn.transaction():
        if await (await conn.execute(_LOCK_CARD, (iccid,))).fetchone() is None:
            raise NotFound(f"card {iccid}")
        if await (await conn.execute(_AGENT_EXISTS, (agent_id,))).fetchone() is None:
            raise NotFound(f"agent {agent_id}")
        before = await attribution(conn, iccid)
        if before is not None and (source != "platform" or before.agent_id == agent_id):
            return before
        made = Attribution(iccid, agent_id, source, ref, at or now())
        await conn.execute(_PUT, (iccid, agent_id, source, ref, made.at))
        await audit.record(conn, actor.transition(
            "card_attribution", iccid, before.agent_id if before else None, agent_id,
            source=source, source_ref=ref))
        return made


_ORDER_COMPLETED = """
SELECT o.iccid, o.agent_id, c.at FROM orders o
JOIN LATERAL (SELECT min(a.at) AS at FROM audit_events a
              WHERE a.subject_kind = 'order' AND a.subject_id = o.order_id
                AND a.to_state = 'completed') c ON c.at IS NOT NULL
JOIN cards k ON k.iccid = o.iccid
WHERE o.order_id = %s AND o.kind = 'package' AND o.agent_id IS NOT NULL
"""


async def attribute_from_order(conn: Conn, order_id: str) -> Attribution | None:
    """Attribute the card of a completed package order to its selling agent, unless the card
    already is attributed (its first completed package order wins). None when the order is
    not a completed package order of a known card."""
    row = await (await conn.execute(_ORDER_COMPLETED, (order_id,))).fetchone()
    if row is None:
        return None
    iccid, agent_id, at = row
    return await attribute(conn, iccid, agent_id, "order", order_id, at)


# ---- counts (H-26, H-27, H-29) ---------------------------------------------------------------

_ATTRIBUTED = "SELECT iccid FROM card_attributions WHERE agent_id = %s ORDER BY iccid"
_ALL_ATTRIBUTED = "SELECT agent_id, iccid FROM card_attributions ORDER BY agent_id, iccid"


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


async def _count(conn: Conn, iccids: Sequence[str], recharge: RechargeCondition | None
                 ) -> int:
    total = 0
    for chunk in _chunks(iccids):
        facts = await card_facts(conn, chunk)
        total += sum(1 for f in facts.values() if is_activation(f, recharge))
    return total


async def activation_count(conn: Conn, agent_id: str,
                           recharge: RechargeCondition | None = None) -> int:
    """H-26/H-27: how many of the cards attributed to `agent_id` (its own, not its
    downstream's, H-29) are activations now."""
    rows = await (await conn.execute(_ATTRIBUTED, (agent_id,))).fetchall()
    return await _count(conn, [str(r[0]) for r in rows], recharge)


async def activation_counts(conn: Conn, recharge: RechargeCondition | None = None
                            ) -> dict[str, int]:
    """`activation_count` of every agent with attributed cards, in a few rounds."""
    rows = await (await conn.execute(_ALL_ATTRIBUTED)).fetchall()
    owner = {str(iccid): str(agent) for agent, iccid in rows}
    counts: dict[str, int] = dict.fromkeys(owner.values(), 0)
    for chunk in _chunks(list(owner)):
        for iccid, facts in (await card_facts(conn, chunk)).items():
            if is_activation(facts, recharge):
                counts[owner[iccid]] += 1
    return counts


_PICKUP = """
SELECT coalesce(sum(coalesce(cardinality(allocated), quantity, 0)), 0) FROM orders
WHERE kind = 'card_purchase' AND agent_id = %s AND state = 'completed'
"""


async def pickup_volume(conn: Conn, agent_id: str) -> int:
    """H-29: the cards shipped to `agent_id` through its completed card orders, lifetime. A
    delivered card purchase is not refunded (store.card_purchases: only before delivery), so
    nothing is subtracted today; returned cards (G4-38) will be when they exist."""
    row = await (await conn.execute(_PICKUP, (agent_id,))).fetchone()
    return int(row[0]) if row else 0


# ---- advisory verdicts (H-21) ----------------------------------------------------------------

_VERDICTS = """
SELECT c.iccid, c.network_status = 'active', coalesce(u.bytes, 0) = 0
FROM cards c LEFT JOIN card_cycle_usage u ON u.iccid = c.iccid AND u.cycle = %s
WHERE c.iccid = ANY(%s)
"""


def _cycle(cycle: date | str) -> date:
    if isinstance(cycle, date):
        return cycle.replace(day=1)
    year, month = cycle.split("-")[:2]
    return date(int(year), int(month), 1)


async def advisory_verdicts(conn: Conn, iccids: Sequence[str], cycle: date | str
                            ) -> dict[str, tuple[str, str]]:
    """H-21, per known card of `iccids`: in-network `正常` iff its network status is `active`,
    else `非正常`; 三无 `是` iff it used no data in billing cycle `cycle` (a date in the month,
    or `YYYY-MM`), else `否`. Advisory only: the import stays the trigger (H-19)."""
    rows = await (await conn.execute(_VERDICTS, (_cycle(cycle), list(iccids)))).fetchall()
    return {str(iccid): ("正常" if active else "非正常", "是" if idle else "否")
            for iccid, active, idle in rows}


# ---- monthly activation snapshots (H-30) -----------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    agent_id: str
    month: str
    activations: int
    taken_at: datetime


_AGENTS_BEFORE = "SELECT agent_id FROM agents WHERE created_at < %s ORDER BY agent_id"
_MISSING = """
SELECT count(*) FROM agents a
WHERE a.created_at < %s
  AND NOT EXISTS (SELECT 1 FROM activation_snapshots s
                  WHERE s.agent_id = a.agent_id AND s.month = %s)
"""
_SNAP = """
INSERT INTO activation_snapshots (agent_id, month, activations, taken_at)
SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::timestamptz[])
ON CONFLICT (agent_id, month) DO NOTHING
"""
_SNAPSHOTS = """
SELECT agent_id, month, activations, taken_at FROM activation_snapshots
WHERE (%(agent)s::text IS NULL OR agent_id = %(agent)s) AND month BETWEEN %(from)s AND %(to)s
ORDER BY agent_id, month
"""


async def take_snapshots(conn: Conn, month: str) -> int:
    """H-30: every agent that existed at the end of `month` (`YYYY-MM`) gets its activation
    count as it is now, stamped with the month's end (00:00 on the 1st of the next month,
    Asia/Shanghai); a snapshot already taken is never changed. How many were taken now."""
    _, end = month_bounds(month)
    missing = await (await conn.execute(_MISSING, (end, month))).fetchone()
    if not missing or not missing[0]:
        return 0
    agents = [str(r[0]) for r in await (await conn.execute(_AGENTS_BEFORE, (end,))).fetchall()]
    counts = await activation_counts(conn)
    cur = await conn.execute(_SNAP, (agents, [month] * len(agents),
                                     [counts.get(a, 0) for a in agents], [end] * len(agents)))
    return cur.rowcount


async def take_due_snapshot(conn: Conn) -> int:
    """The leader's timer (H-30, C-09): once the platform clock has passed a month's end, the
    month's snapshots are taken — in one transaction, and only for agents that have none yet,
    so running it again (every tick, after a restart) changes nothing."""
    async with conn.transaction():
        return await take_snapshots(conn, snapshot_due(now()))


async def snapshots(conn: Conn, agent_id: str | None, first: str, last: str
                    ) -> list[Snapshot]:
    """The snapshots of months `first` … `last` (of one agent, or all)."""
    rows = await (await conn.execute(_SNAPSHOTS, {"agent": agent_id, "from": first,
                                                  "to": last})).fetchall()
    return [Snapshot(str(a), str(m), int(n), t) for a, m, n, t in rows]
