"""The price book (G1-05…G1-14, SM-G1-PRICE) and the price chain orders snapshot (G1-13).

How a price is set (`set_price`, one transaction, the package row locked so that every price
change of one package is serialised):
  1. the bound: the purchase price for the platform's cost price of a top-level agent, else the
     seller's own cost price — every version of it (active or invalid) overlapping the new
     period, one of them in force at its start (G1-08) — checked by `domain.pricing.rules`;
  2. the versions of the same entry overlapping the new period are superseded: one that began
     earlier ends where the new one begins, one not yet begun is marked deleted;
  3. the new version is inserted `active`, with the next version number of its entry;
  4. for a cost price, the dependent prices (the agent's retail price, the cost prices it set
     for its direct downstream) overlapping the period that now break a bound become
     `invalid` (`domain.pricing.book.breaches`); the answer lists them and their owner is
     notified (in-app + email outbox). A dependent is judged over its whole period: one that
     breaks its bound at any instant is invalid until its owner sets a new version.
Every transition is audited under the entry `price:{kind}:{package}:{agent}`. An
`Idempotency-Key` (C-05) makes a retried set return the first answer.

The chain orders snapshot is read by `store.price_chain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg.rows import class_row

from core.clock import now
from core.money import Fen
from domain.pricing.book import Dependent, breaches
from domain.pricing.errors import (
    FactoryPriced,
    IdempotencyConflict,
    NoOwnCost,
    PeriodConflict,
    PeriodEmpty,
    PriceEnded,
)
from domain.pricing.rules import Bound, PriceKind, check_price
from domain.pricing.visibility import PriceScope
from store import agents as ag
from store import audit
from store.agents import Actor, Agent
from store.db import Conn
from store.errors import NotFound
from store.packages import PackageRow, get_package, update_package

PAST_TOLERANCE = timedelta(seconds=60)  # a price "from now" sent a little late is still now
PriceStatus = Literal["active", "invalid", "deleted"]


@dataclass(frozen=True)
class Price:
    price_id: int
    kind: PriceKind
    package_id: str
    agent_id: str
    parent_id: str | None
    version: int
    amount_fen: int
    valid_from: datetime
    valid_to: datetime | None
    status: PriceStatus
    status_reason: str | None
    set_by: str
    set_by_role: str
    idempotency_key: str | None
    created_at: datetime

    @property
    def entry(self) -> str:
        return f"{self.kind}:{self.package_id}:{self.agent_id}"


@dataclass(frozen=True)
class Invalidated:
    """A price a change invalidated, and the rule it now breaks."""

    price: Price
    code: str


@dataclass(frozen=True)
class PriceSet:
    price: Price
    invalidated: list[Invalidated]


_SELECT = "SELECT p.*, a.parent_id FROM prices p JOIN agents a USING (agent_id)"
_GET = _SELECT + " WHERE p.price_id = %s"
_BY_KEY = _SELECT + " WHERE p.set_by = %s AND p.idempotency_key = %s"
_OVERLAPPING = _SELECT + """
 WHERE p.kind = %(kind)s AND p.package_id = %(package)s AND p.agent_id = ANY(%(agents)s)
   AND p.status = ANY(%(states)s)
   AND tstzrange(p.valid_from, p.valid_to) && tstzrange(%(start)s, %(end)s)
 ORDER BY p.valid_from
"""
_NEXT_VERSION = """
SELECT coalesce(max(version), 0) + 1 FROM prices
WHERE kind = %s AND package_id = %s AND agent_id = %s
"""
_INSERT = """
INSERT INTO prices (kind, package_id, agent_id, version, amount_fen, valid_from, valid_to,
                    set_by, set_by_role, idempotency_key)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING price_id
"""
_CLOSE = "UPDATE prices SET valid_to = %s WHERE price_id = %s"
_STATE = "UPDATE prices SET status = %s, status_reason = %s WHERE price_id = %s"
_CHILDREN = "SELECT agent_id FROM agents WHERE parent_id = %s"
_TOP_LEVEL = "SELECT agent_id FROM agents WHERE parent_id IS NULL"
_LIST = _SELECT + """
 WHERE (%(everything)s
        OR (p.agent_id = %(agent)s AND (NOT %(retail_only)s OR p.kind = 'retail')
            AND (NOT %(active_only)s OR p.status = 'active'))
        OR (%(downstream)s AND p.kind = 'cost' AND a.parent_id = %(agent)s))
   AND (%(package)s::text IS NULL OR p.package_id = %(package)s)
   AND (%(of_agent)s::text IS NULL OR p.agent_id = %(of_agent)s)
   AND (%(kind)s::text IS NULL OR p.kind = %(kind)s)
   AND (%(history)s OR (p.status <> 'deleted' AND (p.valid_to IS NULL OR p.valid_to > cp_now())))
 ORDER BY p.package_id, p.kind, a.path, p.version
