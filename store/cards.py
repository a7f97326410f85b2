"""Queries for cards: registration, configuration changes, manual stop/resume, activation of
cards registered as not opened, the card view.

Every change runs in one transaction that locks the card and re-runs the quota rules
(`store.quota.evaluate`), so a new package or pool takes effect at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import kwargs_row

from core.operators import CardStatus, NetworkStatus, Operator
from domain.control.plan import ControlState
from domain.quota import MANUAL, NOT_OPENED, DesiredChange
from store.controls import rearm_failed
from store.db import KEEP, Conn, Keep
from store.errors import AlreadyExists, Invalid, NotFound
from store.quota import NOTHING, Outcome, evaluate
from store.usage import MEMBERSHIP_LOCK


@dataclass(frozen=True)
class Control:
    """The reconciler's view of a card: what it drives toward and the last command."""

    target: CardStatus
    state: ControlState
    attempts: int
    last_command: str | None
    last_outcome: str | None
    last_error: str | None
    last_command_at: datetime | None
    pending_confirmation: bool = False
    operator_held: bool = False


@dataclass(frozen=True)
class CardView:
    """A card as the API shows it: configuration, current cycle and state."""

    iccid: str
    msisdn: str | None
    enterprise_id: str
    operator: Operator
    pool_id: str | None
    package_bytes: int | None
    cycle: str
    cycle_usage_bytes: int
    desired_status: CardStatus
    stop_reasons: list[str]
    network_status: NetworkStatus
    warn_percents: list[int]
    opened: bool = True
    package_count: int = 0
    control: Control | None = None


def _card_view(*, target: CardStatus | None, state: ControlState | None, attempts: int | None,
               last_command: str | None, last_outcome: str | None, last_error: str | None,
               last_command_at: datetime | None, in_flight: CardStatus | None,
               **card: Any) -> CardView:
    """A card view from a row of `_VIEW`: the control columns are NULL until the reconciler
    has acted on the card. A change the operator accepted is pending confirmation until a
    status read, an order query or the status feed confirms it."""
    control = None
    if target is not None and state is not None:
        pending = in_flight is not None
        held = state == "failed" and last_outcome == "operator_held"
        control = Control(target, state, attempts or 0, last_command, last_outcome, last_error,
                          last_command_at, pending, held)
    return CardView(**card, control=control)


_VIEW = """
SELECT c.iccid, c.msisdn, c.enterprise_id, c.operator, c.pool_id, c.package_bytes,
       to_char(cp_now() AT TIME ZONE e.timezone, 'YYYY-MM') AS cycle,
       coalesce(u.bytes, 0) AS cycle_usage_bytes,
       cp_desired_status(c.stop_reasons, p.exhausted) AS desired_status,
       cp_effective_reasons(c.stop_reasons, p.exhausted) AS stop_reasons,
       c.network_status, c.warn_percents, c.opened, c.package_count,
       k.target, k.state, k.attempts, k.last_command, k.last_outcome, k.last_error,
       k.last_command_at, k.in_flight
FROM cards c
JOIN enterprises e ON e.enterprise_id = c.enterprise_id
LEFT JOIN pools p ON p.pool_id = c.pool_id
LEFT JOIN card_control k ON k.iccid = c.iccid
LEFT JOIN card_cycle_usage u
       ON u.iccid = c.iccid AND u.cycle = cp_cycle(cp_now(), e.timezone)
WHERE c.iccid = %s
"""

# A card registered as not opened carries `not_opened` until it is activated.
_INSERT = """
INSERT INTO cards (iccid, enterprise_id, operator, package_bytes, pool_id, warn_percents,
                   kafka_partition, msisdn, opened, stop_reasons)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,
        CASE WHEN %s THEN '{}'::text[] ELSE ARRAY[%s]::text[] END)
"""

_MOVE_USAGE = """
INSERT INTO pool_cycle_usage AS t (pool_id, cycle, bytes)
SELECT %(pool)s, cp_cycle(cp_now(), e.timezone), %(sign)s * coalesce(u.bytes, 0)
FROM cards c JOIN enterprises e ON e.enterprise_id = c.enterprise_id
LEFT JOIN card_cycle_usage u ON u.iccid = c.iccid AND u.cycle = cp_cycle(cp_now(), e.timezone)
WHERE c.iccid = %(iccid)s
ON CONFLICT (pool_id, cycle) DO UPDATE SET bytes = t.bytes + excluded.bytes, updated_at = now()
"""

