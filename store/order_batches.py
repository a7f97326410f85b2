"""A batch of package orders in one transaction (`POST /v1/orders/batch`, G2-03, G2-04, G2-21,
G2-24): each item with its own idempotency key and its own answer, the order or its refusal.

The fast path is Flow 2 (`agent_wallet`) for a card-managed package with no price risk, the
bench's and an agent's bulk case: after the items are checked (idempotency keys, price chains,
once per package), `domain.orders.batch.afford` decides on the agent's balance which items it
pays for, and the orders (`create_agent_wallet`, then `fulfilment_started`:
they are written in `fulfilling`, with both audit rows and both outbox events), their audit
rows, events and payment transfers are written with a handful of multi-row statements, and
one commit serves them all. The payments come last and lock the wallet once, for themselves
and the commit; if the balance was spent meanwhile (the ledger refuses), that agent's part is
rolled back to its savepoint and done again with the wallet locked first. An item that
cannot be afforded is refused (`insufficient_balance`) with nothing written for it; the others
go through.

Any other item (`online`, `wallet`, a product that is not card-managed, a price risk that
intercepts the order) goes through `store.package_orders.create_package_order` on its own,
in a savepoint of the same transaction: its refusal leaves the rest of the batch alone.

A repeated batch answers the same: every key already used returns its first order (another
request under it: `idempotency_conflict`); the keys are locked (sorted) as a single create
locks its own, so a batch and single creates with the same key queue instead of racing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.clock import now
from core.money import Fen
from domain.ledger import Balance, InsufficientFunds, agent_available
from domain.orders import machines as sm
from domain.orders import money
from domain.orders.batch import afford
from domain.orders.errors import IdempotencyConflict, NumberCardNotSold
from domain.pricing.chain import PriceChain
from domain.pricing.risk import price_risks
from domain.refusals import Refusal
from store import audit, ledger, outbox
from store.agents import Actor
from store.db import Conn
from store.orders import NewOrder, Order, announcement, request_hash
from store.package_orders import create_package_order, has_one_time_commission, snapshot
from store.price_chain import price_chain


@dataclass(frozen=True)
class BatchItem:
    """One package order of a batch; `new.idempotency_key` is required."""

    new: NewOrder
    package_id: str
    agent_id: str
    iccid: str
    method: str
    enterprise_id: str | None = None


Outcome = Order | Refusal

_LOCK_KEYS = """
SELECT count(pg_advisory_xact_lock(hashtextextended(k, 50)))
FROM (SELECT k FROM unnest(%s::text[]) AS k ORDER BY k COLLATE "C") AS keys
"""
_BY_KEYS = "SELECT * FROM orders WHERE created_by = %s AND idempotency_key = ANY(%s)"
_INSERT = """
INSERT INTO orders (order_id, kind, state, method, created_by, created_role, agent_id, iccid,
    enterprise_id, package_id, amount_fen, price_chain, idempotency_key, request_hash,
    paid_at, updated_at)
SELECT o, 'package', 'fulfilling', 'agent_wallet', %s, %s, %s, i, e, p, a, c, k, h, %s, %s
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::jsonb[],
            %s::text[], %s::text[]) AS items (o, i, e, p, a, c, k, h)