"""
async def _prices(conn: Conn, query: str, params: Any) -> list[Price]:
    async with conn.cursor(row_factory=class_row(Price)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def get_price(conn: Conn, price_id: int) -> Price:
    found = await _prices(conn, _GET, (price_id,))
    if not found:
        raise NotFound(f"price {price_id}")
    return found[0]


async def _overlapping(conn: Conn, kind: PriceKind, package_id: str, agents: Sequence[str],
                       start: datetime, end: datetime | None,
                       states: Sequence[str] = ("active", "invalid")) -> list[Price]:
    return await _prices(conn, _OVERLAPPING, {
        "kind": kind, "package": package_id, "agents": list(agents), "states": list(states),
        "start": start, "end": end})


async def _bounds(conn: Conn, package: PackageRow, kind: PriceKind, agent: Agent,
                  start: datetime, end: datetime | None) -> list[Bound]:
    """What a new price of `agent` over [start, end) is checked against (G1-06/07/10/11)."""
    seller = agent.agent_id if kind == "retail" else agent.parent_id
    if seller is None:
        return [Bound.purchase(package.purchase_price_fen or 0)]
    own = await _overlapping(conn, "cost", package.package_id, [seller], start, end)
    if not any(c.valid_from <= start for c in own):
        raise NoOwnCost()
    return [Bound.seller_cost(c.amount_fen) for c in own]


async def _supersede(conn: Conn, kind: PriceKind, package_id: str, agent_id: str,
                     start: datetime, end: datetime | None, actor: Actor) -> PriceStatus | None:
    """End or delete the versions the new one replaces; the state of the one in force at
    `start` (None: none was)."""
    replaced: PriceStatus | None = None
    for old in await _overlapping(conn, kind, package_id, [agent_id], start, end):
        if old.valid_from < start:
            replaced = old.status
            await conn.execute(_CLOSE, (start, old.price_id))
            continue
        await conn.execute(_STATE, ("deleted", "superseded", old.price_id))
        await audit.record(conn, actor.transition("price", old.entry, old.status, "deleted",
                                                  "superseded", price_id=old.price_id))
    return replaced


async def _cascade(conn: Conn, package_id: str, bound: Bound, retail_of: str | None,
                   cost_of: Sequence[str], start: datetime, end: datetime | None,
                   actor: Actor, cause: str) -> list[Invalidated]:
    """Invalidate the dependents (retail of `retail_of`, costs of `cost_of`) over the period
    that break `bound` (G1-12); notify their owners."""
    found = await _overlapping(conn, "cost", package_id, cost_of, start, end, ("active",))
    if retail_of is not None:
        found += await _overlapping(conn, "retail", package_id, [retail_of], start, end,
                                    ("active",))
    by_id = {p.price_id: p for p in found}
    broken = breaches(bound, [Dependent(p.price_id, p.kind, p.agent_id, Fen(p.amount_fen))
                              for p in found])
    out = [Invalidated(by_id[d.price_id], problem.code) for d, problem in broken]
    for gone in out:
        await conn.execute(_STATE, ("invalid", gone.code, gone.price.price_id))
        await audit.record(conn, actor.transition(
            "price", gone.price.entry, "active", "invalid", gone.code,
            price_id=gone.price.price_id, cause=cause))
        owner = gone.price.agent_id if gone.price.kind == "retail" else (
            gone.price.parent_id or gone.price.agent_id)
        await ag.notify(conn, owner, "price_invalidated", {
            "price_id": gone.price.price_id, "kind": gone.price.kind, "package_id": package_id,
            "agent_id": gone.price.agent_id, "code": gone.code, "cause": cause})
    return out


async def _replay(conn: Conn, actor: Actor, key: str, kind: PriceKind, package_id: str,
                  agent_id: str, amount: int) -> PriceSet | None:
    """The first answer to a request retried with the same Idempotency-Key (C-05)."""
    first = await _prices(conn, _BY_KEY, (actor.who, key))
    if not first:
        return None
    done = first[0]
    if (done.kind, done.package_id, done.agent_id, done.amount_fen) != (
            kind, package_id, agent_id, amount):
        raise IdempotencyConflict()
    events = await audit.history(conn, "price", done.entry)
    made = next(e for e in events if e.data.get("price_id") == done.price_id
                and e.reason == "set")
    return PriceSet(done, [Invalidated(await get_price(conn, int(i)), code)
                           for i, code in made.data.get("invalidated", [])])


async def set_price(conn: Conn, kind: PriceKind, package_id: str, agent: Agent, amount: int,
                    valid_from: datetime | None, valid_to: datetime | None, actor: Actor,
                    idempotency_key: str | None = None) -> PriceSet:
    """Set a new version of an entry (steps in the module's docstring); the caller has
    checked that `actor` may."""
    async with conn.transaction():
        package = await get_package(conn, package_id, lock=True)
        # the agent as it is now, held still against a concurrent move (which locks it)
        agent = await ag.get_agent(conn, agent.agent_id, lock=True)
        if idempotency_key is not None:
            replayed = await _replay(conn, actor, idempotency_key, kind, package_id,
                                     agent.agent_id, amount)
            if replayed is not None:
                return replayed
        if package.business_line == "number_card":
            raise FactoryPriced()
        start = valid_from or now()
        if start < now() - PAST_TOLERANCE:
            raise PeriodConflict()
        if valid_to is not None and valid_to <= start:
            raise PeriodEmpty()
        for bound in await _bounds(conn, package, kind, agent, start, valid_to):
            check_price(amount, bound)
        before = await _supersede(conn, kind, package_id, agent.agent_id, start, valid_to, actor)
        version = (await (await conn.execute(_NEXT_VERSION, (
            kind, package_id, agent.agent_id))).fetchone() or (1,))[0]
        row = await (await conn.execute(_INSERT, (
            kind, package_id, agent.agent_id, version, amount, start, valid_to, actor.who,
            actor.role, idempotency_key))).fetchone()
        price = await get_price(conn, int(row[0]) if row else 0)
        gone: list[Invalidated] = []
        if kind == "cost":
            children = [r[0] for r in await (await conn.execute(
                _CHILDREN, (agent.agent_id,))).fetchall()]
            gone = await _cascade(conn, package_id, Bound.seller_cost(amount), agent.agent_id,
                                  children, start, valid_to, actor, f"price:{price.price_id}")
        await audit.record(conn, actor.transition(
            "price", price.entry, before, "active", "set", price_id=price.price_id,
            version=version, amount_fen=amount,
            invalidated=[[g.price.price_id, g.code] for g in gone]))
    return PriceSet(await get_price(conn, price.price_id),
                    [Invalidated(await get_price(conn, g.price.price_id), g.code) for g in gone])


async def delete_price(conn: Conn, price: Price, actor: Actor) -> Price:
    """Mark a version deleted (SM-G1-PRICE): no longer listed or sold; history kept."""
    if price.status == "deleted":
        return price
    if price.valid_to is not None and price.valid_to <= now():
        raise PriceEnded()
    async with conn.transaction():
        await conn.execute(_STATE, ("deleted", "deleted", price.price_id))
        await audit.record(conn, actor.transition("price", price.entry, price.status, "deleted",
                                                  "deleted", price_id=price.price_id))
    return await get_price(conn, price.price_id)


async def change_package(conn: Conn, package_id: str, changes: dict[str, Any], actor: Actor
                         ) -> tuple[PackageRow, list[Invalidated]]:
    """Change a package; a new purchase price re-checks the platform's cost prices for
    top-level agents from now on (G1-06, G1-12)."""
    async with conn.transaction():
        package = await get_package(conn, package_id, lock=True)
        changed = await update_package(conn, package, changes, actor)
        gone: list[Invalidated] = []
        if changed.purchase_price_fen != package.purchase_price_fen and (
                changed.purchase_price_fen is not None):
            tops = [r[0] for r in await (await conn.execute(_TOP_LEVEL)).fetchall()]
            gone = await _cascade(conn, package_id, Bound.purchase(changed.purchase_price_fen),
                                  None, tops, now(), None, actor,
                                  f"package:{package_id}:v{changed.version}")
    return changed, gone


async def list_prices(conn: Conn, scope: PriceScope, *, package_id: str | None = None,
                      agent_id: str | None = None, kind: PriceKind | None = None,
                      history: bool = False) -> list[Price]:
    """The prices in `scope` (G1-14), in force now or later unless `history`."""
    return await _prices(conn, _LIST, {
        "everything": scope.everything, "agent": scope.agent_id,
        "retail_only": scope.retail_only, "active_only": scope.active_only,
        "downstream": scope.downstream_costs, "package": package_id, "of_agent": agent_id,
        "kind": kind, "history": history})


_MOVED = """
SELECT DISTINCT package_id FROM prices
WHERE kind = 'cost' AND agent_id = %s AND status = 'active'
  AND (valid_to IS NULL OR valid_to > cp_now())
ORDER BY package_id
"""


async def move_agent(conn: Conn, agent_id: str, parent_id: str | None, actor: Actor
                     ) -> tuple[Agent, list[Invalidated]]:
    """Move an agent (G1-21) and re-check its cost prices in force against its new upstream:
    the new parent's cost, or the purchase price at the top level (G1-06/07/10, G1-12). The
    packages are locked first, in order, as `set_price` locks a package before an agent."""
    async with conn.transaction():
        packages = [r[0] for r in await (await conn.execute(_MOVED, (agent_id,))).fetchall()]
        for package_id in packages:
            await get_package(conn, package_id, lock=True)
        moved = await ag.move_agent(conn, agent_id, parent_id, actor)
        gone: list[Invalidated] = []
        for package_id in packages:
            gone += await _recheck(conn, await get_package(conn, package_id), moved, actor)
    return moved, gone


async def _recheck(conn: Conn, package: PackageRow, agent: Agent, actor: Actor
                   ) -> list[Invalidated]:
    start = now()
    bounds = ([Bound.purchase(package.purchase_price_fen or 0)] if agent.parent_id is None
              else [Bound.seller_cost(c.amount_fen) for c in await _overlapping(
                  conn, "cost", package.package_id, [agent.parent_id], start, None)])
    gone: list[Invalidated] = []
    for bound in bounds:
        gone += await _cascade(conn, package.package_id, bound, None, [agent.agent_id], start,
                               None, actor, f"move:{agent.agent_id}")
    return gone