MSISDN_UNIQUE = "cards_operator_msisdn"
_LOCK_CARD = "SELECT enterprise_id, pool_id FROM cards WHERE iccid = %s FOR UPDATE"
_LOCK_POOL = "SELECT enterprise_id FROM pools WHERE pool_id = %s FOR SHARE"
_LOCK_POOLS = ("SELECT pool_id FROM pools WHERE pool_id = ANY(%s) AND enterprise_id = %s"
               " FOR SHARE")
_SET_POOL = "UPDATE cards SET pool_id = %s WHERE iccid = %s"
_SET_PACKAGE = "UPDATE cards SET package_bytes = %s WHERE iccid = %s"
_SET_WARN = "UPDATE cards SET warn_percents = %s WHERE iccid = %s"
_MEMBERSHIP_LOCK = "SELECT pg_advisory_xact_lock(%s)"
_ADD_MANUAL = """
UPDATE cards SET stop_reasons = array_append(stop_reasons, %(manual)s),
       desired_version = desired_version + 1, desired_at = now()
WHERE iccid = %(iccid)s AND NOT (%(manual)s = ANY(stop_reasons))
"""
_ACTIVATE = """
UPDATE cards SET stop_reasons = array_remove(stop_reasons, %(reason)s),
       desired_version = desired_version + 1, desired_at = now()
WHERE iccid = %(iccid)s AND %(reason)s = ANY(stop_reasons)
"""
_REMOVE_MANUAL = """
UPDATE cards SET stop_reasons = array_remove(stop_reasons, %(manual)s),
       desired_version = desired_version + 1, desired_at = now()
WHERE iccid = %(iccid)s AND %(manual)s = ANY(stop_reasons)
"""


async def get_card(conn: Conn, iccid: str) -> CardView:
    async with conn.cursor(row_factory=kwargs_row(_card_view)) as cur:
        await cur.execute(_VIEW, (iccid,))
        view = await cur.fetchone()
    if view is None:
        raise NotFound(f"card {iccid}")
    return view


async def _check_pool(conn: Conn, pool_id: str, enterprise_id: str) -> None:
    row = await (await conn.execute(_LOCK_POOL, (pool_id,))).fetchone()
    if row is None or row[0] != enterprise_id:
        raise Invalid("pool_id", f"unknown pool {pool_id!r} for enterprise {enterprise_id!r}")


@dataclass(frozen=True)
class NewCard:
    """One card to register, already validated by the caller."""

    iccid: str
    operator: Operator
    package_bytes: int | None
    pool_id: str | None
    warn_percents: list[int]
    partition: int
    msisdn: str | None = None
    opened: bool = True  # False: bought but not opened yet; opened by an activation


async def create_card(conn: Conn, enterprise_id: str, card: NewCard
                      ) -> tuple[CardView, Outcome]:
    async with conn.transaction():
        if card.pool_id is not None:
            await _check_pool(conn, card.pool_id, enterprise_id)
        try:
            await conn.execute(_INSERT, (card.iccid, enterprise_id, card.operator,
                                         card.package_bytes, card.pool_id, card.warn_percents,
                                         card.partition, card.msisdn, card.opened,
                                         card.opened, NOT_OPENED))
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == MSISDN_UNIQUE:
                raise AlreadyExists(f"{card.operator} number {card.msisdn}") from None
            raise AlreadyExists(f"card {card.iccid}") from None
        except psycopg.errors.ForeignKeyViolation:
            raise NotFound(f"enterprise {enterprise_id!r}") from None
        outcome = await evaluate(conn, iccids=[card.iccid], cause="card_created")
    return await get_card(conn, card.iccid), outcome


async def _move(conn: Conn, iccid: str, enterprise_id: str, old: str | None, new: str | None
                ) -> None:
    """Take the card's usage of this cycle out of its old pool and into its new one."""
    if new is not None:
        await _check_pool(conn, new, enterprise_id)
        await conn.execute(_MOVE_USAGE, {"pool": new, "sign": 1, "iccid": iccid})
    if old is not None:
        await conn.execute(_MOVE_USAGE, {"pool": old, "sign": -1, "iccid": iccid})
    await conn.execute(_SET_POOL, (new, iccid))