RETURNING *
"""


@dataclass
class _Fast:
    """A Flow-2 item on the fast path: where its answer goes, what it costs, its snapshot."""

    index: int
    item: BatchItem
    cost: Fen
    chain: dict[str, Any]


async def create_package_orders(conn: Conn, items: Sequence[BatchItem], topic: str,
                                ) -> list[Outcome]:
    """Every item's order (made now or first made under its key) or its refusal, in order.

    On a connection outside any transaction the batch is first tried in pipeline mode with the
    payments appended unread and sent with the COMMIT (`ledger.append_last`): the agent's
    wallet row is then held only while the server writes them and commits. If the database
    refuses (the balance was spent meanwhile …), all of it was rolled back and the batch runs
    again the careful way: the wallet locked by the payments, or first if it must be."""
    if conn.info.transaction_status == TransactionStatus.IDLE:
        try:
            async with conn.pipeline(), conn.transaction():
                return await _create_all(conn, items, topic, last=True)
        except psycopg.errors.IntegrityError:
            pass
    async with conn.transaction():
        return await _create_all(conn, items, topic, last=False)


async def _create_all(conn: Conn, items: Sequence[BatchItem], topic: str, *, last: bool,
                      ) -> list[Outcome]:
    answers: list[Outcome | None] = [None] * len(items)
    firsts = await _replays(conn, items)
    chains: dict[tuple[str, str], PriceChain | Refusal] = {}
    snapshots: dict[int, dict[str, Any]] = {}  # one per chain (by identity)
    fast: list[_Fast] = []
    one_time: dict[tuple[str, str], bool] = {}  # G2-11 per (package, agent)
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        key = item.new.idempotency_key or ""
        if key in seen or key in firsts:  # a repeat: answered below, from the first
            continue
        seen[key] = index
        chain = await _chain(conn, chains, item)
        if isinstance(chain, Refusal):
            answers[index] = chain
        elif _fast(item, chain, await _one_time(conn, one_time, item)):
            cost = chain.levels[-1].cost_price_fen
            taken = snapshots.setdefault(id(chain), snapshot(chain))
            fast.append(_Fast(index, item, cost, taken))
        else:
            answers[index] = await _alone(conn, item, topic)
    for outcome_index, outcome in await _pay_fast(conn, fast, topic, last):
        answers[outcome_index] = outcome
    made = {item.new.idempotency_key: answers[i] for i, item in enumerate(items)
            if answers[i] is not None}
    return [_answer(item, answers[i], firsts, made) for i, item in enumerate(items)]


async def _replays(conn: Conn, items: Sequence[BatchItem]) -> dict[str, Order]:
    """The orders first made under the batch's keys, after locking the keys (sorted)."""
    if not items:
        return {}
    who = items[0].new.actor.who
    keys = sorted({item.new.idempotency_key or "" for item in items})
    await conn.execute(_LOCK_KEYS, ([f"{who} {key}" for key in keys],))
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_BY_KEYS, (who, keys))
        return {str(order.idempotency_key): order for order in await cur.fetchall()}


def _answer(item: BatchItem, answer: Outcome | None, firsts: dict[str, Order],
            made: dict[str | None, Outcome | None]) -> Outcome:
    """An item's answer: its own, or (a key used before, or earlier in the batch) the first."""
    if answer is not None:
        return answer
    key = item.new.idempotency_key
    first = firsts.get(key or "") or made.get(key)
    if isinstance(first, Order):
        if first.request_hash != request_hash(item.new.request):
            return IdempotencyConflict()
        return first
    if first is None:
        raise RuntimeError(f"batch item {key!r} left without an answer")
    return first  # the refusal the first item under this key got


async def _chain(conn: Conn, chains: dict[tuple[str, str], PriceChain | Refusal],
                 item: BatchItem) -> PriceChain | Refusal:
    """The item's price chain (once per package and agent in a batch), or why it is refused."""
    key = (item.package_id, item.agent_id)
    if key not in chains:
        try:
            chain = await price_chain(conn, item.package_id, item.agent_id)
            if chain.business_line == "number_card" or not chain.levels:
                raise NumberCardNotSold()
            chains[key] = chain
        except Refusal as refusal:
            chains[key] = refusal
    return chains[key]


async def _one_time(conn: Conn, known: dict[tuple[str, str], bool], item: BatchItem) -> bool:
    key = (item.package_id, item.agent_id)
    if key not in known:
        known[key] = await has_one_time_commission(conn, item.package_id, item.agent_id)
    return known[key]


def _fast(item: BatchItem, chain: PriceChain, one_time: bool) -> bool:
    """Whether the item is a plain Flow-2 order the batch path writes in bulk (an order that
    may be a one-time commission package's first purchase goes the single way, G2-11)."""
    if item.method != money.FLOW_2 or not chain.card_managed:
        return False
    if one_time:
        return False
    return not price_risks(chain, chain.retail_price_fen)