async def update_card(
    conn: Conn, iccid: str, *, package_bytes: int | None | Keep = KEEP,
    pool_id: str | None | Keep = KEEP, warn_percents: list[int] | Keep = KEEP,
) -> tuple[CardView, Outcome]:
    """Change a card's package, pool or warning thresholds; the rules re-run at once."""
    async with conn.transaction():
        if pool_id is not KEEP:
            # Wait for usage batches in flight, so none adds this card's usage to a pool after
            # its usage has moved; taken before any row lock, like the batches do.
            await conn.execute(_MEMBERSHIP_LOCK, (MEMBERSHIP_LOCK,))
        row = await (await conn.execute(_LOCK_CARD, (iccid,))).fetchone()
        if row is None:
            raise NotFound(f"card {iccid}")
        enterprise_id, old_pool = row
        pools = {old_pool} if old_pool else set()
        if not isinstance(pool_id, Keep) and pool_id != old_pool:
            await _move(conn, iccid, enterprise_id, old_pool, pool_id)
            pools |= {pool_id} if pool_id else set()
        if not isinstance(package_bytes, Keep):
            await conn.execute(_SET_PACKAGE, (package_bytes, iccid))
        if not isinstance(warn_percents, Keep):
            await conn.execute(_SET_WARN, (warn_percents, iccid))
        outcome = await evaluate(conn, iccids=[iccid], pool_ids=sorted(pools),
                                 cause="card_updated")
        view = await get_card(conn, iccid)
    return view, _with_card(outcome, view, "card_updated")


def _with_card(outcome: Outcome, view: CardView, cause: str) -> Outcome:
    """Make sure the card itself is in the changes (moving pools can flip pool_exhausted)."""
    if any(c.iccid == view.iccid for c in outcome.changes):
        return outcome
    change = DesiredChange(view.iccid, view.desired_status, view.stop_reasons, cause)
    return Outcome([*outcome.changes, change], outcome.alerts)


async def set_manual(conn: Conn, iccid: str, stopped: bool) -> tuple[CardView, Outcome]:
    """Add or remove only the `manual` reason."""
    async with conn.transaction():
        before = await get_card(conn, iccid)
        await conn.execute(_ADD_MANUAL if stopped else _REMOVE_MANUAL,
                           {"manual": MANUAL, "iccid": iccid})
        await rearm_failed(conn, [iccid])
        view = await get_card(conn, iccid)
    if view.stop_reasons == before.stop_reasons:
        return view, NOTHING
    cause = "manual_stop" if stopped else "manual_resume"
    return view, Outcome([DesiredChange(iccid, view.desired_status, view.stop_reasons, cause)],
                         [])


async def activate(conn: Conn, iccid: str) -> tuple[CardView, Outcome]:
    """Ask for a card registered as not opened to be opened: remove only `not_opened`; the
    reconciler opens the card once no other reason holds (until then it stays unopened).
    Idempotent: asking again changes nothing, but gives a failed activation a fresh set of
    attempts, as a manual stop or resume does."""
    async with conn.transaction():
        before = await get_card(conn, iccid)
        await conn.execute(_ACTIVATE, {"reason": NOT_OPENED, "iccid": iccid})
        await rearm_failed(conn, [iccid])
        view = await get_card(conn, iccid)
    if view.stop_reasons == before.stop_reasons:
        return view, NOTHING
    return view, Outcome([DesiredChange(iccid, view.desired_status, view.stop_reasons,
                                        "activate")], [])


_ACTIVATE_MANY = """
UPDATE cards SET stop_reasons = array_remove(stop_reasons, %(reason)s),
       desired_version = desired_version + 1, desired_at = now()
WHERE iccid = ANY(%(iccids)s) AND %(reason)s = ANY(stop_reasons)
"""


async def activate_many(conn: Conn, iccids: Sequence[str]) -> int:
    """`activate` for many cards in one statement (a bulk card order, I-63): `not_opened`
    removed, failed activations re-armed; the reconciler's scan of cards never opened picks
    them up. Returns how many cards changed."""
    async with conn.transaction():
        cur = await conn.execute(_ACTIVATE_MANY, {"reason": NOT_OPENED, "iccids": list(iccids)})
        await rearm_failed(conn, iccids)
    return cur.rowcount


async def card_opened(conn: Conn, iccid: str) -> bool:
    """Whether the operator network has the card opened: confirmed `active` at least once
    since it was registered as not opened (a card registered as opened is from the start).
    What a module that asked for an activation waits for."""
    row = await (await conn.execute("SELECT opened FROM cards WHERE iccid = %s",
                                    (iccid,))).fetchone()
    if row is None:
        raise NotFound(f"card {iccid}")
    return bool(row[0])


@dataclass(frozen=True)
class ImportResult:
    created: list[str]
    existing: list[str]
    outcome: Outcome


_IMPORT_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS card_import (
    iccid text, operator text, package_bytes bigint, pool_id text, warn_percents int[],
    kafka_partition int, msisdn text, opened boolean
) ON COMMIT DELETE ROWS
"""
_IMPORT_COPY = "COPY card_import FROM STDIN (FORMAT BINARY)"
_IMPORT = """
INSERT INTO cards (iccid, enterprise_id, operator, package_bytes, pool_id, warn_percents,
                   kafka_partition, msisdn, opened, stop_reasons)