async def _alone(conn: Conn, item: BatchItem, topic: str) -> Outcome:
    """An item through the single create, in its own savepoint."""
    try:
        order, _ = await create_package_order(
            conn, item.new, package_id=item.package_id, agent_id=item.agent_id,
            iccid=item.iccid, method=item.method, topic=topic,
            enterprise_id=item.enterprise_id)
    except Refusal as refusal:
        return refusal
    return order


async def _pay_fast(conn: Conn, fast: list[_Fast], topic: str, last: bool,
                    ) -> list[tuple[int, Outcome]]:
    """The fast items, per agent: one lock of its wallet, the affordable ones written in
    bulk, the others refused."""
    outcomes: list[tuple[int, Outcome]] = []
    by_agent: dict[str, list[_Fast]] = {}
    for one in fast:
        by_agent.setdefault(one.item.agent_id, []).append(one)
    for agent_id in sorted(by_agent):
        group = by_agent[agent_id]
        wallet = agent_available(agent_id)
        if last:  # decided on the balance as read; the database checks it at the commit
            outcomes += await _pay_group(conn, group, wallet,
                                         await ledger.balance(conn, wallet), topic, last)
            continue
        try:  # decided on the balance as read, the wallet locked by the payments, last
            async with conn.transaction():
                outcomes += await _pay_group(conn, group, wallet,
                                             await ledger.balance(conn, wallet), topic)
        except InsufficientFunds:  # spent meanwhile: again, the wallet locked first
            outcomes += await _pay_group(conn, group, wallet, await ledger.lock(conn, wallet),
                                         topic)
    return outcomes


async def _pay_group(conn: Conn, group: list[_Fast], wallet: str, balance: Balance,
                     topic: str, last: bool = False) -> list[tuple[int, Outcome]]:
    """The agent's items the balance affords, written and paid; the others refused."""
    outcomes: list[tuple[int, Outcome]] = []
    taken = afford(balance.available, [one.cost for one in group])
    left = int(balance.available)
    paid = []
    for one, ok in zip(group, taken, strict=True):
        if ok:
            paid.append(one)
            left -= one.cost
        else:
            outcomes.append((one.index, InsufficientFunds(wallet, Fen(left), one.cost)))
    if paid:
        orders = await _write(conn, paid, topic, last)
        outcomes.extend((one.index, orders[one.item.new.order_id]) for one in paid)
    return outcomes


async def _write(conn: Conn, paid: list[_Fast], topic: str, last: bool) -> dict[str, Order]:
    """The paid items' orders in `fulfilling`, their audit rows and events, their payments."""
    first = paid[0].item
    actor: Actor = first.new.actor
    sm.step("package", sm.NEW, "create_agent_wallet", "agent")
    sm.step("package", "paid", "fulfilment_started", "system")
    at = now()
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_INSERT, (
            actor.who, actor.role, first.agent_id, at, at,
            [one.item.new.order_id for one in paid], [one.item.iccid for one in paid],
            [one.item.enterprise_id for one in paid], [one.item.package_id for one in paid],
            [one.cost for one in paid], [Jsonb(one.chain) for one in paid],
            [one.item.new.idempotency_key for one in paid],
            [request_hash(one.item.new.request) for one in paid]))
        orders = {order.order_id: order for order in await cur.fetchall()}
    rows, events = [], []
    for order in orders.values():
        for said in (announcement(replace(order, state="paid"), None, actor, topic,
                                  order.created_at),
                     announcement(order, "paid", actor, topic, at)):
            rows.append(said[0])
            events.append(said[1])
    async with conn.pipeline():
        await audit.record(conn, *rows)
        await outbox.enqueue(conn, *events)
    moves = [money.payment_transfer(one.item.new.order_id, agent_available(one.item.agent_id),
                                    one.cost, money.FLOW_2) for one in paid]
    if last:
        await ledger.append_last(conn, *moves)
    else:
        await ledger.transfer(conn, *moves)
    return orders