SELECT iccid, %s, operator, package_bytes, pool_id, warn_percents, kafka_partition, msisdn,
       opened, CASE WHEN opened THEN '{}'::text[] ELSE ARRAY[%s]::text[] END
FROM card_import ORDER BY iccid
ON CONFLICT (iccid) DO NOTHING
RETURNING iccid
"""
_ENTERPRISE_EXISTS = "SELECT 1 FROM enterprises WHERE enterprise_id = %s"


async def import_cards(conn: Conn, enterprise_id: str, new: list[NewCard]) -> ImportResult:
    """Register many cards of one enterprise in one transaction (binary COPY, one insert).

    Cards already registered are left exactly as they are and reported as `existing`; every
    pool named must belong to the enterprise, or nothing is imported."""
    async with conn.transaction():
        found = await (await conn.execute(_ENTERPRISE_EXISTS, (enterprise_id,))).fetchone()
        if found is None:
            raise NotFound(f"enterprise {enterprise_id!r}")
        await _check_pools(conn, {c.pool_id for c in new if c.pool_id}, enterprise_id)
        cur = conn.cursor()
        await cur.execute(_IMPORT_STAGE)
        async with cur.copy(_IMPORT_COPY) as copy:
            copy.set_types(["text", "text", "int8", "text", "int4[]", "int4", "text", "bool"])
            for c in new:
                await copy.write_row((c.iccid, c.operator, c.package_bytes, c.pool_id,
                                      c.warn_percents, c.partition, c.msisdn, c.opened))
        try:
            await cur.execute(_IMPORT, (enterprise_id, NOT_OPENED))
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists("a number (msisdn) of the import is already another card's "
                                "of the same operator") from None
        created = sorted(str(row[0]) for row in await cur.fetchall())
        outcome = await evaluate(conn, iccids=created, cause="card_created")
    taken = set(created)
    return ImportResult(created, sorted(c.iccid for c in new if c.iccid not in taken), outcome)


async def _check_pools(conn: Conn, pool_ids: set[str], enterprise_id: str) -> None:
    if not pool_ids:
        return
    cur = await conn.execute(_LOCK_POOLS, (sorted(pool_ids), enterprise_id))
    unknown = pool_ids - {str(row[0]) for row in await cur.fetchall()}
    if unknown:
        raise Invalid("pool_id", f"unknown pool(s) {sorted(unknown)!r} for enterprise "
                                 f"{enterprise_id!r}")


# ---- many cards at once (fulfilment of a batch of package orders, issue 16) ----------------

_VIEWS = _VIEW.replace("WHERE c.iccid = %s", "WHERE c.iccid = ANY(%s)")
_LOCK_CARDS = """
SELECT iccid, package_bytes, pool_id FROM cards WHERE iccid = ANY(%s)
ORDER BY iccid COLLATE "C" FOR UPDATE
"""
_SET_PACKAGES = """
UPDATE cards c SET package_bytes = n.bytes
FROM unnest(%s::text[], %s::bigint[]) AS n (iccid, bytes) WHERE c.iccid = n.iccid
"""


async def lock_cards(conn: Conn, iccids: list[str]) -> dict[str, tuple[int | None, str | None]]:
    """Lock the cards (those registered) in ICCID order, to the end of the transaction; their
    package_bytes and pool."""
    rows = await (await conn.execute(_LOCK_CARDS, (iccids,))).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


async def get_cards(conn: Conn, iccids: list[str]) -> dict[str, CardView]:
    async with conn.cursor(row_factory=kwargs_row(_card_view)) as cur:
        await cur.execute(_VIEWS, (iccids,))
        return {view.iccid: view for view in await cur.fetchall()}


async def update_packages(conn: Conn, packages: dict[str, int | None],
                          ) -> tuple[dict[str, CardView], Outcome]:
    """`update_card(package_bytes=…)` for many cards in one go: the rules re-run once for all
    of them. Call with the cards locked (`lock_cards`)."""
    if not packages:
        return {}, NOTHING
    iccids = sorted(packages)
    async with conn.transaction():
        pools = await lock_cards(conn, iccids)
        await conn.execute(_SET_PACKAGES, (iccids, [packages[i] for i in iccids]))
        outcome = await evaluate(conn, iccids=iccids, cause="card_updated", pool_ids=sorted(
            {pool for _, pool in pools.values() if pool is not None}))
        views = await get_cards(conn, iccids)
    for view in views.values():
        outcome = _with_card(outcome, view, "card_updated")
    return views, outcome
